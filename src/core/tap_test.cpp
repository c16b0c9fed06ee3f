// SPDX-License-Identifier: Apache-2.0
#include "core/tap.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "beehive/context.hpp"
#include "bounded_wait.hpp"
#include "channel_module.hpp"
#include "core/context_state.hpp"
#include "fake_context_type.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using detail::delivery;
using test::mod;
using test::watchdog;

struct Tap : ::testing::Test {
  void SetUp() override {
    ASSERT_TRUE(ctx.add_module(mod("a", 100000)));
    ASSERT_TRUE(ctx.add_module(mod("b", 100000)));
    ASSERT_TRUE(ctx.add_module_group("a", "g"));
    ASSERT_TRUE(ctx.add_module_group("b", "g"));
  }
  tap_hub& hub() { return detail::context_state_of(ctx).tap; }
  context ctx;
};

TEST_F(Tap, InactiveUntilAttachedAndAfterDetach) {
  EXPECT_FALSE(hub().active());
  auto sub = hub().attach({tap_scope::all, ""}, 4);
  EXPECT_TRUE(hub().active());
  hub().detach(sub);
  EXPECT_FALSE(hub().active());
  EXPECT_TRUE(sub->closed());
  EXPECT_EQ(hub().stats().attached, 0U);
}

TEST_F(Tap, ModuleTapSeesCopiesSharingTheContent) {
  auto sub = hub().attach({tap_scope::module, "a"}, 16);
  const message sent = new_message().fill_body(nlohmann::json{{"k", "v"}});
  ASSERT_TRUE(ctx.send("a", sent));
  ASSERT_TRUE(ctx.send("b", new_message().fill_body("not for the tap")));
  auto got = sub->take_for(watchdog);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].target, "a");
  EXPECT_FALSE(got[0].to_group);
  EXPECT_EQ(got[0].msg.header.id, sent.header.id);
  EXPECT_TRUE(got[0].msg.content.shares_payload_with(sent.content));
  // The receiver still gets the message itself.
  auto received = ctx.receive_for("a", watchdog);
  ASSERT_TRUE(received);
  EXPECT_TRUE(received->content.shares_payload_with(sent.content));
  hub().detach(sub);
}

TEST_F(Tap, GroupTapSeesOneRecordPerGroupSend) {
  auto group_tap = hub().attach({tap_scope::group, "g"}, 16);
  auto member_tap = hub().attach({tap_scope::module, "b"}, 16);
  auto other_tap = hub().attach({tap_scope::group, "h"}, 16);
  ASSERT_TRUE(ctx.send_to_group("g", new_message().fill_body("to all")));
  auto got = group_tap->take_for(watchdog);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].target, "g");
  EXPECT_TRUE(got[0].to_group);
  // A module's tap sees what reaches it through its groups.
  EXPECT_EQ(member_tap->take_for(watchdog).size(), 1U);
  EXPECT_TRUE(other_tap->take_for(1ms).empty());
  EXPECT_EQ(other_tap->delivered(), 0U);
  hub().detach(group_tap);
  hub().detach(member_tap);
  hub().detach(other_tap);
}

TEST_F(Tap, SyncRequestsAreTappedWithTheirSyncFlag) {
  auto sub = hub().attach({tap_scope::all, ""}, 16);
  auto r = ctx.send_sync("a", new_message().fill_body("q"), 1ms);
  EXPECT_EQ(r.error(), errc::timed_out);
  (void)ctx.send_to_group_sync("g", new_message().fill_body("q"), 1ms);
  auto got = sub->take_for(watchdog);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_TRUE(got[0].msg.header.sync);
  EXPECT_EQ(got[0].target, "a");
  EXPECT_TRUE(got[1].msg.header.sync);
  EXPECT_TRUE(got[1].to_group);
  hub().detach(sub);
}

TEST_F(Tap, AFloodNeverHoldsTheSenderBackAndDropsAreCounted) {
  // Nobody reads the tap: its queue fills at 8, every later copy is dropped and counted, and
  // every send still succeeds (a tap that made the sender wait would hang here).
  auto sub = hub().attach({tap_scope::module, "a"}, 8);
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(ctx.send("a", new_message()));
  EXPECT_EQ(sub->delivered(), 8U);
  EXPECT_EQ(sub->dropped(), static_cast<std::uint64_t>(n - 8));
  EXPECT_EQ(ctx.stats("a")->accepted, static_cast<std::uint64_t>(n));
  hub().detach(sub);
  const auto totals = hub().stats();
  EXPECT_EQ(totals.delivered, 8U);
  EXPECT_EQ(totals.dropped, static_cast<std::uint64_t>(n - 8));
}

