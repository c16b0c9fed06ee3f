// SPDX-License-Identifier: Apache-2.0
// Nothing lost after a failover, on real servers: a `block` stream between two processes whose
// node is killed (SIGKILL) or hung (SIGSTOP) mid-stream arrives exactly once, each loss
// repaired by a resend, each duplicate dropped, and the counters add up:
//   sender:   published = distinct records sent + resent
//   receiver: received  = delivered + duplicates
//   nothing counted lost (unacknowledged, sequence_gaps, undeliverable, nats_dropped: 0).
// Order: only a resent record may arrive after a later one (docs/architecture.md, "Failover").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_client.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

content num(int i) { return nlohmann::json(i); }
int num_of(const message& m) { return m.content.get<int>().value_or(-1); }

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

nats_config resend_config(const std::string& url, const std::string& ns) {
  auto cfg = nats_test_config(url, ns);
  cfg.presence_interval = 500ms;  // a failover must not look like a death
  cfg.flow_window = 256;
  return cfg;
}

// Echoes every request of `module` until the context goes.
std::thread echo(context& ctx, std::string module) {
  return std::thread([&ctx, module] {
    for (;;) {
      auto req = ctx.receive(module);
      if (!req) return;
      (void)ctx.send_resp(new_resp_by_message(*req, std::string("pong")));
    }
  });
}

enum class fault { kill_sender_node, hang_sender_node, kill_receiver_node };

struct outcome {
  double first_ok_ms = -1;
  std::uint64_t sent = 0, resent = 0, duplicates = 0, lost = 0, inversions = 0;
};

