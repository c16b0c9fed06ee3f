// SPDX-License-Identifier: Apache-2.0
// Numbered records on one server, without a failover (the failovers: nats_resend_test.cpp):
// a record replayed on the wire is dropped as a duplicate; a receiver that goes away leaves
// what was unacknowledged counted; records NATS drops for a slow subscription are resent; a
// kept message is let go outside the sender's lock (its content's destructor may send again).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "nats/nats_batch.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_client.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;
using detail::nats_batch;

// A record replayed on the wire (the same subject and bytes: what nats.c's reconnect buffer
// and a resend produce) is delivered once; the duplicate is counted and granted back.
TEST(NatsNumbering, AReplayedRecordIsDroppedAsADuplicate) {
  auto servers = nats_servers::single();
  auto cfg = failover_test_config(servers.url(0), "rs4");
  cfg.presence_interval = 5s;  // no probe (a resend of the newest record) within the test
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "sink", {.capacity = 64, .overflow = overflow_policy::block}));
  // A raw client records what a publishes, to replay it.
  nats_client_options o;
  o.urls = servers.url(0);
  auto tap = nats_client::connect(o);
  ASSERT_TRUE(tap);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, tap->get(), "rs4.m.sink.*"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(tap->get()), NATS_OK);
  ASSERT_TRUE(servers.wait_interest(0, "rs4.m.sink.x"));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.ctx->send("sink", new_message().fill_body(num(i))));
  // What went on the wire: one record per NATS message, or batches (nats_batch), whichever the
  // sender's timing made; 5 records in all.
  struct record {
    std::string subject, reply, data;
    std::size_t records = 0;
  };
  std::vector<record> wire;
  std::size_t seen = 0;
  while (seen < 5) {
    natsMsg* m = nullptr;
    ASSERT_EQ(natsSubscription_NextMsg(&m, sub, 20000), NATS_OK) << seen << " records seen";
    const char* reply = natsMsg_GetReply(m);
    record r{natsMsg_GetSubject(m), reply != nullptr ? reply : "",
             std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)))};
    r.records = 1;
    if (nats_batch::is_batch(r.data)) {
      r.records = 0;
      ASSERT_TRUE(nats_batch::for_each(r.data, [&](std::string_view) { ++r.records; }));
    }
    seen += r.records;
    wire.push_back(std::move(r));
    natsMsg_Destroy(m);
  }
  natsSubscription_Destroy(sub);
  ASSERT_EQ(seen, 5U);
  for (int i = 0; i < 5; ++i) {
    auto m = b.ctx->receive_for("sink", watchdog);
    ASSERT_TRUE(m);
    EXPECT_EQ(num_of(*m), i);
  }
  // Numbered: `<stream>-<seq>` as the reply subject (a batch: its first record's), from 1 on;
  // the subject names the sender.
  EXPECT_EQ(wire[0].subject, "rs4.m.sink." + a.nats->process_id());
  EXPECT_EQ(wire[0].reply.substr(wire[0].reply.find('-')), "-1") << wire[0].reply;
  std::uint64_t next = 1;
  for (const auto& r : wire) {
    EXPECT_EQ(r.reply.substr(r.reply.find('-') + 1), std::to_string(next)) << r.reply;
    next += r.records;
  }
  // Replay all of it, the last message first, then a sends one more.
  for (auto it = wire.rbegin(); it != wire.rend(); ++it) {
    ASSERT_EQ(natsConnection_PublishRequest(tap->get(), it->subject.c_str(), it->reply.c_str(),
                                            it->data.data(), static_cast<int>(it->data.size())),
              NATS_OK);
  }
  ASSERT_EQ(natsConnection_Flush(tap->get()), NATS_OK);
  ASSERT_TRUE(eventually([&] { return b.nats->stats().duplicates == 5; }));
  ASSERT_TRUE(a.ctx->send("sink", new_message().fill_body(num(5))));
  auto m = b.ctx->receive_for("sink", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(num_of(*m), 5);  // not a replayed one
  // `delivered` is counted right after the inbox took the record: the receiver may be first.
  ASSERT_TRUE(eventually([&] { return b.nats->stats().delivered == 6; }));
  const auto sb = b.nats->stats();
  EXPECT_EQ(sb.received, 11U);
  EXPECT_EQ(sb.delivered, 6U);
  EXPECT_EQ(sb.duplicates, 5U);
  EXPECT_EQ(b.ctx->stats("sink")->queued, 0U);
  // The same bytes without a number are not checked: a foreign publisher's record is delivered.
  std::string first = wire[0].data;
  if (wire[0].records > 1) {
    first.clear();
    ASSERT_TRUE(nats_batch::for_each(wire[0].data, [&](std::string_view r) {
      if (first.empty()) first = std::string(r);
    }));
  }
  ASSERT_EQ(natsConnection_Publish(tap->get(), wire[0].subject.c_str(), first.data(),
                                   static_cast<int>(first.size())),
            NATS_OK);
  ASSERT_EQ(natsConnection_Flush(tap->get()), NATS_OK);
  m = b.ctx->receive_for("sink", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(num_of(*m), 0);
  // A batch without a number, and one whose framing breaks after its first record: the first
  // is refused whole, the second delivers what came before the break; both counted malformed.
  nats_batch batch;
  batch.append(std::string(first), 1);
  batch.append(std::string(first), 2);
  const std::string framed(batch.payload());
  const auto malformed = b.nats->stats().malformed;
  ASSERT_EQ(natsConnection_Publish(tap->get(), wire[0].subject.c_str(), framed.data(),
                                   static_cast<int>(framed.size())),
            NATS_OK);
  const std::string broken = framed.substr(0, framed.size() - 3);
  ASSERT_EQ(natsConnection_PublishRequest(tap->get(), wire[0].subject.c_str(), "777-1",
                                          broken.data(), static_cast<int>(broken.size())),
            NATS_OK);
  ASSERT_EQ(natsConnection_Flush(tap->get()), NATS_OK);
  ASSERT_TRUE(eventually([&] { return b.nats->stats().malformed == malformed + 2; }));
  m = b.ctx->receive_for("sink", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(num_of(*m), 0) << "the broken batch's first record";
  EXPECT_EQ(b.ctx->stats("sink")->queued, 0U);
}

// The receiver's process goes away mid-stream: what the sender kept unacknowledged is counted
// (an upper bound of what was lost: some of it arrived), so that sent <= delivered + counted.
TEST(NatsNumbering, AReceiverThatGoesAwayLeavesEveryUnacknowledgedRecordCounted) {
  auto servers = nats_servers::single();
  auto cfg = failover_test_config(servers.url(0), "rs5");
  // The sender's probe (once per presence interval with no acknowledgement) would get the
  // whole stream acknowledged: a long interval keeps it out of the test's way (the leave is a
  // clean one, heard at once through the bye).
  cfg.presence_interval = 5s;
  nats_process a(cfg);
  auto b = std::make_unique<nats_process>(cfg);
  ASSERT_TRUE(b->add("sink", {.capacity = 128, .overflow = overflow_policy::block}));
  ASSERT_TRUE(a.nats->wait_peer("sink", watchdog));
  constexpr int count = 100;
  for (int i = 0; i < count; ++i) ASSERT_TRUE(a.ctx->send("sink", new_message().fill_body(num(i))));
  // The receiver takes it all into its inbox and goes before its module reads anything (a
  // clean leave: its bye); none of it was acknowledged.
  ASSERT_TRUE(eventually([&] { return b->nats->stats().delivered == count; }));
  const auto sb = b->nats->stats();
  const std::uint64_t in_inbox = b->ctx->stats("sink")->queued;
  b.reset();
  ASSERT_TRUE(a.nats->wait_peer_gone("sink", watchdog));
  const auto sa = a.nats->stats();
  // Nothing was acknowledged (fewer than half a window): all of it is counted. Unless the
  // machine was slow enough for a probe to go out (resent): then all of it was acknowledged.
  if (sa.resent == 0) {
    EXPECT_EQ(sa.unacknowledged, static_cast<std::uint64_t>(count));
  } else {
    EXPECT_EQ(sa.unacknowledged, 0U);
  }
  EXPECT_LE(static_cast<std::uint64_t>(count), sb.delivered + sb.undeliverable + sa.unacknowledged);
  EXPECT_EQ(in_inbox, static_cast<std::uint64_t>(count));
  EXPECT_EQ(a.ctx->send("sink", new_message()).error(), errc::not_connected);
}

// NATS drops for a slow subscription (max_pending far below the window): records lost without
// any failover. The receiver reports the gaps it sees; what was lost at the end of a burst (no
// gap visible) is found by the sender's probe (one record sent again when it has waited an
// interval with no acknowledgement). Nothing lost, each drop repaired.
TEST(NatsNumbering, RecordsNatsDroppedForASlowSubscriptionAreResent) {
  auto servers = nats_servers::single();
  auto cfg = nats_test_config(servers.url(0), "rs6");
  cfg.flow_window = 256;
  nats_process a(cfg);
  cfg.max_pending = 16;
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "slow", {.capacity = 8, .overflow = overflow_policy::block}));
  constexpr int count = 600;
  auto sent = std::async(std::launch::async, [&] {
    int ok = 0;
    for (int i = 0; i < count; ++i)
      ok += a.ctx->send("slow", new_message().fill_body(num(i))) ? 1 : 0;
    return ok;
  });
  // NATS drops before the consumer reads anything.
  ASSERT_TRUE(eventually([&] { return b.nats->stats().nats_dropped > 0; }));
  std::vector<int> times(count, 0);
  for (int i = 0; i < count; ++i) {
    auto m = b.ctx->receive_for("slow", watchdog);
    ASSERT_TRUE(m) << "after " << i << " records";
    const int v = num_of(*m);
    ASSERT_TRUE(v >= 0 && v < count) << v;
    ASSERT_EQ(++times[static_cast<std::size_t>(v)], 1) << "record " << v << " twice";
  }
  EXPECT_EQ(get_bounded(sent), count);
  ASSERT_TRUE(eventually([&] {
    const auto s = b.nats->stats();
    return s.received == s.delivered + s.duplicates;
  }));
  // A resend may still be under way (its records counted one by one): published settles.
  EXPECT_TRUE(eventually([&] {
    const auto s = a.nats->stats();
    return s.published == static_cast<std::uint64_t>(count) + s.resent;
  }));
  const auto sa = a.nats->stats();
  const auto sb = b.nats->stats();
  EXPECT_EQ(sb.delivered, static_cast<std::uint64_t>(count));
  EXPECT_GT(sb.nats_dropped, 0U);
  EXPECT_GT(sa.resent, 0U);
  EXPECT_EQ(sa.published, static_cast<std::uint64_t>(count) + sa.resent);
  EXPECT_EQ(sa.unacknowledged + sb.sequence_gaps + sb.undeliverable, 0U);
  std::printf("NATS dropped %llu for the slow subscription; %llu resent, %llu duplicates\n",
              static_cast<unsigned long long>(sb.nats_dropped),
              static_cast<unsigned long long>(sa.resent),
              static_cast<unsigned long long>(sb.duplicates));
}

