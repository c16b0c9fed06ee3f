// SPDX-License-Identifier: Apache-2.0
// The lane queue under threads (issue 15): each lane has its own lock, so a flood in a low lane
// never makes a high-lane sender (or the consumer taking from a high lane) wait; and under
// concurrent producers, relays, closes and reopens nothing is lost uncounted and no wake-up is
// lost. Run under the tsan preset too.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "bounded_wait.hpp"
#include "channel/inbox.hpp"
#include "channel/lane_queue.hpp"
#include "routed_message.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::get_bounded;
using test::routed;

inbox_options two_lanes(std::size_t low_capacity, overflow_policy low = overflow_policy::block,
                        bool coalesce = false) {
  inbox_options o;
  o.lanes.lanes = {lane_options{64, overflow_policy::block, {}},
                   lane_options{low_capacity, low, {}}};
  o.lanes.rules = {{route_field::operation, "heartbeat", 0}};
  o.lanes.default_lane = 1;
  o.coalescing.enabled = coalesce;
  return o;
}

expected<void> push_to(lane_queue& q, message m) {
  static const std::atomic<bool> not_cancelled{false};
  lane_ticket t = q.ticket(m);
  return q.push(std::move(m), std::move(t), lane_push::direct, not_cancelled);
}

void expect_identity(const inbox_stats& st) {
  EXPECT_EQ(st.accepted,
            st.received + st.coalesced + st.dropped_oldest + st.dropped_on_close + st.queued);
}

// With one lock for all lanes, the heartbeat's push (and the pop that takes it) would wait
// for the low lane's lock, held here for as long as the test runs.
TEST(LaneQueueThreads, ATopLanePushAndPopNeverNeedTheLowLanesLock) {
  lane_queue q(two_lanes(8));
  ASSERT_TRUE(push_to(q, routed("u0", "update")));
  auto held = q.hold_lane(1);
  auto hb = std::async(std::launch::async, [&] {
    auto r = push_to(q, routed("h0", "heartbeat"));
    if (!r) return std::string("push failed");
    auto m = q.pop(true, lane_queue::clock::now() + test::watchdog, nullptr);
    return m ? m->header.id.str() : std::string("pop failed");
  });
  const bool done = hb.wait_for(test::watchdog) == std::future_status::ready;
  held.unlock();  // lets a (wrongly) waiting thread finish before the test ends
  EXPECT_TRUE(done) << "the heartbeat waited for the low lane's lock";
  EXPECT_EQ(get_bounded(hb), "h0");
  auto u = q.pop(true, lane_queue::clock::now() + test::watchdog, nullptr);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->header.id.str(), "u0");
}

// A sender blocked in the low lane (asleep on its condition) and a holder of that lane's lock
// do not delay the top lane.
TEST(LaneQueueThreads, ASenderBlockedInTheLowLaneNeverDelaysTheTopLane) {
  inbox box(two_lanes(1));
  ASSERT_TRUE(box.push(routed("u0", "update")));
  auto blocked = std::async(std::launch::async, [&] { return box.push(routed("u1", "update")); });
  ASSERT_TRUE(eventually([&] { return box.waiting_senders() == 1; }));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(box.push(routed("h" + std::to_string(i), "heartbeat")));
  for (int i = 0; i < 50; ++i) {
    auto m = box.pop_until(inbox::clock::now() + test::watchdog);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->header.id.str(), "h" + std::to_string(i));
  }
  EXPECT_EQ(box.waiting_senders(), 1U);
  auto m = box.pop();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id.str(), "u0");
  EXPECT_TRUE(get_bounded(blocked));
}

// The storm in small: two producers flood a coalescing low lane while a third sends
// heartbeats and a consumer drains; every heartbeat arrives, in order, and the accounting
// identity holds exactly at the end.
TEST(LaneQueueThreads, AFloodAndHeartbeatsAreAllAccountedFor) {
  inbox box(two_lanes(256, overflow_policy::block, true));
  constexpr int per_producer = 20000;
  constexpr int heartbeats = 500;
  std::atomic<int> producers_left{3};
  auto flood = [&](int p) {
    for (int i = 0; i < per_producer; ++i) {
      auto m = routed(std::to_string(p) + ":" + std::to_string(i), "update",
                      "pod/" + std::to_string(i % 300));
      EXPECT_TRUE(box.push(std::move(m)));
    }
    producers_left.fetch_sub(1);
  };
  auto beat = [&] {
    for (int i = 0; i < heartbeats; ++i) {
      EXPECT_TRUE(
          box.push(routed("hb" + std::to_string(i), "heartbeat", "node/" + std::to_string(i))));
      std::this_thread::yield();
    }
    producers_left.fetch_sub(1);
  };
  std::thread a(flood, 0);
  std::thread b(flood, 1);
  std::thread h(beat);
  int next_hb = 0;
  std::uint64_t updates = 0;
  for (;;) {
    auto m = box.pop_until(inbox::clock::now() + 1ms);
    if (!m) {
      ASSERT_EQ(m.error(), errc::timed_out);
      if (producers_left.load() == 0 && box.stats().queued == 0) break;
      continue;
    }
    if (m->route.operation.str() == "heartbeat") {
      EXPECT_EQ(m->header.id.str(), "hb" + std::to_string(next_hb));
      ++next_hb;
    } else {
      ++updates;
    }
  }
  a.join();
  b.join();
  h.join();
  EXPECT_EQ(next_hb, heartbeats);
  const auto st = box.stats();
  expect_identity(st);
  EXPECT_EQ(st.accepted, 2U * per_producer + heartbeats);
  EXPECT_EQ(st.received, updates + heartbeats);
  EXPECT_EQ(st.queued, 0U);
  EXPECT_EQ(st.lanes[0].coalesced, 0U);
}