TEST_F(Tap, TakeWaitsForTheNextMessageAndCloseWakesIt) {
  auto sub = hub().attach({tap_scope::all, ""}, 8);
  std::thread sender([&] { (void)ctx.send("b", new_message()); });
  auto got = sub->take_for(watchdog);
  sender.join();
  EXPECT_EQ(got.size(), 1U);
  std::thread closer([&] { hub().detach(sub); });
  EXPECT_TRUE(sub->take_for(watchdog).empty());
  closer.join();
  // Detached: later sends are not offered and not counted.
  ASSERT_TRUE(ctx.send("b", new_message()));
  EXPECT_EQ(sub->delivered(), 1U);
  EXPECT_EQ(sub->dropped(), 0U);
}

// Under a flood a reader does not spin: it takes at most once per slice, and what does not fit
// meanwhile is dropped and counted by the senders.
TEST_F(Tap, AReaderTakesAtMostOncePerSlice) {
  auto sub = hub().attach({tap_scope::module, "a"}, 4);
  ASSERT_TRUE(ctx.send("a", new_message()));
  const auto before_first = std::chrono::steady_clock::now();
  EXPECT_EQ(sub->take_for(watchdog).size(), 1U);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ctx.send("a", new_message()));
  EXPECT_EQ(sub->take_for(watchdog).size(), 4U);
  EXPECT_GE(std::chrono::steady_clock::now() - before_first, tap_subscription::take_slice);
  EXPECT_EQ(sub->delivered(), 5U);
  EXPECT_EQ(sub->dropped(), 6U);
  hub().detach(sub);
}

TEST_F(Tap, ConcurrentSendersAndAttachDetachLoseNothingUncounted) {
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop.load()) {
      auto s = hub().attach({tap_scope::all, ""}, 2);
      hub().detach(s);
    }
  });
  auto sub = hub().attach({tap_scope::module, "a"}, 20000);
  constexpr int n = 5000;
  std::thread s1([&] {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(ctx.send("a", new_message()));
  });
  std::thread s2([&] {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(ctx.send_to_group("g", new_message()));
  });
  s1.join();
  s2.join();
  stop = true;
  churn.join();
  EXPECT_EQ(sub->delivered() + sub->dropped(), 2U * n);
  hub().detach(sub);
}

TEST_F(Tap, RepliesAreTappedOnceAsRepliesToTheirRequester) {
  auto all = hub().attach({tap_scope::all, ""}, 16);
  auto requester = hub().attach({tap_scope::module, "asker"}, 16);
  auto replier = hub().attach({tap_scope::module, "a"}, 16);
  std::thread echo([&] {
    auto req = ctx.receive_for("a", watchdog);
    if (req) (void)ctx.send_resp(new_resp_by_message(*req, "pong"));
  });
  auto reply = ctx.send_sync("a", new_message().build_router("asker", "", "res", "get"), watchdog);
  echo.join();
  ASSERT_TRUE(reply);
  auto got = all->take_for(watchdog);
  ASSERT_EQ(got.size(), 2U);  // the request, then its reply: nothing twice
  EXPECT_FALSE(got[0].reply);
  EXPECT_EQ(got[0].target, "a");
  EXPECT_TRUE(got[1].reply);
  EXPECT_EQ(got[1].target, "asker");
  EXPECT_EQ(got[1].msg.header.parent_id, got[0].msg.header.id);
  EXPECT_EQ(got[1].msg.header.id, reply->header.id);
  // A module's tap sees the replies to its requests; the replier's tap sees the request only.
  auto mine = requester->take_for(watchdog);
  ASSERT_EQ(mine.size(), 1U);
  EXPECT_TRUE(mine[0].reply);
  auto theirs = replier->take_for(watchdog);
  ASSERT_EQ(theirs.size(), 1U);
  EXPECT_FALSE(theirs[0].reply);
  // An orphan reply was sent too: tapped.
  (void)ctx.send_resp(new_resp_by_message(new_message(), "late"));
  EXPECT_EQ(all->take_for(watchdog).size(), 1U);
  hub().detach(all);
  hub().detach(requester);
  hub().detach(replier);
}