// A content whose destructor sends to a module again: user code that calls back into the
// library. Only the last holder sends (a moved-from one is disarmed), and only while `live`.
struct sends_on_destroy {
  int n;
  context* ctx;
  std::atomic<int>* sent;
  const std::atomic<bool>* live;
  sends_on_destroy(int v, context* c, std::atomic<int>* s, const std::atomic<bool>* l)
      : n(v), ctx(c), sent(s), live(l) {}
  sends_on_destroy(sends_on_destroy&& o) noexcept
      : n(o.n), ctx(std::exchange(o.ctx, nullptr)), sent(o.sent), live(o.live) {}
  sends_on_destroy(const sends_on_destroy&) = delete;
  sends_on_destroy& operator=(const sends_on_destroy&) = delete;
  sends_on_destroy& operator=(sends_on_destroy&&) = delete;
  ~sends_on_destroy() {
    if (ctx == nullptr || !live->load()) return;
    if (ctx->send("sink", new_message().fill_body(num(-1)))) sent->fetch_add(1);
  }
};
void to_json(nlohmann::json& j, const sends_on_destroy& v) { j = v.n; }

// The sender keeps each numbered record until it is acknowledged, and an acknowledged one
// until its slot is reused: the message it lets go then must be destroyed outside the peer's
// lock, because a content's destructor may send to the same module (which takes that lock: a
// self-deadlock, and the sender would hang). A small window makes the 64-slot ring reuse its
// slots within the first hundred records.
TEST(NatsNumbering, AKeptMessageWhoseDestructorSendsAgainIsLetGoOutsideTheLock) {
  std::atomic<bool> live{true};
  std::atomic<int> echoes{0};
  auto servers = nats_servers::single();
  auto cfg = nats_test_config(servers.url(0), "rs7");
  cfg.flow_window = 16;
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "sink", {.capacity = 4096, .overflow = overflow_policy::block}));
  constexpr int count = 300;
  auto sender = std::async(std::launch::async, [&] {
    int ok = 0;
    for (int i = 0; i < count; ++i) {
      message m = new_message();
      m.content = content::from_object(sends_on_destroy(i, a.ctx.get(), &echoes, &live));
      ok += a.ctx->send("sink", std::move(m)) ? 1 : 0;
    }
    return ok;
  });
  // The receiver reads as the sender sends (its credits come back as it reads), until the
  // sender is done: every record once, and one echo per destructor that ran.
  std::vector<int> times(count, 0);
  int got_echoes = 0;
  int got_records = 0;
  const auto take = [&](message& m) {
    const int v = num_of(m);
    if (v == -1) {
      ++got_echoes;
      return;
    }
    ASSERT_TRUE(v >= 0 && v < count) << v;
    ASSERT_EQ(++times[static_cast<std::size_t>(v)], 1) << "record " << v << " twice";
    ++got_records;
  };
  while (sender.wait_for(0s) != std::future_status::ready) {
    if (auto m = b.ctx->receive_for("sink", 10ms)) take(*m);
  }
  EXPECT_EQ(sender.get(), count);
  const int sent_echoes = echoes.load();
  // Most records were let go by a reused slot, on the sending thread, after the lock.
  EXPECT_GE(sent_echoes, count / 2);
  while (got_records + got_echoes < count + sent_echoes) {
    auto m = b.ctx->receive_for("sink", watchdog);
    ASSERT_TRUE(m) << got_records << " records, " << got_echoes << " echoes";
    take(*m);
  }
  EXPECT_EQ(got_records, count);
  EXPECT_EQ(got_echoes, sent_echoes);
  live = false;  // what is still kept goes with the contexts, without sending
}

}  // namespace
}  // namespace beehive::test
