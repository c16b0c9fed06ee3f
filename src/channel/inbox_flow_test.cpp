// SPDX-License-Identifier: Apache-2.0
// The inbox's waits and flow control: cancel wakes blocked senders (every policy, plain and
// lanes), a stop request ends a receive, "for ever" deadlines do not overflow, and the relay
// flow control (`try_push`, `when_writable`, `room`).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "bounded_wait.hpp"
#include "channel/inbox.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::get_bounded;

message numbered(int n) {
  message m;
  m.header.id = std::to_string(n);
  m.route.resource = "r" + std::to_string(n);
  m.route.operation = "update";
  return m;
}

inbox_options opts(std::size_t capacity, overflow_policy p = overflow_policy::block) {
  inbox_options o;
  o.capacity = capacity;
  o.overflow = p;
  return o;
}

inbox_options two_lanes(std::size_t low_capacity, overflow_policy low) {
  inbox_options o;
  o.lanes.lanes = {lane_options{4, overflow_policy::block, {}},
                   lane_options{low_capacity, low, {}}};
  o.lanes.rules = {{route_field::operation, "heartbeat", 0}};
  o.lanes.default_lane = 1;
  return o;
}

// A sender blocked on a full inbox wakes with `cancelled`; its message is intact and counted
// as refused, not accepted.
void expect_cancel_wakes(const inbox_options& o, bool group) {
  std::stop_source cancel;
  inbox box(o, cancel.get_token());
  std::size_t filled = 0;
  while (box.room() > 0) {
    ASSERT_TRUE(box.push(numbered(static_cast<int>(++filled))));
  }
  if (group) {
    // Fill the parking too (as large as the capacity), so that the group sender has to wait.
    const std::size_t capacity = filled;
    for (std::size_t i = 0; i < capacity; ++i) {
      ASSERT_TRUE(box.push_group(numbered(static_cast<int>(++filled))));
    }
    EXPECT_EQ(box.stats().queued, 2 * capacity);
  }
  const auto before = box.stats();
  auto sender = std::async(std::launch::async, [&] {
    message m = numbered(999);
    auto r = group ? box.push_group(std::move(m)) : box.push(std::move(m));
    return std::make_pair(r, m.header.id.str());
  });
  ASSERT_TRUE(eventually([&] { return box.waiting_senders() == 1; }));
  cancel.request_stop();
  auto [r, id] = get_bounded(sender);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::cancelled);
  EXPECT_EQ(id, "999");  // the message went back to the caller
  const auto after = box.stats();
  EXPECT_EQ(after.rejected_cancelled, before.rejected_cancelled + 1);
  EXPECT_EQ(after.accepted, before.accepted);
  EXPECT_TRUE(box.cancelled());
  // Later sends to the full inbox fail at once; the receiver still drains what is queued.
  EXPECT_EQ(box.push(numbered(1000)).error(), errc::cancelled);
  EXPECT_TRUE(box.pop());
}

TEST(InboxCancel, WakesBlockedSender) { expect_cancel_wakes(opts(2), false); }

TEST(InboxCancel, WakesBlockedSenderWithATimeout) {
  auto o = opts(2);
  o.block_timeout = 1h;
  expect_cancel_wakes(o, false);
}

TEST(InboxCancel, WakesGroupSenderPastItsParking) { expect_cancel_wakes(opts(2), true); }

TEST(InboxCancel, WakesSenderBlockedOnAFullLane) {
  expect_cancel_wakes(two_lanes(2, overflow_policy::block), false);
}

TEST(InboxCancel, WakesSenderBlockedOnACoalescingInbox) {
  auto o = opts(2);
  o.coalescing.enabled = true;
  expect_cancel_wakes(o, false);
}

TEST(InboxCancel, FailAndDropOldestNeverWaitAndIgnoreIt) {
  std::stop_source cancel;
  inbox failing(opts(1, overflow_policy::fail), cancel.get_token());
  inbox evicting(opts(1, overflow_policy::drop_oldest), cancel.get_token());
  cancel.request_stop();
  ASSERT_TRUE(failing.push(numbered(1)));
  EXPECT_EQ(failing.push(numbered(2)).error(), errc::queue_full);
  ASSERT_TRUE(evicting.push(numbered(1)));
  ASSERT_TRUE(evicting.push(numbered(2)));
  EXPECT_EQ(evicting.stats().dropped_oldest, 1U);
  EXPECT_EQ(evicting.pop()->header.id, "2");
}

