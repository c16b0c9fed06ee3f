// SPDX-License-Identifier: Apache-2.0
// The lock-free ring queue on its own (the inbox's tests cover it through the inbox too: every
// plain `block`/`fail` inbox of capacity >= 2 is one).
#include "channel/ring_queue.hpp"

#include <gtest/gtest.h>

#include <future>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "bounded_wait.hpp"

namespace beehive::detail {
namespace {

using test::eventually;
using test::get_bounded;

message tagged(int producer, int seq) {
  message m;
  m.route.source = std::to_string(producer);
  m.route.resource = std::to_string(seq);
  return m;
}

inbox_options opts(std::size_t capacity, overflow_policy p = overflow_policy::block) {
  inbox_options o;
  o.capacity = capacity;
  o.overflow = p;
  return o;
}

std::atomic<bool> not_cancelled{false};

expected<message> pop_now(ring_queue& q) { return q.pop(true, ring_queue::clock::now(), nullptr); }

// accepted = received + dropped + queued, and nothing else.
void expect_identity(const inbox_stats& st) {
  EXPECT_EQ(st.accepted, st.received + st.dropped_on_close + st.queued);
}

TEST(RingQueue, FitsOnlyPlainBlockOrFailInboxesOfTwoSlotsOrMore) {
  EXPECT_TRUE(ring_queue::fits(opts(2)));
  EXPECT_TRUE(ring_queue::fits(opts(1024, overflow_policy::fail)));
  EXPECT_FALSE(ring_queue::fits(opts(1)));
  EXPECT_FALSE(ring_queue::fits(opts(1024, overflow_policy::drop_oldest)));
  EXPECT_FALSE(ring_queue::fits(opts(ring_queue::max_capacity + 1)));
  auto shaped = opts(1024);
  shaped.coalescing.enabled = true;
  EXPECT_FALSE(ring_queue::fits(shaped));
}

TEST(RingQueue, CapacityIsExactAndOrderHoldsAcrossLapsOfAnOddSize) {
  ring_queue q(opts(3, overflow_policy::fail));
  int next_in = 0;
  int next_out = 0;
  for (int lap = 0; lap < 10; ++lap) {
    while (q.room() > 0)
      ASSERT_TRUE(q.push(tagged(0, next_in++), lane_push::direct, not_cancelled));
    message extra = tagged(0, 999);
    auto r = q.push(std::move(extra), lane_push::direct, not_cancelled);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::queue_full);
    EXPECT_EQ(extra.route.resource, "999");  // intact
    for (int i = 0; i < 2; ++i) {
      auto m = pop_now(q);
      ASSERT_TRUE(m);
      EXPECT_EQ(m->route.resource, std::to_string(next_out++));
    }
  }
  inbox_stats st;
  q.add_stats(st);
  EXPECT_EQ(st.queued, 1U);
  EXPECT_EQ(st.rejected_full, 10U);
  EXPECT_EQ(st.accepted, static_cast<std::uint64_t>(next_in));
  expect_identity(st);
}

// pop_for: a queued message comes at once, whatever the timeout (even 0 or negative); an
// empty queue waits out the timeout (timed_out), a message pushed meanwhile ends the wait, a
// stop ends it with cancelled, and a closed, drained queue says channel_closed.
TEST(RingQueue, PopForTakesWhatIsQueuedAndWaitsOnlyWhenEmpty) {
  using namespace std::chrono_literals;
  ring_queue q(opts(4));
  ASSERT_TRUE(q.push(tagged(0, 1), lane_push::direct, not_cancelled));
  ASSERT_TRUE(q.push(tagged(0, 2), lane_push::direct, not_cancelled));
  auto m = q.pop_for(ring_queue::clock::duration::zero(), nullptr);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->route.resource, "1");
  m = q.pop_for(-1s, nullptr);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->route.resource, "2");
  EXPECT_EQ(q.pop_for(1ms, nullptr).error(), errc::timed_out);
  auto later = std::async(std::launch::async, [&] { return q.pop_for(60s, nullptr); });
  ASSERT_TRUE(q.push(tagged(0, 3), lane_push::direct, not_cancelled));
  auto got = get_bounded(later);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->route.resource, "3");
  std::stop_source stop;
  stop.request_stop();
  const std::stop_token token = stop.get_token();
  EXPECT_EQ(q.pop_for(60s, &token).error(), errc::cancelled);
  std::vector<message> dropped;
  q.close(dropped, false);
  EXPECT_EQ(q.pop_for(60s, nullptr).error(), errc::channel_closed);
}

