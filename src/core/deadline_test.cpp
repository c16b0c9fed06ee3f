// SPDX-License-Identifier: Apache-2.0
#include "core/deadline.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using tp = clock::time_point;

// A "now" far from both ends of the clock, and one right at its end.
const tp mid = tp(clock::duration(1'000'000'000));
const tp near_end = tp::max() - clock::duration(10);

TEST(Deadline, AddsAnOrdinaryTimeout) {
  EXPECT_EQ(saturating_deadline<clock>(mid, 5s), mid + 5s);
  EXPECT_EQ(saturating_deadline<clock>(mid, 1ns), mid + 1ns);
}

TEST(Deadline, ForEverSaturatesInsteadOfOverflowingIntoThePast) {
  EXPECT_EQ(saturating_deadline<clock>(mid, clock::duration::max()), tp::max());
  EXPECT_EQ(saturating_deadline<clock>(mid, std::chrono::nanoseconds::max()), tp::max());
  // Coarser units overflow the clock's unit on conversion alone.
  EXPECT_EQ(saturating_deadline<clock>(mid, std::chrono::hours::max()), tp::max());
  EXPECT_EQ(saturating_deadline<clock>(mid, std::chrono::seconds::max()), tp::max());
}

TEST(Deadline, ATimeoutThatJustFitsIsAddedAndOneThatDoesNotSaturates) {
  EXPECT_EQ(saturating_deadline<clock>(near_end, clock::duration(9)), near_end + 9ns);
  EXPECT_EQ(saturating_deadline<clock>(near_end, clock::duration(10)), tp::max());
  EXPECT_EQ(saturating_deadline<clock>(near_end, clock::duration(11)), tp::max());
  EXPECT_EQ(saturating_deadline<clock>(near_end, 1s), tp::max());
}

TEST(Deadline, ZeroOrNegativeTimeoutIsNow) {
  EXPECT_EQ(saturating_deadline<clock>(mid, 0s), mid);
  EXPECT_EQ(saturating_deadline<clock>(mid, -5s), mid);
  EXPECT_EQ(saturating_deadline<clock>(mid, std::chrono::nanoseconds::min()), mid);
  EXPECT_EQ(saturating_deadline<clock>(mid, std::chrono::hours::min()), mid);
}

TEST(Deadline, FloatingPointTimeoutsSaturateAndNanIsNow) {
  using fsec = std::chrono::duration<double>;
  EXPECT_EQ(saturating_deadline<clock>(mid, fsec(2.0)), mid + 2s);
  EXPECT_EQ(saturating_deadline<clock>(mid, fsec(1e300)), tp::max());
  EXPECT_EQ(saturating_deadline<clock>(mid, fsec(std::numeric_limits<double>::infinity())),
            tp::max());
  EXPECT_EQ(saturating_deadline<clock>(mid, fsec(-std::numeric_limits<double>::infinity())), mid);
  EXPECT_EQ(saturating_deadline<clock>(mid, fsec(std::numeric_limits<double>::quiet_NaN())), mid);
}

TEST(Deadline, DeadlineAfterReadsTheClock) {
  const auto before = clock::now();
  const auto d = deadline_after(1h);
  const auto after = clock::now();
  EXPECT_GE(d, before + 1h);
  EXPECT_LE(d, after + 1h);
  EXPECT_EQ(deadline_after(clock::duration::max()), tp::max());
  const auto negative = deadline_after(-1s);
  EXPECT_LE(negative, clock::now());
}

TEST(Deadline, WorksForAnotherClock) {
  using sys = std::chrono::system_clock;
  const auto now = sys::now();
  EXPECT_EQ(saturating_deadline<sys>(now, std::chrono::hours::max()), sys::time_point::max());
  EXPECT_EQ(saturating_deadline<sys>(now, 1s), now + 1s);
}

}  // namespace
}  // namespace beehive::detail
