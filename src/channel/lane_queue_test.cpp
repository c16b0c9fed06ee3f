// SPDX-License-Identifier: Apache-2.0
// Priority lanes and coalescing (issue 15), through the inbox that uses them.
#include "channel/lane_queue.hpp"

#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "bounded_wait.hpp"
#include "channel/inbox.hpp"
#include "routed_message.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::get_bounded;
using test::routed;

inbox_options lanes(std::vector<lane_options> spec, std::size_t bound = 0) {
  inbox_options o;
  o.lanes.lanes = std::move(spec);
  o.lanes.rules = {{route_field::operation, "heartbeat", 0}, {route_field::operation, "alarm", 1}};
  o.lanes.default_lane = o.lanes.lanes.size() - 1;
  o.lanes.starvation_bound = bound;
  return o;
}

std::string pop_id(inbox& box) {
  auto m = box.pop_until(inbox::clock::now() + test::watchdog);
  EXPECT_TRUE(m);
  return m ? m->header.id.str() : std::string("<none>");
}

TEST(Lanes, TheHighestNonEmptyLaneIsServedFirst) {
  inbox box(lanes({{8}, {8}}));
  ASSERT_TRUE(box.push(routed("u1", "update")));
  ASSERT_TRUE(box.push(routed("u2", "update")));
  ASSERT_TRUE(box.push(routed("h1", "heartbeat")));
  EXPECT_EQ(pop_id(box), "h1");
  EXPECT_EQ(pop_id(box), "u1");
  EXPECT_EQ(pop_id(box), "u2");
}

TEST(Lanes, ClassifiedByAUserFunction) {
  inbox_options o = lanes({{8}, {8}});
  o.lanes.classify = [](const message& m) -> std::size_t {
    return m.route.source.str() == "kubelet" ? 0 : 7;  // 7: clamped to the last lane
  };
  inbox box(o);
  auto slow = routed("slow", "heartbeat");  // the function overrides the rules
  ASSERT_TRUE(box.push(std::move(slow)));
  auto fast = routed("fast", "update");
  fast.route.source = "kubelet";
  ASSERT_TRUE(box.push(std::move(fast)));
  EXPECT_EQ(pop_id(box), "fast");
  EXPECT_EQ(pop_id(box), "slow");
}

TEST(Lanes, TheStarvationBoundHoldsExactly) {
  constexpr std::size_t bound = 3;
  inbox box(lanes({{64}, {64}}, bound));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(box.push(routed("u" + std::to_string(i), "update")));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(box.push(routed("h" + std::to_string(i), "heartbeat")));
  // Exactly `bound` high-lane messages, then one low-lane message, while both hold messages.
  std::string order;
  for (int i = 0; i < 26; ++i) order += pop_id(box).substr(0, 1);
  EXPECT_EQ(order, "hhhuhhhuhhhuhhhuhhhuhhhuhh");
  EXPECT_EQ(order.size(), 26U);
}

TEST(Lanes, TheStarvationBoundCountsOnlyWhileTheLowLaneHoldsMessages) {
  inbox box(lanes({{64}, {64}}, 2));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(box.push(routed("h" + std::to_string(i), "heartbeat")));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pop_id(box), "h" + std::to_string(i));
  // The low lane was empty meanwhile: nothing was owed to it.
  ASSERT_TRUE(box.push(routed("u0", "update")));
  ASSERT_TRUE(box.push(routed("h5", "heartbeat")));
  ASSERT_TRUE(box.push(routed("h6", "heartbeat")));
  ASSERT_TRUE(box.push(routed("h7", "heartbeat")));
  EXPECT_EQ(pop_id(box), "h5");
  EXPECT_EQ(pop_id(box), "h6");
  EXPECT_EQ(pop_id(box), "u0");
  EXPECT_EQ(pop_id(box), "h7");
}