TEST(RingQueue, ManyProducersKeepTheirOrderAndEveryMessageIsCounted) {
  constexpr int producers = 4;
  constexpr int per = 20000;
  ring_queue q(opts(64));
  std::vector<std::thread> ts;
  for (int p = 0; p < producers; ++p) {
    ts.emplace_back([&, p] {
      for (int i = 0; i < per; ++i)
        ASSERT_TRUE(q.push(tagged(p, i), lane_push::direct, not_cancelled));
    });
  }
  std::vector<int> next(static_cast<std::size_t>(producers), 0);
  for (int n = 0; n < producers * per; ++n) {
    auto m = q.pop(false, {}, nullptr);
    ASSERT_TRUE(m);
    const int p = std::stoi(std::string(m->route.source));
    ASSERT_EQ(std::stoi(std::string(m->route.resource)), next[static_cast<std::size_t>(p)]++);
  }
  for (auto& t : ts) t.join();
  inbox_stats st;
  q.add_stats(st);
  EXPECT_EQ(st.accepted, static_cast<std::uint64_t>(producers * per));
  EXPECT_EQ(st.received, st.accepted);
  EXPECT_EQ(st.queued, 0U);
}

TEST(RingQueue, AFailQueueClosedMidFlightAccountsForEveryMessage) {
  constexpr int producers = 3;
  ring_queue q(opts(16, overflow_policy::fail));
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> full{0};
  std::vector<std::thread> ts;
  for (int p = 0; p < producers; ++p) {
    ts.emplace_back([&, p] {
      for (int i = 0;; ++i) {
        auto r = q.push(tagged(p, i), lane_push::direct, not_cancelled);
        if (r) {
          ok.fetch_add(1);
        } else if (r.error() == errc::queue_full) {
          full.fetch_add(1);
        } else {
          ASSERT_EQ(r.error(), errc::channel_closed);
          return;
        }
      }
    });
  }
  std::uint64_t got = 0;
  while (got < 5000) {
    if (pop_now(q)) ++got;
  }
  std::vector<message> dropped;
  auto o = opts(16, overflow_policy::fail);
  o.close = close_mode::drop;
  std::vector<message> none;
  q.reopen(o, none);  // switches the close mode to drop
  q.close(dropped, false);
  for (auto& t : ts) t.join();
  inbox_stats st;
  q.add_stats(st);
  EXPECT_EQ(st.accepted, ok.load());
  EXPECT_EQ(st.rejected_full, full.load());
  EXPECT_EQ(st.received, got);
  EXPECT_EQ(st.dropped_on_close, dropped.size());
  EXPECT_EQ(st.queued, 0U);
  expect_identity(st);
}

TEST(RingQueue, BlockedSendersSleepAndEachFreedSlotWakesOne) {
  ring_queue q(opts(2));
  ASSERT_TRUE(q.push(tagged(0, 0), lane_push::direct, not_cancelled));
  ASSERT_TRUE(q.push(tagged(0, 1), lane_push::direct, not_cancelled));
  std::vector<std::future<expected<void>>> senders;
  for (int i = 0; i < 3; ++i) {
    senders.push_back(std::async(std::launch::async, [&, i] {
      return q.push(tagged(1 + i, 0), lane_push::direct, not_cancelled);
    }));
  }
  ASSERT_TRUE(eventually([&] { return q.waiting_senders() == 3; }));
  ASSERT_TRUE(pop_now(q));
  const auto done = [&] {
    int n = 0;
    for (auto& f : senders) n += f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return done() == 1; }));
  ASSERT_TRUE(eventually([&] { return q.waiting_senders() == 2; }));
  EXPECT_EQ(done(), 1);  // the two others stay asleep: one slot, one sender
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(q.pop(false, {}, nullptr));
  for (auto& f : senders) EXPECT_TRUE(get_bounded(f));
}

