// SPDX-License-Identifier: Apache-2.0
#include "channel/inbox.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bounded_wait.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::get_bounded;
using test::watchdog;

message numbered(int n, const std::string& source = "p") {
  message m;
  m.header.id = std::to_string(n);
  m.route.source = source;
  return m;
}

inbox_options opts(std::size_t capacity, overflow_policy p = overflow_policy::block,
                   close_mode c = close_mode::drain) {
  inbox_options o;
  o.capacity = capacity;
  o.overflow = p;
  o.close = c;
  return o;
}

TEST(Inbox, DeliversInOrder) {
  inbox box(opts(8));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(box.push(numbered(i)));
  for (int i = 0; i < 5; ++i) {
    auto m = box.pop();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->header.id, std::to_string(i));
  }
  auto st = box.stats();
  EXPECT_EQ(st.accepted, 5U);
  EXPECT_EQ(st.received, 5U);
  EXPECT_EQ(st.queued, 0U);
  EXPECT_EQ(st.capacity, 8U);
}

TEST(Inbox, FailPolicyReturnsQueueFullAndCounts) {
  inbox box(opts(2, overflow_policy::fail));
  ASSERT_TRUE(box.push(numbered(1)));
  ASSERT_TRUE(box.push(numbered(2)));
  auto r = box.push(numbered(3));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::queue_full);
  auto st = box.stats();
  EXPECT_EQ(st.rejected_full, 1U);
  EXPECT_EQ(st.queued, 2U);
  // Room again once the receiver took one.
  ASSERT_TRUE(box.pop());
  EXPECT_TRUE(box.push(numbered(4)));
}

TEST(Inbox, CapacityHoldsWhileConsumerHoldsABatch) {
  inbox box(opts(4, overflow_policy::fail));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(box.push(numbered(i)));
  ASSERT_TRUE(box.pop());  // the consumer now holds the other three privately
  ASSERT_TRUE(box.push(numbered(4)));
  EXPECT_EQ(box.push(numbered(5)).error(), errc::queue_full);
  EXPECT_EQ(box.stats().queued, 4U);
}

TEST(Inbox, BlockPolicyTimesOutAndCounts) {
  auto o = opts(1);
  o.block_timeout = 2ms;
  inbox box(o);
  ASSERT_TRUE(box.push(numbered(1)));
  auto r = box.push(numbered(2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  EXPECT_EQ(box.stats().rejected_full, 1U);
  EXPECT_EQ(box.stats().queued, 1U);
}

TEST(Inbox, BlockPolicyWaitsForRoom) {
  inbox box(opts(1));
  ASSERT_TRUE(box.push(numbered(1)));
  auto sender = std::async(std::launch::async, [&] { return box.push(numbered(2)); });
  ASSERT_TRUE(eventually([&] { return box.waiting_senders() == 1; }));
  auto first = box.pop();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->header.id, "1");
  EXPECT_TRUE(get_bounded(sender));
  auto second = box.pop();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->header.id, "2");
}

TEST(Inbox, DropOldestEvictsAndCounts) {
  inbox box(opts(2, overflow_policy::drop_oldest));
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(box.push(numbered(i)));
  auto st = box.stats();
  EXPECT_EQ(st.dropped_oldest, 3U);
  EXPECT_EQ(st.queued, 2U);
  EXPECT_EQ(box.pop()->header.id, "4");
  EXPECT_EQ(box.pop()->header.id, "5");
}

TEST(Inbox, CloseWakesBlockedSender) {
  inbox box(opts(1));
  ASSERT_TRUE(box.push(numbered(1)));
  auto sender = std::async(std::launch::async, [&] { return box.push(numbered(2)); });
  ASSERT_TRUE(eventually([&] { return box.waiting_senders() == 1; }));
  std::vector<message> dropped;
  box.close(dropped);
  auto r = get_bounded(sender);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::channel_closed);
}

TEST(Inbox, CloseWakesBlockedReceiver) {
  inbox box(opts(4));
  auto receiver = std::async(std::launch::async, [&] { return box.pop(); });
  ASSERT_TRUE(eventually([&] { return box.waiting_receivers() == 1; }));
  std::vector<message> dropped;
  box.close(dropped);
  auto r = get_bounded(receiver);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::channel_closed);
}