// Sender `a` (node 0) streams `count` records under `block` to `sink` on receiver `b` (node 2,
// or node 0 for kill_receiver_node, with the sender on node 2); a third process `caller`,
// on the faulty node too, times the first successful call after the fault to `echo` on node 1.
outcome stream_through(fault f, const std::string& ns) {
  auto servers = nats_servers::cluster(3);
  const bool receiver_side = f == fault::kill_receiver_node;
  const std::size_t node_a = receiver_side ? 2 : 0;
  const std::size_t node_b = receiver_side ? 0 : 2;
  nats_process a(resend_config(servers.url(node_a), ns));
  nats_process b(resend_config(servers.url(node_b), ns));
  nats_process c(resend_config(servers.url(1), ns));
  nats_process caller(resend_config(servers.url(0), ns));
  EXPECT_TRUE(b.add("sink", {.capacity = 1024, .overflow = overflow_policy::block}));
  EXPECT_TRUE(c.add("echo"));
  auto echo_thread = echo(*c.ctx, "echo");
  EXPECT_TRUE(a.nats->wait_peer("sink", watchdog));
  EXPECT_TRUE(caller.nats->wait_peer("echo", watchdog));
  EXPECT_TRUE(caller.ctx->send_sync("echo", new_message(), 5s));

  constexpr int count = 20000;
  std::vector<int> got;
  got.reserve(count);
  std::atomic<int> received{0};
  std::atomic<bool> stop_receiving{false};
  std::thread receiver([&] {
    while (!stop_receiving) {
      auto m = b.ctx->receive_for("sink", 200ms);
      if (!m) continue;
      got.push_back(num_of(*m));
      received.fetch_add(1);
    }
  });
  auto sent = std::async(std::launch::async, [&] {
    int ok = 0;
    for (int i = 0; i < count; ++i) {
      if (a.ctx->send("sink", new_message().fill_body(num(i)))) ++ok;
    }
    return ok;
  });
  outcome o;
  EXPECT_TRUE(eventually([&] { return received.load() >= 2000; }));
  const auto faulted = clock_type::now();
  if (f == fault::hang_sender_node) {
    servers.hang(0);
  } else {
    servers.kill(0);
  }
  while (ms_since(faulted) < 20000) {
    auto r = caller.ctx->send_sync("echo", new_message(), 500ms);
    if (r) {
      o.first_ok_ms = ms_since(faulted);
      break;
    }
  }
  EXPECT_GE(o.first_ok_ms, 0) << "no call succeeded after the failover";
  o.sent = static_cast<std::uint64_t>(get_bounded(sent));
  // Every record sent arrives (each receive bounded; the whole by the watchdog).
  EXPECT_TRUE(eventually([&] { return received.load() >= static_cast<int>(o.sent); }))
      << received.load() << " of " << o.sent;
  // What comes after would be a duplicate delivered twice: the receiver keeps reading until
  // the counters are settled.
  EXPECT_TRUE(eventually([&] {
    const auto s = b.nats->stats();
    return s.received == s.delivered + s.duplicates + s.undeliverable + s.malformed;
  }));
  EXPECT_TRUE(eventually([&] {
    const auto s = a.nats->stats();
    return s.published == o.sent + s.resent;
  }));
  stop_receiving = true;
  receiver.join();
  if (f == fault::hang_sender_node) servers.resume(0);

  const auto sa = a.nats->stats();
  const auto sb = b.nats->stats();
  o.resent = sa.resent;
  o.duplicates = sb.duplicates;
  o.lost = sa.unacknowledged + sb.sequence_gaps + sb.undeliverable + sb.nats_dropped;
  // Exactly once.
  std::vector<int> times(count, 0);
  int max_seen = -1;
  for (const int v : got) {
    EXPECT_TRUE(v >= 0 && v < count) << v;
    if (v < 0 || v >= count) continue;
    ++times[static_cast<std::size_t>(v)];
    if (v < max_seen) ++o.inversions;
    max_seen = std::max(max_seen, v);
  }
  EXPECT_EQ(got.size(), o.sent);
  for (int i = 0; i < count && static_cast<std::uint64_t>(i) < o.sent; ++i) {
    EXPECT_EQ(times[static_cast<std::size_t>(i)], 1) << "record " << i;
  }
  // The counters add up.
  EXPECT_EQ(sa.published, o.sent + sa.resent);
  EXPECT_EQ(sb.received, sb.delivered + sb.duplicates);
  EXPECT_EQ(sb.delivered, o.sent);
  EXPECT_EQ(o.lost, 0U);
  EXPECT_GE(sa.reconnects + sb.reconnects, 1U);
  // Something was resent (at least the tail a receiver had not acknowledged yet), and only a
  // resent record can come after a later one.
  EXPECT_GE(o.resent, 1U);
  EXPECT_LE(o.inversions, o.resent);
  std::printf(
      "failover (%s): first successful call %.1f ms after the fault; %llu sent, %llu resent, "
      "%llu duplicates dropped, %llu out of order, %llu lost\n",
      f == fault::kill_sender_node   ? "SIGKILL of the sender's node"
      : f == fault::hang_sender_node ? "SIGSTOP of the sender's node"
                                     : "SIGKILL of the receiver's node",
      o.first_ok_ms, static_cast<unsigned long long>(o.sent),
      static_cast<unsigned long long>(o.resent), static_cast<unsigned long long>(o.duplicates),
      static_cast<unsigned long long>(o.inversions), static_cast<unsigned long long>(o.lost));
  c.ctx->cancel();
  (void)c.ctx->cleanup("echo");
  echo_thread.join();
  return o;
}

TEST(NatsResend, KillOfTheSendersNodeUnderBlockLosesNothing) {
  (void)stream_through(fault::kill_sender_node, "rs1");
}

TEST(NatsResend, HangOfTheSendersNodeUnderBlockLosesNothing) {
  (void)stream_through(fault::hang_sender_node, "rs2");
}

TEST(NatsResend, KillOfTheReceiversNodeUnderBlockLosesNothing) {
  (void)stream_through(fault::kill_receiver_node, "rs3");
}