TEST(Lanes, WithThreeLanesTheHighestStarvingLaneGoesFirst) {
  inbox box(lanes({{64}, {64}, {64}}, 1));
  ASSERT_TRUE(box.push(routed("a0", "alarm")));
  ASSERT_TRUE(box.push(routed("a1", "alarm")));
  ASSERT_TRUE(box.push(routed("u0", "update")));
  ASSERT_TRUE(box.push(routed("h0", "heartbeat")));
  ASSERT_TRUE(box.push(routed("h1", "heartbeat")));
  // h0 passes both lanes below; both now starve; the higher one (alarm) goes, then update
  // (passed twice by then), then the heartbeat lane again.
  EXPECT_EQ(pop_id(box), "h0");
  EXPECT_EQ(pop_id(box), "a0");
  EXPECT_EQ(pop_id(box), "u0");
  EXPECT_EQ(pop_id(box), "h1");
  EXPECT_EQ(pop_id(box), "a1");
}

TEST(Lanes, AFullLowLaneNeverDelaysAHighLaneSender) {
  inbox box(lanes({{4}, {2, overflow_policy::block, {}}}));
  ASSERT_TRUE(box.push(routed("u0", "update")));
  ASSERT_TRUE(box.push(routed("u1", "update")));
  auto blocked = std::async(std::launch::async, [&] { return box.push(routed("u2", "update")); });
  ASSERT_TRUE(eventually([&] { return box.waiting_senders() == 1; }));
  // No receiver runs: a heartbeat still goes in at once, and comes out first.
  ASSERT_TRUE(box.push(routed("h0", "heartbeat")));
  ASSERT_TRUE(box.push(routed("h1", "heartbeat")));
  EXPECT_EQ(box.waiting_senders(), 1U);
  EXPECT_EQ(pop_id(box), "h0");
  EXPECT_EQ(pop_id(box), "h1");
  EXPECT_EQ(pop_id(box), "u0");
  EXPECT_TRUE(get_bounded(blocked));
}

TEST(Lanes, EachLaneHasItsOwnPolicyAndCounters) {
  inbox box(lanes({{2, overflow_policy::fail, {}}, {2, overflow_policy::drop_oldest, {}}}));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(box.push(routed("u" + std::to_string(i), "update")));
  ASSERT_TRUE(box.push(routed("h0", "heartbeat")));
  ASSERT_TRUE(box.push(routed("h1", "heartbeat")));
  EXPECT_EQ(box.push(routed("h2", "heartbeat")).error(), errc::queue_full);
  EXPECT_EQ(pop_id(box), "h0");
  const auto st = box.stats();
  ASSERT_EQ(st.lanes.size(), 2U);
  EXPECT_EQ(st.lanes[0].capacity, 2U);
  EXPECT_EQ(st.lanes[0].accepted, 2U);
  EXPECT_EQ(st.lanes[0].received, 1U);
  EXPECT_EQ(st.lanes[0].rejected, 1U);
  EXPECT_EQ(st.lanes[0].queued, 1U);
  EXPECT_EQ(st.lanes[1].accepted, 5U);
  EXPECT_EQ(st.lanes[1].dropped, 3U);
  EXPECT_EQ(st.lanes[1].queued, 2U);
  EXPECT_EQ(st.accepted, 7U);
  EXPECT_EQ(st.rejected_full, 1U);
  EXPECT_EQ(st.dropped_oldest, 3U);
  EXPECT_EQ(st.capacity, 4U);
  EXPECT_EQ(pop_id(box), "h1");
  EXPECT_EQ(pop_id(box), "u3");
  EXPECT_EQ(pop_id(box), "u4");
}

inbox_options coalescing(std::size_t capacity = 16, overflow_policy p = overflow_policy::block) {
  inbox_options o;
  o.capacity = capacity;
  o.overflow = p;
  o.coalescing.enabled = true;
  return o;
}

TEST(Coalescing, TheLatestValueTakesTheQueuedOnesPlace) {
  inbox box(coalescing());
  ASSERT_TRUE(box.push(routed("a1", "update", "pod/a")));
  ASSERT_TRUE(box.push(routed("b1", "update", "pod/b")));
  ASSERT_TRUE(box.push(routed("a2", "update", "pod/a")));
  ASSERT_TRUE(box.push(routed("a3", "update", "pod/a")));
  const auto st = box.stats();
  EXPECT_EQ(st.accepted, 4U);
  EXPECT_EQ(st.coalesced, 2U);
  EXPECT_EQ(st.queued, 2U);
  EXPECT_EQ(pop_id(box), "a3");  // in a1's place: keys served in order
  EXPECT_EQ(pop_id(box), "b1");
  // Once taken, a key starts again.
  ASSERT_TRUE(box.push(routed("a4", "update", "pod/a")));
  EXPECT_EQ(pop_id(box), "a4");
  const auto end = box.stats();
  EXPECT_EQ(end.accepted, end.received + end.coalesced + end.queued);
}

