// SPDX-License-Identifier: Apache-2.0
// The receiving side of the nats type: records relayed into a full `block` inbox wait for room
// with a real wake (the inbox's when_writable), and give up, counted, when the module leaves or
// the process stops; records nats.c drops for a limited pending queue are counted (and resent).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;

constexpr int records = 64;

// `a` sends `count` records to `slow` of `b`, whose inbox holds 2 (`block`, no timeout) and
// whose receiver does not read: the window lets them all leave, so the dispatch of `b` ends up
// waiting for room with records in hand.
struct stuck_relay {
  explicit stuck_relay(const std::string& url, const std::string& ns, nats_config cfg_b = {},
                       int n = records)
      : count(n) {
    auto cfg = nats_test_config(url, ns);
    cfg.flow_window = static_cast<std::size_t>(count);
    a = std::make_unique<nats_process>(cfg);
    cfg_b.servers = cfg.servers;
    cfg_b.name_space = cfg.name_space;
    cfg_b.presence_interval = cfg.presence_interval;
    cfg_b.ping_interval = cfg.ping_interval;
    cfg_b.flow_window = cfg.flow_window;
    b = std::make_unique<nats_process>(cfg_b);
  }
  void fill() {
    ASSERT_TRUE(b->add("slow", {.capacity = 2, .overflow = overflow_policy::block}));
    ASSERT_TRUE(a->nats->wait_peer("slow", watchdog));
    for (int i = 0; i < count; ++i) {
      auto r = a->ctx->send("slow", new_message().fill_body(num(i)));
      ASSERT_TRUE(r) << i << ": " << r.error().message();
    }
    ASSERT_TRUE(eventually([&] { return b->nats->stats().relay_waits > 0; }));
    EXPECT_EQ(b->ctx->stats("slow")->queued, 2U);
  }
  const int count;
  std::unique_ptr<nats_process> a;
  std::unique_ptr<nats_process> b;
};

// Every record the dispatch took from nats.c is accounted for: in the inbox, or refused.
void expect_every_taken_record_counted(const nats_stats& s) {
  EXPECT_EQ(s.received, s.delivered + s.undeliverable + s.malformed);
}

TEST(NatsRelay, AFullInboxIsWaitedForAndTheRelayWakesWhenRoomAppears) {
  auto servers = nats_servers::single();
  stuck_relay t(servers.url(0), "relay1");
  t.fill();
  // Nothing was refused while the receiver did not read: the relay waits, it does not fail.
  EXPECT_EQ(t.b->nats->stats().undeliverable, 0U);
  // Each receive makes room; the relay wakes on it and pushes the next record: all arrive,
  // in order. (A relay that were never woken would leave this receive waiting out its bound.)
  for (int i = 0; i < records; ++i) {
    auto m = t.b->ctx->receive_for("slow", watchdog);
    ASSERT_TRUE(m) << i << ": " << m.error().message();
    ASSERT_EQ(num_of(*m), i);
  }
  // `delivered` is counted right after the inbox takes a record: the receiver may be first.
  ASSERT_TRUE(eventually([&] { return t.b->nats->stats().delivered == records; }));
  const auto s = t.b->nats->stats();
  EXPECT_EQ(s.received, static_cast<std::uint64_t>(records));
  EXPECT_EQ(s.undeliverable, 0U);
  EXPECT_EQ(s.nats_dropped, 0U);
  EXPECT_GE(s.relay_waits, 1U);
  EXPECT_EQ(t.b->ctx->stats("slow")->rejected_full, 0U);
}

TEST(NatsRelay, StopWhileARelayWaitsEndsAtOnceAndCountsWhatItHeld) {
  auto servers = nats_servers::single();
  stuck_relay t(servers.url(0), "relay2");
  t.fill();
  auto nats_b = t.b->nats;
  // The context's destructor stops the type: the waiting relay gives up instead of holding
  // the stop (and the destructor) until the receiver, which will never come, makes room.
  auto gone = std::async(std::launch::async, [&] { t.b->ctx.reset(); });
  get_bounded(gone);
  const auto s = nats_b->stats();
  expect_every_taken_record_counted(s);
  EXPECT_EQ(s.delivered, 2U);  // the two the inbox held (dropped with it, counted there)
  EXPECT_GE(s.undeliverable, 1U);
  // What the receiver refused it counted (above) and credited back; what never reached its
  // dispatch the sender counts as not acknowledged when the module goes.
  ASSERT_TRUE(t.a->nats->wait_peer_gone("slow", watchdog));
  const auto sa = t.a->nats->stats();
  EXPECT_EQ(sa.published, static_cast<std::uint64_t>(records));
  EXPECT_GE(sa.unacknowledged, records - s.received);
}

