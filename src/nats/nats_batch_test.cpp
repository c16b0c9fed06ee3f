// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_batch.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace beehive::detail {
namespace {

std::vector<std::string> records_of(std::string_view payload, bool* whole = nullptr) {
  std::vector<std::string> out;
  const bool ok = nats_batch::for_each(payload, [&](std::string_view r) { out.emplace_back(r); });
  if (whole != nullptr) *whole = ok;
  return out;
}

TEST(NatsBatch, ARecordAloneIsSentBareAsBeforeBatches) {
  nats_batch b;
  const std::string rec = R"({"header":{"msg_id":"x"},"router":{},"content":null})";
  b.append(rec, 7);
  EXPECT_EQ(b.count(), 1U);
  EXPECT_EQ(b.first(), 7U);
  EXPECT_EQ(b.payload(), rec);
  EXPECT_FALSE(nats_batch::is_batch(b.payload()));
}

TEST(NatsBatch, SeveralRecordsRoundTripInOrderWhateverTheyHold) {
  nats_batch b;
  // Records may hold any byte, newlines and NULs included (verbatim content is not checked).
  const std::vector<std::string> in = {"{}", std::string("{\"a\":\"\n\"}"), std::string(300, 'x'),
                                       std::string("\0\0\x01", 3), ""};
  for (const auto& r : in) b.append(r, 100);
  EXPECT_EQ(b.count(), in.size());
  EXPECT_EQ(b.first(), 100U) << "the first record's number stays";
  ASSERT_TRUE(nats_batch::is_batch(b.payload()));
  EXPECT_EQ(b.payload().size(), b.size_with(0) - nats_batch::frame_overhead);
  bool whole = false;
  EXPECT_EQ(records_of(b.payload(), &whole), in);
  EXPECT_TRUE(whole);
}

TEST(NatsBatch, SizeWithCountsTheMarkerAndEachFrame) {
  nats_batch b;
  EXPECT_EQ(b.size_with(10), 1 + 4 + 10U);
  b.append(std::string(10, 'a'), 1);
  EXPECT_EQ(b.size_with(20), 1 + 4 + 10 + 4 + 20U);
}

TEST(NatsBatch, ClearKeepsNothingAndTheNextAppendStartsANewNumber) {
  nats_batch b;
  b.append("{}", 1);
  b.append("{}", 1);
  b.clear();
  EXPECT_TRUE(b.empty());
  b.append("{\"b\":1}", 9);
  EXPECT_EQ(b.first(), 9U);
  EXPECT_EQ(b.payload(), "{\"b\":1}");
}

TEST(NatsBatch, BrokenFramingIsReportedAfterTheWholeRecordsBeforeIt) {
  nats_batch b;
  b.append("{\"a\":1}", 1);
  b.append("{\"b\":2}", 2);
  const std::string good(b.payload());
  // Truncated inside the second record, inside its length, and right after the marker.
  bool whole = true;
  EXPECT_EQ(records_of(good.substr(0, good.size() - 1), &whole),
            std::vector<std::string>{"{\"a\":1}"});
  EXPECT_FALSE(whole);
  const std::size_t second_len_at = 1 + 4 + 7;
  EXPECT_EQ(records_of(good.substr(0, second_len_at + 2), &whole).size(), 1U);
  EXPECT_FALSE(whole);
  EXPECT_TRUE(records_of(std::string(1, nats_batch::marker), &whole).empty());
  EXPECT_FALSE(whole) << "a batch without a record is broken";
  // A length far past the end (hostile): nothing is read past the payload.
  std::string hostile(1, nats_batch::marker);
  hostile += std::string("\xff\xff\xff\x7f", 4);
  hostile += "{}";
  EXPECT_TRUE(records_of(hostile, &whole).empty());
  EXPECT_FALSE(whole);
  // Not a batch at all.
  EXPECT_TRUE(records_of("{}", &whole).empty());
  EXPECT_FALSE(whole);
  EXPECT_FALSE(nats_batch::is_batch(""));
}

// A record encoded straight into the batch: framed as an appended one; one that would pass the
// cap, or whose encode fails, leaves the batch as it was (the first record too).
TEST(NatsBatch, AppendEncodedWritesInPlaceOrLeavesTheBatchAsItWas) {
  const auto writes = [](std::string text) {
    return [text](std::string& buf) -> expected<void> {
      buf += text;
      return {};
    };
  };
  const auto fails = [](std::string& buf) -> expected<void> {
    buf += "half";  // a partial write, then the error
    return unexpected(errc::not_serializable);
  };
  nats_batch b;
  auto r = b.append_encoded(writes(std::string(20, 'x')), 7, 10);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r) << "a first record over the cap";
  EXPECT_TRUE(b.empty());
  r = b.append_encoded(fails, 7, 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_serializable);
  EXPECT_TRUE(b.empty());
  ASSERT_TRUE(b.append_encoded(writes("{\"a\":1}"), 7, 1000).value());
  EXPECT_EQ(b.first(), 7U);
  EXPECT_EQ(b.payload(), "{\"a\":1}") << "a batch of one is the bare record";
  EXPECT_EQ(b.last_record_bytes(), 7U);
  ASSERT_TRUE(b.append_encoded(writes("{\"b\":22}"), 99, 1000).value());
  EXPECT_EQ(b.last_record_bytes(), 8U) << "the record's own bytes, without its frame";
  const std::string two(b.payload());
  r = b.append_encoded(writes(std::string(1000, 'y')), 0, 1000);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_FALSE(b.append_encoded(fails, 0, 1000));
  EXPECT_EQ(b.payload(), two) << "nothing of the refused ones is left";
  EXPECT_EQ(b.last_record_bytes(), 8U);
  EXPECT_EQ(b.count(), 2U);
  EXPECT_EQ(b.first(), 7U);
  EXPECT_EQ(records_of(two), (std::vector<std::string>{"{\"a\":1}", "{\"b\":22}"}));
  // The same bytes as `append`.
  nats_batch c;
  c.append("{\"a\":1}", 7);
  c.append("{\"b\":22}", 8);
  EXPECT_EQ(c.payload(), two);
}

}  // namespace
}  // namespace beehive::detail