TEST(Coalescing, NeverMergesDifferentKeys) {
  inbox box(coalescing());
  ASSERT_TRUE(box.push(routed("1", "update", "pod/a")));
  ASSERT_TRUE(box.push(routed("2", "delete", "pod/a")));  // other operation
  ASSERT_TRUE(box.push(routed("3", "c", "ab")));
  ASSERT_TRUE(box.push(routed("4", "bc", "a")));  // same concatenation, other fields
  EXPECT_EQ(box.stats().coalesced, 0U);
  EXPECT_EQ(box.stats().queued, 4U);
}

TEST(Coalescing, NeverMergesSyncRequests) {
  inbox box(coalescing());
  auto sync1 = routed("s1", "update", "pod/a");
  sync1.header.sync = true;
  auto sync2 = routed("s2", "update", "pod/a");
  sync2.header.sync = true;
  ASSERT_TRUE(box.push(std::move(sync1)));
  ASSERT_TRUE(box.push(std::move(sync2)));
  // Nor does a plain message replace a queued sync request.
  ASSERT_TRUE(box.push(routed("p1", "update", "pod/a")));
  ASSERT_TRUE(box.push(routed("p2", "update", "pod/a")));
  EXPECT_EQ(box.stats().coalesced, 1U);  // p1 by p2 only
  EXPECT_EQ(pop_id(box), "s1");
  EXPECT_EQ(pop_id(box), "s2");
  EXPECT_EQ(pop_id(box), "p2");
}

TEST(Coalescing, AUserKeyFunction) {
  inbox_options o = coalescing();
  o.coalescing.key = [](const message& m) { return m.route.source.str(); };
  inbox box(o);
  auto a = routed("1", "update", "x");
  a.route.source = "node-1";
  auto b = routed("2", "delete", "y");
  b.route.source = "node-1";
  auto c = routed("3", "update", "x");  // empty key: never coalesces
  auto d = routed("4", "update", "x");
  ASSERT_TRUE(box.push(std::move(a)));
  ASSERT_TRUE(box.push(std::move(b)));
  ASSERT_TRUE(box.push(std::move(c)));
  ASSERT_TRUE(box.push(std::move(d)));
  EXPECT_EQ(box.stats().coalesced, 1U);
  EXPECT_EQ(pop_id(box), "2");
  EXPECT_EQ(pop_id(box), "3");
  EXPECT_EQ(pop_id(box), "4");
}

TEST(Coalescing, AFullInboxStillTakesANewerValueOfAQueuedKey) {
  inbox box(coalescing(2, overflow_policy::fail));
  ASSERT_TRUE(box.push(routed("a1", "update", "pod/a")));
  ASSERT_TRUE(box.push(routed("b1", "update", "pod/b")));
  ASSERT_TRUE(box.push(routed("a2", "update", "pod/a")));  // no room needed
  EXPECT_EQ(box.push(routed("c1", "update", "pod/c")).error(), errc::queue_full);
  EXPECT_EQ(box.stats().queued, 2U);
  EXPECT_EQ(pop_id(box), "a2");
}

TEST(Coalescing, ParkedGroupCopiesCoalesceInOrder) {
  inbox box(coalescing(1));
  ASSERT_TRUE(box.push(routed("b1", "update", "pod/b")));
  ASSERT_TRUE(box.push_group(routed("a1", "update", "pod/a")));  // parked
  ASSERT_TRUE(box.push_group(routed("a2", "update", "pod/a")));  // replaces the parked one
  EXPECT_EQ(pop_id(box), "b1");
  ASSERT_TRUE(box.push(routed("a3", "update", "pod/a")));  // now queued: replaces again
  EXPECT_EQ(pop_id(box), "a3");
  EXPECT_EQ(box.stats().coalesced, 2U);
}

