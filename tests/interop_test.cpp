// SPDX-License-Identifier: Apache-2.0
// Interop with Go beehive: every record of a byte capture of two Go processes must decode and
// re-encode byte for byte.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "beehive/codec.hpp"

namespace {

std::vector<std::string> capture_records() {
  std::ifstream in(std::string(BEEHIVE_INTEROP_DIR) + "/go-beehive-wire-trace.txt",
                   std::ios::binary);
  std::vector<std::string> records;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.front() == '{') records.push_back(line);
  }
  return records;
}

TEST(Interop, CaptureHasRecords) {
  // Guards the other tests against passing vacuously on a missing or moved capture.
  EXPECT_GE(capture_records().size(), 10U);
}

TEST(Interop, EveryGoRecordReencodesByteForByte) {
  for (const auto& rec : capture_records()) {
    SCOPED_TRACE(rec);
    // As read from the socket: with the trailing '\n' Go writes.
    auto m = beehive::decode_message(rec + "\n");
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->content.kind(), beehive::content_kind::raw_json);
    auto out = beehive::encode_message(*m);
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, rec);
  }
}

TEST(Interop, HandshakeRecordDecodesToItsFields) {
  const auto records = capture_records();
  ASSERT_FALSE(records.empty());
  auto m = beehive::decode_message(records.front());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, "62a11fd6-ee42-4c6f-9d08-d853f212c30d");
  EXPECT_EQ(m->header.parent_id, "");
  EXPECT_EQ(m->header.timestamp, 1795721458577);
  EXPECT_TRUE(m->header.sync);
  EXPECT_EQ(m->header.type, "unixpacket");
  EXPECT_EQ(m->route.source, "remotemod");
  EXPECT_EQ(m->route.destination, "");
  EXPECT_EQ(m->route.operation, "add");
  EXPECT_EQ(m->route.resource, "module");
  EXPECT_EQ(m->content.to_string().value(), "");
}

TEST(Interop, HandshakeResponseContentParsesAsModulesAndGroups) {
  const auto records = capture_records();
  ASSERT_GE(records.size(), 2U);
  auto m = beehive::decode_message(records[1]);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.parent_id, "62a11fd6-ee42-4c6f-9d08-d853f212c30d");
  EXPECT_EQ(m->route.operation, "response");
  auto j = m->content.to_json();
  ASSERT_TRUE(j);
  EXPECT_EQ((*j)["modules"], (nlohmann::json{"sockserver", "srvmod"}));
  EXPECT_EQ((*j)["groups"]["srvgroup"], (nlohmann::json{"srvmod"}));
}

TEST(Interop, MessageBuiltInCppEncodesAsGoWroteIt) {
  // The same message built with the C++ API gives Go's bytes: field order, omitted empties.
  beehive::message m;
  m.build_header("79319fb7-7f78-4be3-91e1-a78d49e4301c", "", 1795721459883);
  m.header.sync = true;
  m.set_type("unixpacket")
      .build_router("remotemod", "", "resource", "query")
      .set_destination("remotemod")
      .fill_body("ping");
  auto out = beehive::encode_message(m);
  ASSERT_TRUE(out);
  EXPECT_EQ(
      *out,
      R"({"header":{"msg_id":"79319fb7-7f78-4be3-91e1-a78d49e4301c","timestamp":1795721459883,)"
      R"("sync":true,"type":"unixpacket"},"route":{"source":"remotemod","destination":)"
      R"("remotemod","operation":"query","resource":"resource"},"content":"ping"})");
}

}  // namespace