// A record replayed on the wire (the same subject and bytes: what nats.c's reconnect buffer
// and a resend produce) is delivered once; the duplicate is counted and granted back.
TEST(NatsResend, AReplayedRecordIsDroppedAsADuplicate) {
  auto servers = nats_servers::single();
  auto cfg = resend_config(servers.url(0), "rs4");
  cfg.presence_interval = 5s;  // no probe (a resend of the newest record) within the test
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.add("sink", {.capacity = 64, .overflow = overflow_policy::block}));
  ASSERT_TRUE(a.nats->wait_peer("sink", watchdog));
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
  struct record {
    std::string subject, reply, data;
  };
  std::vector<record> wire;
  for (int i = 0; i < 5; ++i) {
    natsMsg* m = nullptr;
    ASSERT_EQ(natsSubscription_NextMsg(&m, sub, 20000), NATS_OK);
    const char* reply = natsMsg_GetReply(m);
    wire.push_back(
        {natsMsg_GetSubject(m), reply != nullptr ? reply : "",
         std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)))});
    natsMsg_Destroy(m);
  }
  natsSubscription_Destroy(sub);
  for (int i = 0; i < 5; ++i) {
    auto m = b.ctx->receive_for("sink", watchdog);
    ASSERT_TRUE(m);
    EXPECT_EQ(num_of(*m), i);
  }
  // Numbered: `<stream>-<seq>` as the reply subject, seq 1..5; the subject names the sender.
  EXPECT_EQ(wire[2].subject, "rs4.m.sink." + a.nats->process_id());
  EXPECT_EQ(wire[2].reply.substr(wire[2].reply.find('-')), "-3") << wire[2].reply;
  // Replay records 3 and 1, then a sends one more.
  for (const std::size_t i : {std::size_t{2}, std::size_t{0}}) {
    ASSERT_EQ(
        natsConnection_PublishRequest(tap->get(), wire[i].subject.c_str(), wire[i].reply.c_str(),
                                      wire[i].data.data(), static_cast<int>(wire[i].data.size())),
        NATS_OK);
  }
  ASSERT_EQ(natsConnection_Flush(tap->get()), NATS_OK);
  ASSERT_TRUE(eventually([&] { return b.nats->stats().duplicates == 2; }));
  ASSERT_TRUE(a.ctx->send("sink", new_message().fill_body(num(5))));
  auto m = b.ctx->receive_for("sink", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(num_of(*m), 5);  // not a replayed 2 or 0
  // `delivered` is counted right after the inbox took the record: the receiver may be first.
  ASSERT_TRUE(eventually([&] { return b.nats->stats().delivered == 6; }));
  const auto sb = b.nats->stats();
  EXPECT_EQ(sb.received, 8U);
  EXPECT_EQ(sb.delivered, 6U);
  EXPECT_EQ(sb.duplicates, 2U);
  EXPECT_EQ(b.ctx->stats("sink")->queued, 0U);
  // The same bytes without a number are not checked: a foreign publisher's record is delivered.
  ASSERT_EQ(natsConnection_Publish(tap->get(), wire[0].subject.c_str(), wire[0].data.data(),
                                   static_cast<int>(wire[0].data.size())),
            NATS_OK);
  ASSERT_EQ(natsConnection_Flush(tap->get()), NATS_OK);
  m = b.ctx->receive_for("sink", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(num_of(*m), 0);
}

// The receiver's process goes away mid-stream: what the sender kept unacknowledged is counted
// (an upper bound of what was lost: some of it arrived), so that sent <= delivered + counted.
TEST(NatsResend, AReceiverThatGoesAwayLeavesEveryUnacknowledgedRecordCounted) {
  auto servers = nats_servers::single();
  auto cfg = resend_config(servers.url(0), "rs5");
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
TEST(NatsResend, RecordsNatsDroppedForASlowSubscriptionAreResent) {
  auto servers = nats_servers::single();
  auto cfg = nats_test_config(servers.url(0), "rs6");
  cfg.flow_window = 256;
  nats_process a(cfg);
  cfg.max_pending = 16;
  nats_process b(cfg);
  ASSERT_TRUE(b.add("slow", {.capacity = 8, .overflow = overflow_policy::block}));
  ASSERT_TRUE(a.nats->wait_peer("slow", watchdog));
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
TEST(NatsResend, AKeptMessageWhoseDestructorSendsAgainIsLetGoOutsideTheLock) {
  std::atomic<bool> live{true};
  std::atomic<int> echoes{0};
  auto servers = nats_servers::single();
  auto cfg = nats_test_config(servers.url(0), "rs7");
  cfg.flow_window = 16;
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.add("sink", {.capacity = 4096, .overflow = overflow_policy::block}));
  ASSERT_TRUE(a.nats->wait_peer("sink", watchdog));
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