// A type relaying into a full inbox gets would_block, holds the message and pushes it again
// later: the tap shows it once, when it went in (or was refused for good).
TEST(TapRelay, ARelayRetriedAfterWouldBlockIsTappedOnce) {
  context ctx;
  auto remote = std::make_shared<test::fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_TRUE(ctx.add_module(mod("near", 1)));
  auto* host = remote->host();
  auto& hub = detail::context_state_of(ctx).tap;
  auto sub = hub.attach({tap_scope::all, ""}, 16);
  ASSERT_TRUE(host->deliver("near", new_message().set_destination("1"), delivery::relay));
  message second = new_message().set_destination("2");
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto r = host->deliver("near", std::move(second), delivery::relay);
    ASSERT_FALSE(r);
    ASSERT_EQ(r.error(), errc::would_block);
    ASSERT_EQ(second.route.destination, "2");  // left to the caller, intact
  }
  auto got = sub->take_for(watchdog);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].msg.route.destination, "1");
  ASSERT_TRUE(ctx.receive("near"));
  ASSERT_TRUE(host->deliver("near", std::move(second), delivery::relay));
  got = sub->take_for(watchdog);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].msg.route.destination, "2");
  EXPECT_EQ(got[0].target, "near");
  EXPECT_EQ(sub->delivered(), 2U);
  hub.detach(sub);
}

// Senders use a thread-local copy of the tap list: a detach is seen at the next send, and a
// tap detached while a sender still held the old list loses nothing from the totals.
TEST_F(Tap, ASenderSeesAttachAndDetachAtItsNextSend) {
  auto first = hub().attach({tap_scope::module, "a"}, 16);
  ASSERT_TRUE(ctx.send("a", new_message()));  // this thread now caches [first]
  auto second = hub().attach({tap_scope::module, "a"}, 16);
  ASSERT_TRUE(ctx.send("a", new_message()));  // sees [first, second]
  hub().detach(first);
  ASSERT_TRUE(ctx.send("a", new_message()));  // sees [second]
  EXPECT_EQ(first->delivered(), 2U);
  EXPECT_EQ(second->delivered(), 2U);
  hub().detach(second);
  ASSERT_TRUE(ctx.send("a", new_message()));
  EXPECT_EQ(second->delivered(), 2U);
  const auto totals = hub().stats();
  EXPECT_EQ(totals.attached, 0U);
  EXPECT_EQ(totals.delivered, 4U);
  EXPECT_EQ(totals.dropped, 0U);
}

// A thread's thread_local destructors run after the tap's per-thread cache is gone may still
// send: the copy is offered and counted, without the dead cache (nothing leaks, nothing crashes
// under the sanitizers).
struct sends_at_thread_exit {
  context* ctx = nullptr;
  ~sends_at_thread_exit() {
    if (ctx != nullptr) (void)ctx->send("a", new_message().fill_body("from a dying thread"));
  }
};
thread_local sends_at_thread_exit at_exit;

TEST_F(Tap, ASendFromALateThreadDestructorIsStillOffered) {
  auto sub = hub().attach({tap_scope::module, "a"}, 16);
  std::thread t([&] {
    at_exit.ctx = &ctx;                         // constructed first: destroyed last
    ASSERT_TRUE(ctx.send("a", new_message()));  // makes the thread's tap cache
  });
  t.join();
  EXPECT_EQ(sub->delivered(), 2U);
  auto got = sub->take_for(watchdog);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[1].msg.content.to_string().value_or(""), "from a dying thread");
  hub().detach(sub);
}