TEST(InboxCancel, ANonFullInboxStillAcceptsAfterCancel) {
  std::stop_source cancel;
  inbox box(opts(4), cancel.get_token());
  cancel.request_stop();
  EXPECT_TRUE(box.push(numbered(1)));
  EXPECT_EQ(box.pop()->header.id, "1");
}

TEST(InboxWaits, BlockTimeoutMaxWaitsForEver) {
  auto o = opts(1);
  o.block_timeout = std::chrono::nanoseconds::max();
  inbox box(o);
  ASSERT_TRUE(box.push(numbered(1)));
  auto sender = std::async(std::launch::async, [&] { return box.push(numbered(2)); });
  ASSERT_TRUE(eventually([&] { return box.waiting_senders() == 1; }));
  ASSERT_TRUE(box.pop());
  EXPECT_TRUE(get_bounded(sender));  // not timed_out at once (an overflowed deadline)
  EXPECT_EQ(box.stats().rejected_full, 0U);
}

TEST(InboxWaits, PopUntilMaxWaitsForAMessage) {
  inbox box(opts(4));
  auto receiver = std::async(std::launch::async,
                             [&] { return box.pop_until(inbox::clock::time_point::max()); });
  ASSERT_TRUE(eventually([&] { return box.waiting_receivers() == 1; }));
  ASSERT_TRUE(box.push(numbered(5)));
  auto m = get_bounded(receiver);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, "5");
}

void expect_stop_ends_receive(const inbox_options& o) {
  inbox box(o);
  std::stop_source stop;
  ASSERT_TRUE(box.push(numbered(1)));
  stop.request_stop();
  // Draining semantics: what is queued comes first.
  auto first = box.pop(stop.get_token());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->header.id, "1");
  EXPECT_EQ(box.pop(stop.get_token()).error(), errc::cancelled);

  std::stop_source later;
  auto receiver = std::async(std::launch::async, [&] {
    return box.pop_until(inbox::clock::time_point::max(), later.get_token());
  });
  ASSERT_TRUE(eventually([&] { return box.waiting_receivers() == 1; }));
  later.request_stop();
  auto r = get_bounded(receiver);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::cancelled);
  // A receive without a stop request still times out as before.
  std::stop_source unused;
  EXPECT_EQ(box.pop_until(inbox::clock::now() + 1ms, unused.get_token()).error(), errc::timed_out);
}

TEST(InboxWaits, StopRequestEndsAReceive) { expect_stop_ends_receive(opts(4)); }

TEST(InboxWaits, StopRequestEndsAReceiveWithLanes) {
  expect_stop_ends_receive(two_lanes(4, overflow_policy::block));
}

void expect_relay_flow(const inbox_options& o) {
  inbox box(o);
  const std::size_t capacity = box.room();
  ASSERT_GT(capacity, 0U);
  for (std::size_t i = 0; i < capacity; ++i) {
    ASSERT_TRUE(box.try_push(numbered(static_cast<int>(i))));
  }
  EXPECT_EQ(box.room(), 0U);
  const auto before = box.stats();
  message held = numbered(77);
  auto r = box.try_push(std::move(held));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::would_block);
  EXPECT_EQ(held.header.id, "77");  // intact
  const auto after = box.stats();
  // Not a loss: nothing counted.
  EXPECT_EQ(after.accepted, before.accepted);
  EXPECT_EQ(after.rejected_full, before.rejected_full);
  EXPECT_EQ(after.dropped_oldest, before.dropped_oldest);

  std::atomic<int> fired{0};
  std::atomic<std::thread::id> by{};
  ASSERT_TRUE(box.when_writable([&] {
    by.store(std::this_thread::get_id());
    fired.fetch_add(1);
  }));
  EXPECT_EQ(fired.load(), 0);
  std::thread::id receiver_id;
  std::thread receiver([&] {
    receiver_id = std::this_thread::get_id();
    for (std::size_t i = 0; i < capacity; ++i) ASSERT_TRUE(box.pop());
  });
  receiver.join();
  EXPECT_EQ(fired.load(), 1);  // once
  EXPECT_EQ(by.load(), receiver_id);
  EXPECT_TRUE(box.try_push(std::move(held)));
  // With room, `when_writable` keeps nothing and says so.
  EXPECT_FALSE(box.when_writable([&] { fired.fetch_add(1); }));
  EXPECT_EQ(fired.load(), 1);
}

