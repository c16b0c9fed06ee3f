// SPDX-License-Identifier: Apache-2.0
#include "socket/line_decoder.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace beehive::detail {
namespace {

// Records as text, an oversized notice as "<oversized>".
std::vector<std::string> drain(line_decoder& d) {
  std::vector<std::string> out;
  while (auto it = d.next()) {
    if (it->oversized != 0) {
      EXPECT_GT(it->oversized, d.max_record());
      out.emplace_back("<oversized>");
    } else {
      out.emplace_back(it->record);
    }
  }
  return out;
}

// Feeds `stream` in pieces of `piece` bytes, draining after each.
std::vector<std::string> feed(line_decoder& d, std::string_view stream, std::size_t piece) {
  std::vector<std::string> out;
  while (!stream.empty()) {
    const std::size_t n = d.append(stream.substr(0, piece));
    stream.remove_prefix(n);
    for (auto& r : drain(d)) out.push_back(std::move(r));
  }
  return out;
}

TEST(LineDecoder, SeveralRecordsInOneRead) {
  line_decoder d(64);
  EXPECT_EQ(d.append("{\"a\":1}\n{\"b\":2}\n{\"c\""), 20U);
  EXPECT_EQ(drain(d), (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(d.buffered(), 4U);  // the start of the third
  d.append(":3}\n");
  EXPECT_EQ(drain(d), (std::vector<std::string>{"{\"c\":3}"}));
  EXPECT_EQ(d.buffered(), 0U);
}

TEST(LineDecoder, RecordSplitAcrossReadsOfOneByte) {
  line_decoder d(64);
  EXPECT_EQ(feed(d, "{\"x\":\"y\"}\n{}\n", 1), (std::vector<std::string>{"{\"x\":\"y\"}", "{}"}));
}

TEST(LineDecoder, EmptyLineIsAnEmptyRecord) {
  // The reader above rejects it as malformed; the decoder must not swallow it.
  line_decoder d(64);
  d.append("{}\n\n{}\n");
  EXPECT_EQ(drain(d), (std::vector<std::string>{"{}", "", "{}"}));
}

TEST(LineDecoder, RecordOfExactlyMaxRecordFitsOneMoreIsOversized) {
  line_decoder d(8);  // 7 bytes + '\n'
  d.append("1234567\n12345678\nok\n");
  EXPECT_EQ(drain(d), (std::vector<std::string>{"1234567", "<oversized>", "ok"}));
}

TEST(LineDecoder, OversizedRecordIsReportedBeforeItEndsAndSkipped) {
  line_decoder d(16, 16);
  // 20 bytes without a newline: known too long before its end arrives.
  d.append(std::string(20, 'x').substr(0, 16));
  auto it = d.next();
  ASSERT_TRUE(it);
  EXPECT_EQ(it->oversized, 17U);
  EXPECT_FALSE(d.next());
  EXPECT_EQ(d.buffered(), 0U);  // its bytes are not kept
  // The rest of it, then good records: only those come out.
  EXPECT_EQ(feed(d, std::string(100, 'x') + "\n{\"n\":1}\n{\"n\":2}\n", 7),
            (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}"}));
}

TEST(LineDecoder, PartialRecordIsMovedToTheFrontWhenTheTailIsFull) {
  line_decoder d(10, 12);
  d.append("abcdefgh\nxy");  // 11 of 12 bytes used
  EXPECT_EQ(drain(d), (std::vector<std::string>{"abcdefgh"}));
  // prepare() must make room for the rest of "xy...".
  EXPECT_EQ(feed(d, "zw\n", 3), (std::vector<std::string>{"xyzw"}));
}

TEST(LineDecoder, ManyPiecesSizesGiveTheSameRecords) {
  std::string stream;
  for (int i = 0; i < 50; ++i) stream += "{\"i\":" + std::to_string(i) + "}\n";
  stream += std::string(300, 'z') + "\n{\"end\":true}\n";
  line_decoder whole(64, 1 << 16);
  const auto expect = feed(whole, stream, stream.size());
  ASSERT_EQ(expect.size(), 52U);
  EXPECT_EQ(expect[50], "<oversized>");
  for (std::size_t piece : {1U, 2U, 3U, 7U, 63U, 64U, 65U, 200U}) {
    line_decoder d(64, 80);
    EXPECT_EQ(feed(d, stream, piece), expect) << "piece " << piece;
  }
}

TEST(LineDecoder, MemoryIsAllocatedOnDemandAndReleasedWhenEmpty) {
  line_decoder d(1 << 20);
  EXPECT_EQ(d.allocated(), 0U);
  d.append("{}\n{");
  EXPECT_EQ(d.allocated(), 1U << 20);
  EXPECT_EQ(drain(d).size(), 1U);
  d.release();  // a partial record is held: kept
  EXPECT_EQ(d.allocated(), 1U << 20);
  d.append("}\n");
  EXPECT_EQ(drain(d), (std::vector<std::string>{"{}"}));
  d.release();
  EXPECT_EQ(d.allocated(), 0U);
  d.append("{\"again\":1}\n");
  EXPECT_EQ(drain(d), (std::vector<std::string>{"{\"again\":1}"}));
}

}  // namespace
}  // namespace beehive::detail