// Two contexts used by one thread in turn: each send is offered to its own context's taps (the
// thread's one-slot cache is replaced, never mixed up), and a context made after another was
// destroyed (possibly at the same address) starts with no taps.
TEST(TapHubs, OneThreadAlternatingBetweenContextsNeverMixesTheirTaps) {
  for (int round = 0; round < 3; ++round) {
    context x;
    context y;
    ASSERT_TRUE(x.add_module(mod("m", 1000)));
    ASSERT_TRUE(y.add_module(mod("m", 1000)));
    auto& hx = detail::context_state_of(x).tap;
    auto& hy = detail::context_state_of(y).tap;
    EXPECT_FALSE(hx.active());
    auto tx = hx.attach({tap_scope::all, ""}, 100);
    auto ty = hy.attach({tap_scope::all, ""}, 100);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(x.send("m", new_message()));
      ASSERT_TRUE(y.send("m", new_message()));
      ASSERT_TRUE(y.send("m", new_message()));
    }
    EXPECT_EQ(tx->delivered(), 10U);
    EXPECT_EQ(ty->delivered(), 20U);
    hx.detach(tx);
    // y's tap stays attached as y dies: the thread's cache may hold its list past it.
  }
}

// Detach races senders that hold the old list: every copy offered is queued or dropped and
// counted, in the subscription and in the hub's totals, once every sender is done.
TEST_F(Tap, DetachRacingSendersKeepsTheTotalsExact) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sent{0};
  std::thread sender([&] {
    while (!stop.load()) {
      ASSERT_TRUE(ctx.send("a", new_message()));
      sent.fetch_add(1);
      if (ctx.stats("a")->queued > 1000) (void)ctx.receive("a");
    }
  });
  std::vector<std::shared_ptr<tap_subscription>> taps;
  for (int i = 0; i < 200; ++i) {
    auto s = hub().attach({tap_scope::module, "a"}, 2);
    (void)s->take_for(std::chrono::microseconds(100));
    hub().detach(s);
    taps.push_back(std::move(s));
  }
  stop = true;
  sender.join();
  // Every sender is done: each tap's counters are final, and the totals are their sums.
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;
  for (const auto& s : taps) {
    delivered += s->delivered();
    dropped += s->dropped();
  }
  auto totals = hub().stats();
  EXPECT_EQ(totals.delivered, delivered);
  EXPECT_EQ(totals.dropped, dropped);
  // Released, and folded into the totals by the next attach: the same figures.
  taps.clear();
  hub().detach(hub().attach({tap_scope::group, "none"}, 1));
  totals = hub().stats();
  EXPECT_EQ(totals.delivered, delivered);
  EXPECT_EQ(totals.dropped, dropped);
  EXPECT_GT(sent.load(), 0U);
}

TEST(SyncLatency, RecordsOnlyOnceEnabled) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("echo")));
  auto& rec = detail::context_state_of(ctx).sync_latency;
  (void)ctx.send_sync("echo", new_message(), 1ms);
  EXPECT_TRUE(rec.snapshot().empty());
  rec.enable();
  std::thread echo([&] {
    auto req = ctx.receive_for("echo", watchdog);  // the first, unanswered request
    req = ctx.receive_for("echo", watchdog);
    if (req) (void)ctx.send_resp(new_resp_by_message(*req, "ok"));
  });
  ASSERT_TRUE(ctx.send_sync("echo", new_message(), watchdog));
  echo.join();
  const auto snap = rec.snapshot();
  ASSERT_EQ(snap.count("echo"), 1U);
  EXPECT_EQ(snap.at("echo").count, 1U);
  EXPECT_GT(snap.at("echo").sum_seconds, 0.0);
  std::uint64_t in_buckets = 0;
  for (auto b : snap.at("echo").buckets) in_buckets += b;
  EXPECT_EQ(in_buckets, 1U);
}

TEST(SyncLatency, BucketsFollowTheBounds) {
  sync_latency rec;
  rec.record("m", std::chrono::microseconds(5));  // <= 10 us: bucket 0
  rec.record("m", std::chrono::milliseconds(1));  // <= 1 ms: bucket 6
  rec.record("m", std::chrono::seconds(60));      // +Inf
  const auto h = rec.snapshot().at("m");
  EXPECT_EQ(h.buckets[0], 1U);
  EXPECT_EQ(h.buckets[6], 1U);
  EXPECT_EQ(h.buckets.back(), 1U);
  EXPECT_EQ(h.count, 3U);
  EXPECT_NEAR(h.sum_seconds, 60.001005, 1e-9);
}

}  // namespace
}  // namespace beehive::detail