TEST(InboxRelay, NeverWaitsAndFiresWhenWritable) { expect_relay_flow(opts(8)); }

TEST(InboxRelay, NeverWaitsOnABlockingInboxWithABigBatch) { expect_relay_flow(opts(64)); }

TEST(InboxRelay, NeverWaitsOnAFullLane) {
  inbox_options o;
  o.lanes.lanes = {lane_options{3, overflow_policy::block, {}}};
  expect_relay_flow(o);
}

TEST(InboxRelay, NeverWaitsOnACoalescingInbox) {
  auto o = opts(5);
  o.coalescing.enabled = true;
  expect_relay_flow(o);
}

TEST(InboxRelay, WhenWritableFiresOnClose) {
  for (const bool shaped : {false, true}) {
    auto o = opts(1);
    o.coalescing.enabled = shaped;
    inbox box(o);
    ASSERT_TRUE(box.try_push(numbered(1)));
    int fired = 0;
    ASSERT_TRUE(box.when_writable([&] { ++fired; }));
    std::vector<message> dropped;
    box.close(dropped);
    EXPECT_EQ(fired, 1);
    EXPECT_EQ(box.try_push(numbered(2)).error(), errc::channel_closed);
    EXPECT_FALSE(box.when_writable([&] { ++fired; }));
  }
}

TEST(InboxRelay, ALaterWhenWritableReplacesAnEarlierOne) {
  inbox box(opts(1));
  ASSERT_TRUE(box.push(numbered(1)));
  int first = 0;
  int second = 0;
  ASSERT_TRUE(box.when_writable([&] { ++first; }));
  ASSERT_TRUE(box.when_writable([&] { ++second; }));
  ASSERT_TRUE(box.pop());
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
}

TEST(InboxRelay, RelayQueuesBehindParkedGroupMessages) {
  inbox box(opts(1));
  ASSERT_TRUE(box.push(numbered(1)));
  ASSERT_TRUE(box.push_group(numbered(2)));  // parked
  EXPECT_EQ(box.room(), 0U);
  EXPECT_EQ(box.try_push(numbered(3)).error(), errc::would_block);
  EXPECT_EQ(box.pop()->header.id, "1");
  EXPECT_EQ(box.pop()->header.id, "2");
  EXPECT_TRUE(box.try_push(numbered(3)));
}

TEST(InboxRelay, RoomCountsWhatIsQueued) {
  inbox box(opts(4));
  EXPECT_EQ(box.room(), 4U);
  ASSERT_TRUE(box.push(numbered(1)));
  EXPECT_EQ(box.room(), 3U);
  inbox laned(two_lanes(6, overflow_policy::fail));
  EXPECT_EQ(laned.room(), 4U);  // the smallest lane's room
  message hb = numbered(1);
  hb.route.operation = "heartbeat";
  ASSERT_TRUE(laned.push(std::move(hb)));
  EXPECT_EQ(laned.room(), 3U);
}

}  // namespace
}  // namespace beehive::detail

namespace beehive::detail {
namespace {

// A relay waits nowhere, but only `block` holds it back: under `fail` and `drop_oldest` the
// policy applies as to any push (a relaying type must not hold a message that the module's own
// policy says to refuse or to make room for), plain and with lanes.
TEST(InboxRelay, FailAndDropOldestApplyTheirPolicyToARelay) {
  for (const bool lanes : {false, true}) {
    SCOPED_TRACE(lanes ? "lanes" : "plain");
    inbox failing(lanes ? two_lanes(2, overflow_policy::fail) : opts(2, overflow_policy::fail));
    inbox lossy(lanes ? two_lanes(2, overflow_policy::drop_oldest)
                      : opts(2, overflow_policy::drop_oldest));
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(failing.try_push(numbered(i)));
      ASSERT_TRUE(lossy.try_push(numbered(i)));
    }
    auto r = failing.try_push(numbered(2));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::queue_full);
    EXPECT_EQ(failing.stats().rejected_full, 1U);
    ASSERT_TRUE(lossy.try_push(numbered(2)));
    EXPECT_EQ(lossy.stats().dropped_oldest, 1U);
    auto first = lossy.pop();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->header.id, "1");  // the oldest went
  }
}

}  // namespace
}  // namespace beehive::detail
