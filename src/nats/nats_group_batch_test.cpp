// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_group_batch.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace beehive::detail {
namespace {

using entry = nats_group_batch::entry;

// Three members of one call's records, a fourth joining later: the table says which records
// are whose, with their numbers; the records come back byte for byte (newlines, NUL).
TEST(NatsGroupBatch, TheTableSaysWhoseRecordsAreWhich) {
  nats_group_batch b;
  const std::vector<std::string> recs = {"{\"a\":1}", std::string("x\0y\nz", 5), "third"};
  for (std::uint32_t i = 0; i < recs.size(); ++i) {
    const auto at = b.append(recs[i]);
    EXPECT_EQ(at, i);
    EXPECT_TRUE(b.add("m1", 7, 10 + i, at));
    EXPECT_TRUE(b.add("m.2 ü", 8, 1 + i, at));
    if (i >= 1) {
      EXPECT_TRUE(b.add("late", 9, 100 + i, at));
    }
  }
  EXPECT_TRUE(b.has("late", 9));
  EXPECT_FALSE(b.has("late", 10));
  EXPECT_EQ(b.records(), 3U);
  // What one more record of 0 bytes for a new member with an empty name would make.
  const std::size_t predicted = b.size_with(0, 0);
  const std::string payload(b.seal());
  EXPECT_TRUE(nats_group_batch::is_group_batch(payload));
  std::vector<entry> table;
  std::vector<std::string_view> frames;
  ASSERT_TRUE(nats_group_batch::parse(payload, table, frames));
  ASSERT_EQ(frames.size(), 3U);
  for (std::size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(frames[i], recs[i]);
  ASSERT_EQ(table.size(), 3U);
  EXPECT_EQ(table[0].module, "m1");
  EXPECT_EQ(table[0].stream, 7U);
  EXPECT_EQ(table[0].first_seq, 10U);
  EXPECT_EQ(table[0].first_index, 0U);
  EXPECT_EQ(table[0].count, 3U);
  EXPECT_EQ(table[1].module, "m.2 ü");
  EXPECT_EQ(table[2].module, "late");
  EXPECT_EQ(table[2].first_seq, 101U);
  EXPECT_EQ(table[2].first_index, 1U);
  EXPECT_EQ(table[2].count, 2U);
  EXPECT_EQ(predicted,
            payload.size() + nats_group_batch::frame_overhead + nats_group_batch::entry_overhead);
}

// A member's records must be consecutive, in the batch and in its numbers: a member that
// skipped a record of the batch, or a number, cannot be added (the batch is published first).
TEST(NatsGroupBatch, AMembersRecordsAreConsecutiveOrRefused) {
  nats_group_batch b;
  const auto r0 = b.append("r0");
  ASSERT_TRUE(b.add("m", 1, 5, r0));
  const auto r1 = b.append("r1");  // not for m
  const auto r2 = b.append("r2");
  EXPECT_FALSE(b.add("m", 1, 6, r2));  // skips r1
  EXPECT_TRUE(b.add("m", 1, 6, r1));
  EXPECT_FALSE(b.add("m", 1, 8, r2));  // skips number 7
  EXPECT_TRUE(b.add("m", 1, 7, r2));
  // The same name with another stream (the module's endpoint made again) is another member.
  EXPECT_TRUE(b.add("m", 2, 1, r2));
}

// Clearing keeps nothing; the next batch starts at record 0 with an empty table.
TEST(NatsGroupBatch, ClearStartsAnEmptyBatch) {
  nats_group_batch b;
  ASSERT_TRUE(b.add("m", 1, 1, b.append("old")));
  (void)b.seal();
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.has("m", 1));
  const auto at = b.append("new");
  EXPECT_EQ(at, 0U);
  ASSERT_TRUE(b.add("n", 3, 1, at));
  std::vector<entry> table;
  std::vector<std::string_view> frames;
  ASSERT_TRUE(nats_group_batch::parse(b.seal(), table, frames));
  ASSERT_EQ(table.size(), 1U);
  EXPECT_EQ(table[0].module, "n");
  ASSERT_EQ(frames.size(), 1U);
  EXPECT_EQ(frames[0], "new");
}

// Hostile or broken payloads: every truncation, every byte changed in the trailer and table,
// a member whose records run past the last one, and junk, are refused as a whole (never a
// read out of bounds: the sanitizer builds run this too).
TEST(NatsGroupBatch, BrokenPayloadsAreRefusedWhole) {
  nats_group_batch b;
  for (int i = 0; i < 3; ++i) {
    const auto at = b.append("rec" + std::to_string(i));
    ASSERT_TRUE(b.add("mod", 4, 1 + static_cast<std::uint64_t>(i), at));
  }
  const std::string good(b.seal());
  std::vector<entry> table;
  std::vector<std::string_view> frames;
  ASSERT_TRUE(nats_group_batch::parse(good, table, frames));
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(nats_group_batch::parse(good.substr(0, n), table, frames)) << n;
  }
  // The table's count field says more records than there are.
  std::string more = good;
  const std::size_t count_at = more.size() - nats_group_batch::trailer - 4;
  more[count_at] = 4;
  EXPECT_FALSE(nats_group_batch::parse(more, table, frames));
  // Flipping any byte of the table or trailer never reads out of bounds.
  const std::size_t table_at =
      good.size() - nats_group_batch::trailer - (nats_group_batch::entry_overhead + 3);
  for (std::size_t i = table_at; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0xff);
    (void)nats_group_batch::parse(bad, table, frames);
  }
  EXPECT_FALSE(nats_group_batch::parse("", table, frames));
  EXPECT_FALSE(nats_group_batch::parse("{\"header\":{}}", table, frames));
  EXPECT_FALSE(
      nats_group_batch::parse(std::string("\x01\xff\xff\xff\xff\0\0\0\0", 9), table, frames));
}

}  // namespace
}  // namespace beehive::detail