TEST(RingQueue, CancelWakesABlockedSenderAndHandsTheMessageBack) {
  ring_queue q(opts(2));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(q.push(tagged(0, i), lane_push::direct, not_cancelled));
  std::atomic<bool> cancelled{false};
  message mine = tagged(7, 7);
  auto sender = std::async(std::launch::async,
                           [&] { return q.push(std::move(mine), lane_push::direct, cancelled); });
  ASSERT_TRUE(eventually([&] { return q.waiting_senders() == 1; }));
  cancelled.store(true);
  q.wake_senders();
  auto r = get_bounded(sender);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::cancelled);
  EXPECT_EQ(mine.route.resource, "7");
  inbox_stats st;
  q.add_stats(st);
  EXPECT_EQ(st.rejected_cancelled, 1U);
  EXPECT_EQ(st.queued, 2U);
}

TEST(RingQueue, ABlockTimeoutEndsTheWaitCounted) {
  auto o = opts(2);
  o.block_timeout = std::chrono::milliseconds(2);
  ring_queue q(o);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(q.push(tagged(0, i), lane_push::direct, not_cancelled));
  auto r = q.push(tagged(0, 2), lane_push::direct, not_cancelled);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  inbox_stats st;
  q.add_stats(st);
  EXPECT_EQ(st.rejected_full, 1U);
}

TEST(RingQueue, ASleepingConsumerWakesOnAPushAndOnAStop) {
  ring_queue q(opts(8));
  auto consumer = std::async(std::launch::async, [&] { return q.pop(false, {}, nullptr); });
  ASSERT_TRUE(eventually([&] { return q.waiting_receivers() == 1; }));
  ASSERT_TRUE(q.push(tagged(0, 1), lane_push::direct, not_cancelled));
  auto m = get_bounded(consumer);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->route.resource, "1");

  std::stop_source stop;
  const std::stop_token token = stop.get_token();
  ASSERT_TRUE(q.push(tagged(0, 2), lane_push::direct, not_cancelled));
  stop.request_stop();
  auto drained = q.pop(false, {}, &token);  // queued messages first: draining semantics
  ASSERT_TRUE(drained);
  std::stop_source later;
  const std::stop_token later_token = later.get_token();
  auto waiting = std::async(std::launch::async, [&] { return q.pop(false, {}, &later_token); });
  ASSERT_TRUE(eventually([&] { return q.waiting_receivers() == 1; }));
  later.request_stop();
  auto r = get_bounded(waiting);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::cancelled);
}

TEST(RingQueue, GroupCopiesParkAndLaterMessagesQueueBehindThem) {
  ring_queue q(opts(2));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(q.push(tagged(0, i), lane_push::direct, not_cancelled));
  ASSERT_TRUE(q.push(tagged(0, 2), lane_push::group, not_cancelled));   // parks, no wait
  ASSERT_TRUE(q.push(tagged(0, 3), lane_push::direct, not_cancelled));  // behind it
  auto relay = q.push(tagged(0, 4), lane_push::relay, not_cancelled);
  ASSERT_FALSE(relay);
  EXPECT_EQ(relay.error(), errc::would_block);
  EXPECT_EQ(q.room(), 0U);
  for (int i = 0; i < 4; ++i) {
    auto m = pop_now(q);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->route.resource, std::to_string(i));
  }
  inbox_stats st;
  q.add_stats(st);
  EXPECT_EQ(st.accepted, 4U);
  EXPECT_EQ(st.received, 4U);
  EXPECT_EQ(st.queued, 0U);
  ASSERT_TRUE(q.push(tagged(0, 5), lane_push::direct, not_cancelled));  // fast path again
}

TEST(RingQueue, CloseDropsTheRingAndTheParkedCopiesCounted) {
  auto o = opts(2);
  o.close = close_mode::drop;
  ring_queue q(o);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(q.push(tagged(0, i), lane_push::direct, not_cancelled));
  ASSERT_TRUE(q.push(tagged(0, 2), lane_push::group, not_cancelled));
  std::vector<message> dropped;
  q.close(dropped, false);
  ASSERT_EQ(dropped.size(), 3U);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(dropped[static_cast<std::size_t>(i)].route.resource, std::to_string(i));
  auto r = q.push(tagged(0, 3), lane_push::direct, not_cancelled);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::channel_closed);
  auto end = q.pop(false, {}, nullptr);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error(), errc::channel_closed);
  inbox_stats st;
  q.add_stats(st);
  EXPECT_EQ(st.dropped_on_close, 3U);
  expect_identity(st);
}

