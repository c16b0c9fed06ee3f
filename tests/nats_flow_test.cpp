// SPDX-License-Identifier: Apache-2.0
// Flow control across processes: a slow consumer under `block` loses nothing (credits), under
// `drop_oldest` every drop is counted; across a 3-node cluster too. Large records are bounded
// by their bytes (`flow.window_bytes`), whatever the record window.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "beehive/beehive.hpp"
#include "beehive/codec.hpp"
#include "beehive/nats.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;

// Joins a sending thread when the test ends. On a failed assertion the sender may wait for
// credits that never come: the cancel wakes it, so that the test fails instead of aborting (an
// unjoined thread) or hanging.
struct join_on_exit {
  std::thread& t;
  context& ctx;
  ~join_on_exit() {
    if (!t.joinable()) return;
    ctx.cancel();
    t.join();
  }
};

// The publisher is far faster than the consumer, which does not read at all until the
// publisher has had to wait for credits: without flow control NATS would drop for the slow
// subscription (or the inbox would), silently.
void slow_consumer_under_block(const std::string& url_a, const std::string& url_b,
                               const std::string& ns, int count) {
  auto cfg_a = nats_test_config(url_a, ns);
  auto cfg_b = nats_test_config(url_b, ns);
  cfg_a.flow_window = 64;
  cfg_b.flow_window = 64;
  nats_process a(cfg_a);
  nats_process b(cfg_b);
  ASSERT_TRUE(b.host_for(a, "slow", {.capacity = 16, .overflow = overflow_policy::block}));
  std::thread sender([&] {
    for (int i = 0; i < count; ++i) {
      auto r = a.ctx->send("slow", new_message().fill_body(num(i)));
      ASSERT_TRUE(r) << i << ": " << r.error().message();
    }
  });
  const join_on_exit joined{sender, *a.ctx};
  // The sender runs out of credits before the consumer reads anything.
  ASSERT_TRUE(eventually([&] { return a.nats->stats().credit_waits > 0; }));
  for (int i = 0; i < count; ++i) {
    auto m = b.ctx->receive_for("slow", watchdog);
    ASSERT_TRUE(m) << i;
    ASSERT_EQ(num_of(*m), i);
  }
  sender.join();
  // `delivered` is counted right after the inbox takes a record: the receiver may be first.
  ASSERT_TRUE(
      eventually([&] { return b.nats->stats().delivered == static_cast<std::uint64_t>(count); }));
  const auto sa = a.nats->stats();
  const auto sb = b.nats->stats();
  EXPECT_EQ(sa.published, static_cast<std::uint64_t>(count));
  EXPECT_EQ(sb.delivered, static_cast<std::uint64_t>(count));
  EXPECT_EQ(sb.undeliverable, 0U);
  EXPECT_EQ(sb.nats_dropped, 0U);
  EXPECT_EQ(sb.slow_consumer_events, 0U);
  EXPECT_EQ(b.ctx->stats("slow")->dropped_oldest, 0U);
  EXPECT_EQ(b.ctx->stats("slow")->rejected_full, 0U);
}

TEST(NatsFlow, SlowConsumerUnderBlockLosesNothing) {
  auto servers = nats_servers::single();
  slow_consumer_under_block(servers.url(0), servers.url(0), "flow1", 5000);
}

TEST(NatsFlow, SlowConsumerAcrossAClusterLosesNothing) {
  auto servers = nats_servers::cluster(3);
  slow_consumer_under_block(servers.url(0), servers.url(2), "flow2", 5000);
}

TEST(NatsFlow, DropOldestCountsEveryDrop) {
  auto servers = nats_servers::single();
  const auto cfg = nats_test_config(servers.url(0), "flow3");
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "lossy", {.capacity = 8, .overflow = overflow_policy::drop_oldest}));
  constexpr int count = 3000;
  for (int i = 0; i < count; ++i) {
    auto r = a.ctx->send("lossy", new_message().fill_body(num(i)));
    ASSERT_TRUE(r) << i << ": " << r.error().message();
  }
  // Every record is either in the inbox, or counted as dropped (by the inbox or by NATS).
  // Waits for the relay's counts, not `received`: a record is counted received when it is
  // taken from nats.c, and relayed into the inbox with the rest of its batch a moment later.
  ASSERT_TRUE(eventually([&] {
    const auto s = b.nats->stats();
    return s.delivered + s.undeliverable + s.nats_dropped == static_cast<std::uint64_t>(count);
  }));
  const auto s = b.nats->stats();
  const auto box = *b.ctx->stats("lossy");
  EXPECT_EQ(a.nats->stats().credit_waits, 0U);  // drop_oldest takes no credits
  EXPECT_EQ(box.queued + box.dropped_oldest + s.nats_dropped + s.undeliverable,
            static_cast<std::uint64_t>(count));
  EXPECT_GT(box.dropped_oldest, 0U);
  // The newest are the ones kept.
  auto m = b.ctx->receive_for("lossy", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(num_of(*m), count - static_cast<int>(box.queued));
}

