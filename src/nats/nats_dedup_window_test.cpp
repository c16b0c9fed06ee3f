// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_dedup_window.hpp"

#include <gtest/gtest.h>

namespace beehive::detail {
namespace {

TEST(NatsDedupWindow, InOrderRecordsAreNewAndMoveTheFloor) {
  nats_dedup_window w(128);
  for (std::uint64_t s = 1; s <= 1000; ++s) ASSERT_TRUE(w.accept(1, s)) << s;
  EXPECT_EQ(w.floor(), 1000U);
  EXPECT_EQ(w.stream(), 1U);
  EXPECT_EQ(w.skipped(), 0U);
}

TEST(NatsDedupWindow, EveryDuplicateIsRecognised) {
  nats_dedup_window w(128);
  for (std::uint64_t s = 1; s <= 50; ++s) ASSERT_TRUE(w.accept(1, s));
  for (std::uint64_t s = 1; s <= 50; ++s) EXPECT_FALSE(w.accept(1, s)) << s;
  // Above the floor too.
  EXPECT_TRUE(w.accept(1, 60));
  EXPECT_FALSE(w.accept(1, 60));
  EXPECT_EQ(w.floor(), 50U);
}

TEST(NatsDedupWindow, AGapHoldsTheFloorUntilItFills) {
  // A failover: 1..10 arrive, 11..20 are lost, 21..30 (replayed) arrive, then 11..30 resent.
  nats_dedup_window w(128);
  for (std::uint64_t s = 1; s <= 10; ++s) ASSERT_TRUE(w.accept(1, s));
  EXPECT_FALSE(w.gap());
  for (std::uint64_t s = 21; s <= 30; ++s) ASSERT_TRUE(w.accept(1, s));
  EXPECT_EQ(w.floor(), 10U);
  EXPECT_EQ(w.highest(), 30U);
  EXPECT_TRUE(w.gap());
  int fresh = 0;
  for (std::uint64_t s = 11; s <= 30; ++s) fresh += w.accept(1, s) ? 1 : 0;
  EXPECT_EQ(fresh, 10);
  EXPECT_EQ(w.floor(), 30U);
  EXPECT_FALSE(w.gap());
  EXPECT_EQ(w.skipped(), 0U);
}

TEST(NatsDedupWindow, ARecordPastTheSpanSlidesAndCountsWhatItGaveUp) {
  nats_dedup_window w(64);
  ASSERT_TRUE(w.accept(1, 1));
  ASSERT_TRUE(w.accept(1, 3));  // 2 missing
  ASSERT_TRUE(w.accept(1, 70));
  // The window now covers 7..70: 2, 4, 5 and 6 were given up.
  EXPECT_EQ(w.floor(), 6U);
  EXPECT_EQ(w.skipped(), 4U);
  EXPECT_FALSE(w.accept(1, 2));
  EXPECT_FALSE(w.accept(1, 70));
  // Far past the whole bitmap: everything in between is given up at once.
  ASSERT_TRUE(w.accept(1, 1000));
  EXPECT_EQ(w.floor(), 1000U - 64);
  EXPECT_EQ(w.skipped(), 4U + (1000 - 64 - 6) - 1);  // 70 was seen
  EXPECT_FALSE(w.accept(1, 1000));
}

TEST(NatsDedupWindow, ANewStreamStartsAgainAnOldOneIsNotChecked) {
  nats_dedup_window w(64);
  for (std::uint64_t s = 1; s <= 20; ++s) ASSERT_TRUE(w.accept(3, s));
  // The sender's endpoint was made again: its numbers start at 1 again.
  EXPECT_TRUE(w.accept(4, 1));
  EXPECT_EQ(w.stream(), 4U);
  EXPECT_EQ(w.floor(), 1U);
  EXPECT_FALSE(w.accept(4, 1));
  // A late record of the old stream is delivered, not mistaken for a duplicate.
  EXPECT_TRUE(w.accept(3, 5));
  EXPECT_EQ(w.stream(), 4U);
}

TEST(NatsDedupWindow, SpanIsRoundedUpToWholeWords) {
  nats_dedup_window w(1);
  ASSERT_TRUE(w.accept(1, 2));
  ASSERT_TRUE(w.accept(1, 64));  // still inside a 64-bit span above floor 0
  EXPECT_EQ(w.skipped(), 0U);
  EXPECT_TRUE(w.accept(1, 1));
  EXPECT_EQ(w.floor(), 2U);
}

}  // namespace
}  // namespace beehive::detail