TEST(NatsRelay, CleanupWhileARelayWaitsEndsCountsAndTheModuleCanComeBack) {
  auto servers = nats_servers::single();
  stuck_relay t(servers.url(0), "relay3");
  t.fill();
  auto left = std::async(std::launch::async, [&] { return t.b->ctx->cleanup("slow"); });
  ASSERT_TRUE(get_bounded(left));
  auto s = t.b->nats->stats();
  expect_every_taken_record_counted(s);
  EXPECT_GE(s.undeliverable, 1U);
  // The inbox drains what it took (close mode drain), then says it is closed.
  for (int i = 0; i < 2; ++i) {
    auto m = t.b->ctx->receive_for("slow", watchdog);
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(num_of(*m), i);
  }
  ASSERT_TRUE(t.a->nats->wait_peer_gone("slow", watchdog));
  // Added again (the endpoint reopens): a relay into it is not left "leaving".
  ASSERT_TRUE(t.b->add("slow", {.capacity = 2, .overflow = overflow_policy::block}));
  ASSERT_TRUE(t.a->nats->wait_peer("slow", watchdog));
  constexpr int fresh = 1000;  // the new records' numbers, apart from the old ones'
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(t.a->ctx->send("slow", new_message().fill_body(num(fresh + i))));
  }
  // The sender's last batch of the old life may still be on its way when the module leaves
  // and comes back within a millisecond (the batcher's linger, nats.c's flusher): those
  // records then reach the module added again, as a reopened inbox keeps what was queued. They
  // come first, in order, and are counted; then the new ones, in order.
  int next = fresh;
  int last_old = 1;
  while (next < fresh + 10) {
    auto m = t.b->ctx->receive_for("slow", watchdog);
    ASSERT_TRUE(m) << next << ": " << m.error().message();
    const int v = num_of(*m);
    if (v >= fresh) {
      ASSERT_EQ(v, next);
      ++next;
    } else {
      ASSERT_EQ(next, fresh) << "record " << v << " of the old life after a new one";
      ASSERT_GT(v, last_old);
      ASSERT_LT(v, records);
      last_old = v;
    }
  }
  ASSERT_TRUE(eventually([&] {
    const auto q = t.b->nats->stats();
    return q.received == q.delivered + q.undeliverable + q.malformed;
  }));
}

// A request the receiving inbox refuses (full, `fail`) is answered at once with an error reply
// (Go beehive's: operation `response_error_operation`, the reason as content): its caller does
// not wait out its timeout.
TEST(NatsRelay, ARefusedRequestFailsItsCallerAtOnce) {
  auto servers = nats_servers::single();
  const auto cfg = nats_test_config(servers.url(0), "relay5");
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.add("full", {.capacity = 1, .overflow = overflow_policy::fail}));
  ASSERT_TRUE(a.nats->wait_peer("full", watchdog));
  ASSERT_TRUE(a.ctx->send("full", new_message().fill_body(num(1))));
  ASSERT_TRUE(eventually([&] { return b.ctx->stats("full")->queued == 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = a.ctx->send_sync("full", new_message().fill_body(num(2)), 60s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, watchdog);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->route.operation, response_error_operation);
  EXPECT_EQ(r->content.to_string().value_or(""), make_error_code(errc::queue_full).message());
  // The refusal is counted before the caller hears of it; the first record right after the
  // inbox took it.
  EXPECT_EQ(b.nats->stats().undeliverable, 1U);
  ASSERT_TRUE(eventually([&] { return b.nats->stats().delivered == 1; }));
  EXPECT_EQ(b.nats->stats().received, 2U);
  EXPECT_EQ(b.ctx->stats("full")->rejected_full, 1U);
}

// nats.c drops for a subscription whose pending queue is limited (flow.max_pending) and whose
// consumer is stuck; the type counts every such drop (nats_dropped, from nats.c's own count,
// and the slow-consumer error), and the records dropped, numbered, are found missing and resent
// (docs/architecture.md, "Failover"): every record arrives once, and the counters add up.
TEST(NatsRelay, DropsOfALimitedPendingQueueAreCountedAndRepaired) {
  auto servers = nats_servers::single();
  nats_config cfg_b;
  cfg_b.max_pending = 8;
  // More than the dispatch holds (a batch of 64, 2 in the inbox) plus the 8 nats.c may queue:
  // nats.c must drop.
  constexpr int sent = 500;
  stuck_relay t(servers.url(0), "relay4", cfg_b, sent);
  t.fill();
  ASSERT_TRUE(eventually([&] {
    const auto s = t.b->nats->stats();
    return s.nats_dropped > 0 && s.slow_consumer_events > 0;
  }));
  // Drain: what nats.c kept arrives, and what it dropped comes again (resent).
  std::vector<int> times(sent, 0);
  int got = 0;
  ASSERT_TRUE(eventually([&] {
    while (auto m = t.b->ctx->receive_for("slow", 1ms)) {
      const int v = num_of(*m);
      EXPECT_TRUE(v >= 0 && v < sent) << v;
      if (v >= 0 && v < sent) {
        EXPECT_EQ(++times[static_cast<std::size_t>(v)], 1) << v;
      }
      ++got;
    }
    const auto s = t.b->nats->stats();
    // The relay's counts (a record counted received may still wait in its batch).
    return got == sent && s.received == s.delivered + s.duplicates;
  })) << got;
  // A resend may still be under way (its records counted one by one): published settles.
  EXPECT_TRUE(eventually([&] {
    const auto x = t.a->nats->stats();
    return x.published == static_cast<std::uint64_t>(sent) + x.resent;
  }));
  const auto s = t.b->nats->stats();
  const auto sa = t.a->nats->stats();
  EXPECT_EQ(s.undeliverable, 0U);
  EXPECT_EQ(s.delivered, static_cast<std::uint64_t>(sent));
  EXPECT_GT(s.nats_dropped, 0U);
  EXPECT_GT(sa.resent, 0U);
  EXPECT_EQ(sa.published, static_cast<std::uint64_t>(sent) + sa.resent);
}

}  // namespace
}  // namespace beehive::test