TEST(Inbox, SleepingReceiverWakesOnPush) {
  inbox box(opts(4));
  auto receiver = std::async(std::launch::async, [&] { return box.pop(); });
  ASSERT_TRUE(eventually([&] { return box.waiting_receivers() == 1; }));
  ASSERT_TRUE(box.push(numbered(7)));
  auto r = get_bounded(receiver);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.id, "7");
}

TEST(Inbox, CloseDrainKeepsQueuedMessages) {
  inbox box(opts(4));
  ASSERT_TRUE(box.push(numbered(1)));
  ASSERT_TRUE(box.push(numbered(2)));
  std::vector<message> dropped;
  box.close(dropped);
  EXPECT_TRUE(box.closed());
  EXPECT_EQ(box.push(numbered(3)).error(), errc::channel_closed);
  EXPECT_EQ(box.pop()->header.id, "1");
  EXPECT_EQ(box.pop()->header.id, "2");
  EXPECT_EQ(box.pop().error(), errc::channel_closed);
  EXPECT_EQ(box.stats().dropped_on_close, 0U);
  EXPECT_TRUE(box.stats().closed);
}

TEST(Inbox, CloseDropDropsAndCounts) {
  inbox box(opts(4, overflow_policy::block, close_mode::drop));
  ASSERT_TRUE(box.push(numbered(1)));
  ASSERT_TRUE(box.push(numbered(2)));
  ASSERT_TRUE(box.push(numbered(3)));
  ASSERT_TRUE(box.pop());  // the other two sit in the consumer's batch
  ASSERT_TRUE(box.push(numbered(4)));
  std::vector<message> dropped;
  box.close(dropped);
  EXPECT_EQ(box.pop().error(), errc::channel_closed);
  auto st = box.stats();
  EXPECT_EQ(st.dropped_on_close, 3U);
  EXPECT_EQ(st.queued, 0U);
  // The dropped messages are handed to the caller, oldest first, to destroy outside the locks.
  ASSERT_EQ(dropped.size(), 3U);
  EXPECT_EQ(dropped[0].header.id, "2");
  EXPECT_EQ(dropped[2].header.id, "4");
}

TEST(Inbox, ReopenKeepsQueuedMessagesAndCounters) {
  inbox box(opts(4));
  ASSERT_TRUE(box.push(numbered(1)));
  std::vector<message> dropped;
  box.close(dropped);
  EXPECT_TRUE(dropped.empty());  // drain mode keeps them
  inbox_options bigger = opts(8);
  box.reopen(bigger);
  EXPECT_FALSE(box.closed());
  ASSERT_TRUE(box.push(numbered(2)));
  EXPECT_EQ(box.pop()->header.id, "1");
  EXPECT_EQ(box.pop()->header.id, "2");
  auto st = box.stats();
  EXPECT_EQ(st.capacity, 8U);
  EXPECT_EQ(st.accepted, 2U);
  EXPECT_EQ(st.received, 2U);
}

TEST(Inbox, ReopenAsDropOldestEvictsTheOldestIncludingTheConsumersBatch) {
  inbox box(opts(3));
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(box.push(numbered(i)));
  ASSERT_EQ(box.pop()->header.id, "1");  // 2 and 3 now sit in the consumer's batch
  std::vector<message> dropped;
  box.close(dropped);
  auto o = opts(2);
  o.overflow = overflow_policy::drop_oldest;
  box.reopen(o);
  ASSERT_TRUE(box.push(numbered(4)));  // full (2, 3): evicts 2
  EXPECT_EQ(box.pop()->header.id, "3");
  EXPECT_EQ(box.pop()->header.id, "4");
  EXPECT_EQ(box.stats().dropped_oldest, 1U);
}

TEST(Inbox, DiscardDropsEverythingWhateverTheCloseMode) {
  inbox box(opts(4));
  ASSERT_TRUE(box.push(numbered(1)));
  ASSERT_TRUE(box.push(numbered(2)));
  std::vector<message> dropped;
  box.close(dropped);
  EXPECT_TRUE(dropped.empty());
  box.discard(dropped);
  EXPECT_EQ(dropped.size(), 2U);
  EXPECT_EQ(box.stats().dropped_on_close, 2U);
  EXPECT_EQ(box.pop().error(), errc::channel_closed);
}