// Producers on every lane under each policy, a consumer, and closes and reopens (with the
// lane count changing) in mid-flight: every accepted message is received, coalesced or
// dropped, and every push that failed said so.
TEST(LaneQueueThreads, ClosesAndReopensInMidFlightLoseNothingUncounted) {
  inbox_options three;
  three.lanes.lanes = {lane_options{4, overflow_policy::block, 1ms},
                       lane_options{8, overflow_policy::drop_oldest, {}},
                       lane_options{8, overflow_policy::fail, {}}};
  three.lanes.rules = {{route_field::operation, "heartbeat", 0},
                       {route_field::operation, "status", 1}};
  three.lanes.default_lane = 2;
  three.lanes.starvation_bound = 2;
  three.coalescing.enabled = true;
  inbox_options two = two_lanes(16, overflow_policy::block);
  two.lanes.lanes[1].block_timeout = 1ms;
  inbox box(three);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> received{0};
  const char* ops[] = {"heartbeat", "status", "update"};
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; !stop.load(); ++i) {
        auto m = routed(std::to_string(i), ops[(i + p) % 3], "pod/" + std::to_string(i % 7));
        if (i % 5 == 0) m.header.sync = true;  // never coalesces
        auto r = (i % 4 == 0) ? box.push_group(std::move(m)) : box.push(std::move(m));
        if (r) {
          ok.fetch_add(1);
        } else {
          const std::error_code e = r.error();
          EXPECT_TRUE(e == errc::queue_full || e == errc::timed_out || e == errc::channel_closed)
              << e.message();
        }
      }
    });
  }
  std::thread consumer([&] {
    while (!stop.load()) {
      if (box.pop_until(inbox::clock::now() + 1ms)) received.fetch_add(1);
    }
  });
  std::vector<message> dropped;
  for (int round = 0; round < 40; ++round) {
    const auto before = box.stats().accepted;
    ASSERT_TRUE(eventually([&] { return box.stats().accepted > before + 20; }));
    box.close(dropped);
    box.reopen(round % 2 == 0 ? two : three);
  }
  stop.store(true);
  for (auto& t : producers) t.join();
  consumer.join();
  std::uint64_t drained = 0;
  while (box.stats().queued > 0) {
    ASSERT_TRUE(box.pop_until(inbox::clock::now() + test::watchdog));
    ++drained;
  }
  const auto st = box.stats();
  expect_identity(st);
  EXPECT_EQ(st.accepted, ok.load());
  EXPECT_EQ(st.received, received.load() + drained);
  EXPECT_TRUE(dropped.empty());  // close mode drain: nothing dropped on close
}

// Relays never wait: each one that finds its lane full waits for `when_writable`, which must
// fire (a consumer that freed room always runs it before it can sleep) - else this hangs.
TEST(LaneQueueThreads, WhenWritableIsNeverLost) {
  inbox box(two_lanes(2, overflow_policy::block, false));
  constexpr int count = 3000;
  std::thread relay([&] {
    for (int i = 0; i < count; ++i) {
      for (;;) {
        auto m = routed(std::to_string(i), i % 3 == 0 ? "heartbeat" : "update");
        auto r = box.try_push(std::move(m));
        if (r) break;
        ASSERT_EQ(r.error(), errc::would_block);
        auto fired = std::make_shared<std::promise<void>>();
        auto f = fired->get_future();
        if (!box.when_writable([fired] { fired->set_value(); })) continue;
        ASSERT_EQ(f.wait_for(test::watchdog), std::future_status::ready) << "lost wake-up";
      }
    }
  });
  for (int i = 0; i < count; ++i) {
    auto m = box.pop_until(inbox::clock::now() + test::watchdog);
    ASSERT_TRUE(m);
  }
  relay.join();
  const auto st = box.stats();
  expect_identity(st);
  EXPECT_EQ(st.received, static_cast<std::uint64_t>(count));
}

// A consumer that sleeps between two messages is always woken: one message at a time, to a
// lane picked in turn, each waited for with no bound but the watchdog.
TEST(LaneQueueThreads, TheConsumerNeverMissesAWakeUp) {
  inbox box(two_lanes(4));
  constexpr int rounds = 2000;
  std::latch started(1);
  auto consumer = std::async(std::launch::async, [&] {
    started.count_down();
    int n = 0;
    for (; n < rounds; ++n) {
      if (!box.pop()) break;
    }
    return n;
  });
  started.wait();
  for (int i = 0; i < rounds; ++i) {
    ASSERT_TRUE(box.push(routed(std::to_string(i), i % 2 == 0 ? "heartbeat" : "update")));
    ASSERT_TRUE(
        eventually([&] { return box.stats().received == static_cast<std::uint64_t>(i + 1); }));
  }
  EXPECT_EQ(get_bounded(consumer), rounds);
}

}  // namespace
}  // namespace beehive::detail