TEST(Coalescing, DropOldestAndCloseKeepTheIndexRight) {
  inbox box(coalescing(2, overflow_policy::drop_oldest));
  ASSERT_TRUE(box.push(routed("a1", "update", "pod/a")));
  ASSERT_TRUE(box.push(routed("b1", "update", "pod/b")));
  ASSERT_TRUE(box.push(routed("c1", "update", "pod/c")));  // evicts a1
  ASSERT_TRUE(box.push(routed("a2", "update", "pod/a")));  // evicts b1; a new key again
  EXPECT_EQ(box.stats().dropped_oldest, 2U);
  EXPECT_EQ(box.stats().coalesced, 0U);
  ASSERT_TRUE(box.push(routed("c2", "update", "pod/c")));
  EXPECT_EQ(pop_id(box), "c2");
  EXPECT_EQ(pop_id(box), "a2");
}

TEST(Coalescing, WithLanesAKeyCoalescesWithinItsLane) {
  inbox_options o = lanes({{8}, {8}});
  o.coalescing.enabled = true;
  inbox box(o);
  ASSERT_TRUE(box.push(routed("u1", "update", "pod/a")));
  ASSERT_TRUE(box.push(routed("h1", "heartbeat", "node")));
  ASSERT_TRUE(box.push(routed("u2", "update", "pod/a")));
  ASSERT_TRUE(box.push(routed("h2", "heartbeat", "node")));
  EXPECT_EQ(box.stats().coalesced, 2U);
  EXPECT_EQ(pop_id(box), "h2");
  EXPECT_EQ(pop_id(box), "u2");
  const auto st = box.stats();
  EXPECT_EQ(st.lanes[0].coalesced, 1U);
  EXPECT_EQ(st.lanes[1].coalesced, 1U);
}

TEST(Lanes, ReopenChangesTheInboxKindAndKeepsWhatIsQueued) {
  inbox box(inbox_options{});
  ASSERT_TRUE(box.push(routed("u1", "update")));
  ASSERT_TRUE(box.push(routed("h1", "heartbeat")));
  std::vector<message> dropped;
  box.close(dropped);
  EXPECT_EQ(box.push(routed("x", "update")).error(), errc::channel_closed);
  box.reopen(lanes({{4}, {4}}));
  EXPECT_FALSE(box.closed());
  ASSERT_TRUE(box.push(routed("h2", "heartbeat")));
  EXPECT_EQ(pop_id(box), "h1");  // reclassified
  EXPECT_EQ(pop_id(box), "h2");
  ASSERT_TRUE(box.push(routed("u2", "update")));
  box.close(dropped);
  box.reopen(inbox_options{});  // back to plain
  ASSERT_TRUE(box.push(routed("u3", "update")));
  EXPECT_EQ(pop_id(box), "u1");
  EXPECT_EQ(pop_id(box), "u2");
  EXPECT_EQ(pop_id(box), "u3");
  EXPECT_TRUE(dropped.empty());
  const auto st = box.stats();
  EXPECT_EQ(st.accepted, 5U);
  EXPECT_EQ(st.received, 5U);
  EXPECT_EQ(st.queued, 0U);
}

TEST(Lanes, CloseDropCountsEveryLane) {
  inbox_options o = lanes({{4}, {4}});
  o.close = close_mode::drop;
  inbox box(o);
  ASSERT_TRUE(box.push(routed("u1", "update")));
  ASSERT_TRUE(box.push(routed("h1", "heartbeat")));
  std::vector<message> dropped;
  box.close(dropped);
  EXPECT_EQ(dropped.size(), 2U);
  EXPECT_EQ(box.pop().error(), errc::channel_closed);
  const auto st = box.stats();
  EXPECT_EQ(st.dropped_on_close, 2U);
  EXPECT_EQ(st.lanes[0].dropped, 1U);
  EXPECT_TRUE(st.closed);
}

TEST(Lanes, InvalidOptionsAreRefused) {
  EXPECT_TRUE(valid_inbox_options(lanes({{4}, {4}})));
  EXPECT_FALSE(valid_inbox_options(lanes({{4}, {0}})));
  inbox_options bad_rule = lanes({{4}, {4}});
  bad_rule.lanes.rules.push_back({route_field::group, "g", 2});
  EXPECT_FALSE(valid_inbox_options(bad_rule));
  inbox_options bad_default = lanes({{4}});
  bad_default.lanes.rules.clear();
  bad_default.lanes.default_lane = 1;
  EXPECT_FALSE(valid_inbox_options(bad_default));
}

}  // namespace
}  // namespace beehive::detail