TEST(Inbox, PopUntilTimesOut) {
  inbox box(opts(4));
  auto r = box.pop_until(inbox::clock::now() + 2ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
}

TEST(Inbox, GroupPushParksInsteadOfBlockingAndKeepsOrder) {
  inbox box(opts(2));  // block policy: a direct push would wait here
  ASSERT_TRUE(box.push(numbered(1)));
  ASSERT_TRUE(box.push(numbered(2)));
  // Full: group deliveries park and return at once.
  ASSERT_TRUE(box.push_group(numbered(3)));
  ASSERT_TRUE(box.push_group(numbered(4)));
  EXPECT_EQ(box.stats().queued, 4U);
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) {
    auto m = box.pop();
    ASSERT_TRUE(m);
    got.push_back(m->header.id.str());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3", "4"}));
}

TEST(Inbox, DirectPushQueuesBehindParkedMessages) {
  inbox box(opts(1, overflow_policy::fail));
  ASSERT_TRUE(box.push(numbered(1)));
  ASSERT_TRUE(box.push_group(numbered(2)));  // parked
  // A later direct send must not overtake the parked message, and parking is full: refused.
  EXPECT_EQ(box.push(numbered(3)).error(), errc::queue_full);
  EXPECT_EQ(box.push_group(numbered(3)).error(), errc::queue_full);
  EXPECT_EQ(box.pop()->header.id, "1");
  // The freed room went to the parked message first.
  EXPECT_EQ(box.push(numbered(4)).error(), errc::queue_full);
  EXPECT_EQ(box.pop()->header.id, "2");
  ASSERT_TRUE(box.push(numbered(4)));
  EXPECT_EQ(box.pop()->header.id, "4");
  EXPECT_EQ(box.stats().rejected_full, 3U);
}

TEST(Inbox, DirectPushBehindParkedWhenPendingHasRoom) {
  inbox box(opts(2, overflow_policy::fail));
  ASSERT_TRUE(box.push(numbered(1)));
  ASSERT_TRUE(box.push(numbered(2)));
  ASSERT_TRUE(box.push_group(numbered(3)));  // parked
  ASSERT_TRUE(box.push(numbered(4)));        // queues behind the parked one
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) got.push_back(box.pop()->header.id.str());
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3", "4"}));
}

TEST(Inbox, GroupSenderWaitsWhenParkingIsFull) {
  inbox box(opts(1));
  ASSERT_TRUE(box.push(numbered(1)));
  ASSERT_TRUE(box.push_group(numbered(2)));
  auto sender = std::async(std::launch::async, [&] { return box.push_group(numbered(3)); });
  ASSERT_TRUE(eventually([&] { return box.waiting_senders() == 1; }));
  EXPECT_EQ(box.pop()->header.id, "1");
  EXPECT_TRUE(get_bounded(sender));
  EXPECT_EQ(box.pop()->header.id, "2");
  EXPECT_EQ(box.pop()->header.id, "3");
}

TEST(Inbox, ManyProducersKeepTheirOrderUnderBackpressure) {
  constexpr int producers = 4;
  constexpr int per_producer = 20000;
  inbox box(opts(16));
  std::vector<std::future<bool>> senders;
  for (int p = 0; p < producers; ++p) {
    senders.push_back(std::async(std::launch::async, [&box, p] {
      for (int i = 0; i < per_producer; ++i) {
        auto m = numbered(i, std::to_string(p));
        // Every other message goes the group way, which may park.
        auto r = (i % 2 == 0) ? box.push(std::move(m)) : box.push_group(std::move(m));
        if (!r) return false;
      }
      return true;
    }));
  }
  std::vector<int> next(producers, 0);
  for (int n = 0; n < producers * per_producer; ++n) {
    auto m = box.pop_until(inbox::clock::now() + watchdog);
    ASSERT_TRUE(m);
    const int p = std::stoi(m->route.source.str());
    ASSERT_EQ(std::stoi(m->header.id.str()), next[static_cast<std::size_t>(p)]) << "producer " << p;
    ++next[static_cast<std::size_t>(p)];
  }
  for (auto& s : senders) EXPECT_TRUE(get_bounded(s));
  auto st = box.stats();
  EXPECT_EQ(st.accepted, static_cast<std::uint64_t>(producers * per_producer));
  EXPECT_EQ(st.received, st.accepted);
  EXPECT_EQ(st.queued, 0U);
}

}  // namespace
}  // namespace beehive::detail
