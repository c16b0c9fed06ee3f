// SPDX-License-Identifier: Apache-2.0
// One lane of a lane queue, alone: its policy, coalescing index, parking, epoch and counters.
#include "channel/lane.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace beehive::detail {
namespace {

const std::atomic<bool> not_cancelled{false};

message make(const std::string& id) {
  message m;
  m.header.id = id;
  return m;
}

struct pushed {
  expected<void> r;
  message out;
  bool stale = false;
};

pushed push(lane& l, message m, std::string key = {}, lane_push how = lane_push::direct,
            std::uint64_t epoch = 1) {
  pushed p;
  p.r = l.push(std::move(m), std::move(key), how, not_cancelled, epoch, p.out, p.stale);
  return p;
}

std::string take_id(lane& l) {
  auto m = l.take();
  return m ? m->header.id.str() : std::string("<none>");
}

lane_stats stats_of(const lane& l) {
  inbox_stats st;
  l.add_stats(st, true);
  return st.lanes.at(0);
}

TEST(Lane, ALaterValueOfAKeyReplacesTheQueuedOneAndHandsItBack) {
  lane l;
  l.configure({4, overflow_policy::fail, {}}, 1);
  ASSERT_TRUE(push(l, make("a1"), "a").r);
  ASSERT_TRUE(push(l, make("b1"), "b").r);
  auto p = push(l, make("a2"), "a");
  ASSERT_TRUE(p.r);
  EXPECT_EQ(p.out.header.id.str(), "a1");  // for the caller to destroy unlocked
  EXPECT_EQ(l.ready(), 2U);
  EXPECT_EQ(take_id(l), "a2");
  EXPECT_EQ(take_id(l), "b1");
  EXPECT_FALSE(l.take());
  const auto st = stats_of(l);
  EXPECT_EQ(st.accepted, 3U);
  EXPECT_EQ(st.coalesced, 1U);
  EXPECT_EQ(st.received, 2U);
}

TEST(Lane, DropOldestHandsTheEvictedMessageBack) {
  lane l;
  l.configure({2, overflow_policy::drop_oldest, {}}, 1);
  ASSERT_TRUE(push(l, make("1"), "k1").r);
  ASSERT_TRUE(push(l, make("2")).r);
  auto p = push(l, make("3"));
  ASSERT_TRUE(p.r);
  EXPECT_EQ(p.out.header.id.str(), "1");
  ASSERT_TRUE(push(l, make("4"), "k1").r);  // k1 left the index with its message
  EXPECT_EQ(stats_of(l).coalesced, 0U);
  EXPECT_EQ(stats_of(l).dropped, 2U);
  EXPECT_EQ(take_id(l), "3");
  EXPECT_EQ(take_id(l), "4");
}

TEST(Lane, AStaleEpochOrAClosedLaneLeavesTheMessageIntact) {
  lane l;
  l.configure({2, overflow_policy::block, {}}, 2);
  message m = make("m");
  message out;
  bool stale = false;
  auto r = l.push(std::move(m), "k", lane_push::direct, not_cancelled, 1, out, stale);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::channel_closed);
  EXPECT_TRUE(stale);
  EXPECT_EQ(m.header.id.str(), "m");
  std::vector<message> dropped;
  l.close(false, dropped);
  stale = false;
  r = l.push(std::move(m), "k", lane_push::direct, not_cancelled, 2, out, stale);
  EXPECT_EQ(r.error(), errc::channel_closed);
  EXPECT_FALSE(stale);
  EXPECT_EQ(m.header.id.str(), "m");
  EXPECT_EQ(stats_of(l).accepted, 0U);
}

TEST(Lane, GroupCopiesParkOutOfTheConsumersSightAndMoveInInOrder) {
  lane l;
  l.configure({1, overflow_policy::block, {}}, 1);
  ASSERT_TRUE(push(l, make("1")).r);
  ASSERT_TRUE(push(l, make("2"), {}, lane_push::group).r);  // parked
  EXPECT_EQ(l.ready(), 1U);
  EXPECT_EQ(l.room(), 0U);
  // A relay never parks nor waits; a plain push queues behind the parked copy (no room).
  EXPECT_EQ(push(l, make("3"), {}, lane_push::relay).r.error(), errc::would_block);
  EXPECT_EQ(take_id(l), "1");
  EXPECT_EQ(l.ready(), 1U);  // the parked copy moved in
  EXPECT_EQ(take_id(l), "2");
  EXPECT_EQ(l.ready(), 0U);
}

TEST(Lane, MarksTheWritableFlagOnlyWhenFull) {
  lane l;
  l.configure({1, overflow_policy::fail, {}}, 1);
  std::atomic<bool> flag{false};
  EXPECT_FALSE(l.mark_if_full(flag));
  EXPECT_FALSE(flag.load());
  ASSERT_TRUE(push(l, make("1")).r);
  EXPECT_TRUE(l.mark_if_full(flag));
  EXPECT_TRUE(flag.load());
}

TEST(Lane, CloseWithDropCountsAndHandsBackEverything) {
  lane l;
  l.configure({1, overflow_policy::block, {}}, 1);
  ASSERT_TRUE(push(l, make("1"), "a").r);
  ASSERT_TRUE(push(l, make("2"), "b", lane_push::group).r);
  std::vector<message> dropped;
  l.close(true, dropped);
  ASSERT_EQ(dropped.size(), 2U);
  EXPECT_EQ(l.ready(), 0U);
  inbox_stats st;
  l.add_stats(st, false);
  EXPECT_TRUE(st.lanes.empty());
  EXPECT_EQ(st.dropped_on_close, 2U);
  EXPECT_EQ(st.queued, 0U);
  l.open();
  ASSERT_TRUE(push(l, make("3"), "a").r);  // the index was cleared: a new entry
  EXPECT_EQ(stats_of(l).coalesced, 0U);
}

}  // namespace
}  // namespace beehive::detail