TEST(RingQueue, CloseInDrainModeHandsOutWhatIsQueuedFirst) {
  ring_queue q(opts(4));
  ASSERT_TRUE(q.push(tagged(0, 0), lane_push::direct, not_cancelled));
  std::vector<message> dropped;
  q.close(dropped, false);
  EXPECT_TRUE(dropped.empty());
  EXPECT_TRUE(q.pop(false, {}, nullptr));
  auto end = q.pop(false, {}, nullptr);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error(), errc::channel_closed);
}

TEST(RingQueue, WhenWritableFiresOnceASlotIsFreed) {
  ring_queue q(opts(2));
  EXPECT_FALSE(q.when_writable([] {}));  // room now: not kept
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(q.push(tagged(0, i), lane_push::direct, not_cancelled));
  std::atomic<int> fired{0};
  ASSERT_TRUE(q.when_writable([&] { fired.fetch_add(1); }));
  EXPECT_EQ(fired.load(), 0);
  ASSERT_TRUE(pop_now(q));
  EXPECT_EQ(fired.load(), 1);
  ASSERT_TRUE(pop_now(q));
  EXPECT_EQ(fired.load(), 1);
}

TEST(RingQueue, WhenWritableWaitsForAQuarterOfTheCapacity) {
  // A relay woken at each freed slot would push one message and wait again: it is woken once
  // a quarter (here 4 of 16) is free.
  ring_queue q(opts(16));
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(q.push(tagged(0, i), lane_push::direct, not_cancelled));
  std::atomic<int> fired{0};
  ASSERT_TRUE(q.when_writable([&] { fired.fetch_add(1); }));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pop_now(q));
    EXPECT_EQ(fired.load(), 0) << "after " << i + 1 << " pops";
  }
  ASSERT_TRUE(pop_now(q));
  EXPECT_EQ(fired.load(), 1);
  // Registered again with 4 free of 16... after 4 pushes none is free: one pop is not enough.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(q.push(tagged(0, i), lane_push::direct, not_cancelled));
  ASSERT_TRUE(q.when_writable([&] { fired.fetch_add(1); }));
  ASSERT_TRUE(pop_now(q));
  EXPECT_EQ(fired.load(), 1);
  std::vector<message> dropped;
  q.close(dropped, false);  // a close fires it at once
  EXPECT_EQ(fired.load(), 2);
}

TEST(RingQueue, RetireMovesEverythingOutUncountedAndReopenTakesMoreBehind) {
  ring_queue q(opts(2));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(q.push(tagged(0, i), lane_push::direct, not_cancelled));
  ASSERT_TRUE(q.push(tagged(0, 2), lane_push::group, not_cancelled));
  std::vector<message> out;
  q.retire(out);
  ASSERT_EQ(out.size(), 3U);
  EXPECT_TRUE(q.closed());
  q.reopen(opts(2), out);  // three messages into two slots: one waits parked, uncounted
  EXPECT_FALSE(q.closed());
  for (int i = 0; i < 3; ++i) {
    auto m = pop_now(q);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->route.resource, std::to_string(i));
  }
  inbox_stats st;
  q.add_stats(st);
  // Counted once each: accepted on their first push, received on their last pop.
  EXPECT_EQ(st.accepted, 3U);
  EXPECT_EQ(st.received, 3U);
  EXPECT_EQ(st.queued, 0U);
}

// Two threads bounce one message between two rings, so that each side keeps finding its ring
// empty and going to sleep (or nearly) while the other publishes: a lost wake-up hangs a
// round trip, and the watchdog fails the test.
TEST(RingQueue, PingPongNeverLosesAWakeUp) {
  ring_queue there(opts(8));
  ring_queue back(opts(8));
  constexpr int rounds = 20000;
  auto echo = std::async(std::launch::async, [&] {
    for (int i = 0; i < rounds; ++i) {
      auto m = there.pop(false, {}, nullptr);
      if (!m || !back.push(std::move(*m), lane_push::direct, not_cancelled)) return false;
    }
    return true;
  });
  auto driver = std::async(std::launch::async, [&] {
    for (int i = 0; i < rounds; ++i) {
      if (!there.push(tagged(0, i), lane_push::direct, not_cancelled)) return false;
      auto m = back.pop(false, {}, nullptr);
      if (!m || m->route.resource != std::to_string(i)) return false;
    }
    return true;
  });
  EXPECT_TRUE(get_bounded(driver));
  EXPECT_TRUE(get_bounded(echo));
}

}  // namespace
}  // namespace beehive::detail