TEST(NatsFlow, FailPolicyWithoutCreditsIsQueueFull) {
  auto servers = nats_servers::single();
  auto cfg = nats_test_config(servers.url(0), "flow4");
  cfg.flow_window = 4;
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "strict", {.capacity = 2, .overflow = overflow_policy::fail}));
  // 4 credits: the fifth send, before anything is granted back, is refused at once.
  int ok = 0;
  expected<void> r;
  for (int i = 0; i < 100 && (r = a.ctx->send("strict", new_message())); ++i) ++ok;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::queue_full);
  EXPECT_GE(ok, 4);
  EXPECT_GE(a.nats->stats().credit_refusals, 1U);
}

TEST(NatsFlow, BlockWithTimeoutGivesTimedOut) {
  auto servers = nats_servers::single();
  auto cfg = nats_test_config(servers.url(0), "flow5");
  cfg.flow_window = 4;
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "stuck",
                         {.capacity = 2,
                          .overflow = overflow_policy::block,
                          .block_timeout = std::chrono::milliseconds(100)}));
  expected<void> r;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100 && (r = a.ctx->send("stuck", new_message())); ++i) {
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

// Records of about 8 KiB, numbered.
content big(int i) { return nlohmann::json{{"n", i}, {"pad", std::string(8192, 'x')}}; }
int big_of(const message& m) {
  auto j = m.content.to_json();
  return j && j->contains("n") ? j->at("n").get<int>() : -1;
}

// A record window far above what the tests send (8192), a 64 KiB byte window, and heartbeats
// (which probe a sender's stuck records, and so fetch a grant) too rare to come in a test.
nats_config byte_window_config(const std::string& url, const std::string& ns) {
  auto cfg = nats_test_config(url, ns);
  cfg.flow_window = 8192;
  cfg.flow_window_bytes = 64 * 1024;
  cfg.presence_interval = std::chrono::seconds(3);
  return cfg;
}

// A module that reads nothing: its process relays 2 records into the inbox and grants nothing
// back (a grant comes after half a window: 4096 records or 32 KiB relayed). The sender stops
// at 64 KiB of records unacknowledged, where the record window alone would let all 100 go.
TEST(NatsFlow, ByteWindowBoundsWhatIsInFlight) {
  auto servers = nats_servers::single();
  const auto cfg = byte_window_config(servers.url(0), "flow6");
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "held",
                         {.capacity = 2,
                          .overflow = overflow_policy::block,
                          .block_timeout = std::chrono::milliseconds(300)}));
  // About 8.4 KiB on the wire (the route the send adds changes the count by no record: 64 KiB
  // holds between 7 and 8 of them whether a record is 8.2 or 9.3 KiB).
  const std::size_t record_bytes = encode_message(new_message().fill_body(big(0)))->size();
  // Admitted while less than 64 KiB is unacknowledged: the one that crosses it goes too.
  const int bound = static_cast<int>((cfg.flow_window_bytes + record_bytes - 1) / record_bytes);
  int ok = 0;
  expected<void> r;
  for (int i = 0; i < 100 && (r = a.ctx->send("held", new_message().fill_body(big(i)))); ++i) {
    ++ok;
  }
  ASSERT_FALSE(r) << "all 100 records went";
  EXPECT_EQ(r.error(), errc::timed_out);
  // A heartbeat in the meantime may probe the stuck records and fetch the 2 relayed ones'
  // credits: then up to two more.
  EXPECT_GE(ok, bound);
  EXPECT_LE(ok, bound + 2);
  EXPECT_GE(a.nats->stats().credit_waits, 1U);
  // Nothing accepted is lost: every record comes, in order.
  for (int i = 0; i < ok; ++i) {
    auto m = b.ctx->receive_for("held", watchdog);
    ASSERT_TRUE(m) << i;
    ASSERT_EQ(big_of(*m), i);
  }
}

// A flood of large records to a reader: the sender hits the byte window again and again, and
// the receiver grants back every 32 KiB relayed, so no probe is ever needed (without the
// byte half, it would grant only after 4096 records, and each stall would wait for a
// heartbeat's probe: `resent`).
TEST(NatsFlow, ByteWindowIsGrantedBackAsTheReceiverRelays) {
  auto servers = nats_servers::single();
  const auto cfg = byte_window_config(servers.url(0), "flow7");
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "big", {.capacity = 2, .overflow = overflow_policy::block}));
  constexpr int count = 300;
  std::thread sender([&] {
    for (int i = 0; i < count; ++i) {
      auto r = a.ctx->send("big", new_message().fill_body(big(i)));
      ASSERT_TRUE(r) << i << ": " << r.error().message();
    }
  });
  const join_on_exit joined{sender, *a.ctx};
  for (int i = 0; i < count; ++i) {
    auto m = b.ctx->receive_for("big", watchdog);
    ASSERT_TRUE(m) << i;
    ASSERT_EQ(big_of(*m), i);
  }
  sender.join();
  const auto sa = a.nats->stats();
  EXPECT_GE(sa.credit_waits, 1U) << "the byte window was never reached";
  EXPECT_EQ(sa.resent, 0U) << "a stall needed a probe to get its grant";
  EXPECT_EQ(b.nats->stats().undeliverable, 0U);
}

}  // namespace
}  // namespace beehive::test
