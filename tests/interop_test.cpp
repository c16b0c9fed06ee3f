// SPDX-License-Identifier: Apache-2.0
// Interop with Go beehive: every record of a byte capture of two Go processes must decode and
// re-encode byte for byte.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "beehive/codec.hpp"
#include "socket/handshake.hpp"
#include "socket/peer_endpoint.hpp"
#include "support/checked_codec.hpp"
#include "support/go_records.hpp"

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

// ---- go-records.jsonl: what our side writes is what Go wrote --------------------------------

using beehive::detail::delivery;
using beehive::detail::record_sender;
using beehive::test::decoded;
using beehive::test::encoded;
using beehive::test::go_record_kind;
using beehive::test::go_records_of;
using beehive::test::normalize;

const record_sender go_server_side{false, {}};
const record_sender client_of_remotemod{true, "remotemod"};

// The Go server of the captures, as our context records it while `remotemod` is joined: its
// socket module, srvmod in srvgroup, and the peer remotemod in a group of its own name.
beehive::detail::membership go_server_members(bool with_socket_module) {
  beehive::detail::membership m;
  if (with_socket_module) m.modules.push_back({"sockserver", "unixpacket", true});
  m.modules.push_back({"remotemod", "unixpacket", true});
  m.modules.push_back({"srvmod", "channel", true});
  if (with_socket_module) m.groups["sockserver"] = {"sockserver"};
  m.groups["remotemod"] = {"remotemod"};
  m.groups["srvgroup"] = {"srvmod"};
  return m;
}

TEST(GoRecords, EveryKindIsThere) {
  // Guards the tests below against passing vacuously on a missing or moved file.
  EXPECT_EQ(beehive::test::load_go_records().size(), 27U);
  EXPECT_EQ(go_records_of(go_record_kind::handshake_request).size(), 1U);
  EXPECT_EQ(go_records_of(go_record_kind::exchange).size(), 3U);
  EXPECT_EQ(go_records_of(go_record_kind::reply).size(), 2U);
  EXPECT_EQ(go_records_of(go_record_kind::special).size(), 18U);
  EXPECT_EQ(go_records_of(go_record_kind::group).size(), 1U);
  EXPECT_EQ(go_records_of(go_record_kind::sync_request).size(), 2U);
}

TEST(GoRecords, EveryRecordReencodesByteForByte) {
  for (const auto& r : beehive::test::load_go_records()) {
    SCOPED_TRACE(r.text);
    auto m = beehive::decode_message(r.text + "\n");
    ASSERT_TRUE(m);
    EXPECT_EQ(encoded(*m), r.text);
  }
}

TEST(GoRecords, OurHandshakeRequestIsTheGoClients) {
  for (const auto& r : go_records_of(go_record_kind::handshake_request)) {
    EXPECT_EQ(normalize(encoded(beehive::detail::make_handshake_request("remotemod"))),
              normalize(r.text));
    const auto checked = beehive::detail::read_handshake_request(
        r.text, [](std::string_view m) { return m == "remotemod"; });
    EXPECT_EQ(checked.result, beehive::detail::handshake_result::accepted);
    EXPECT_EQ(checked.module, "remotemod");
  }
}

TEST(GoRecords, OurModuleExchangeIsTheGoServers) {
  for (const bool with_socket_module : {true, false}) {
    SCOPED_TRACE(with_socket_module ? "sockserver added" : "listen() only");
    for (const auto& r : go_records_of(go_record_kind::exchange)) {
      const auto go = decoded(r.text);
      auto request = beehive::detail::make_handshake_request("remotemod");
      request.header.id = go.header.parent_id;
      const auto ours = beehive::detail::make_handshake_response(
          request, beehive::detail::module_exchange_json(go_server_members(with_socket_module),
                                                         "sockserver", {"remotemod"}));
      EXPECT_EQ(normalize(encoded(ours)), normalize(r.text));
      const auto read = beehive::detail::read_handshake_response(go, "remotemod");
      ASSERT_EQ(read.result, beehive::detail::response_result::accepted) << read.reason;
      EXPECT_EQ(read.exchange.modules, (std::vector<std::string>{"sockserver", "srvmod"}));
    }
  }
}

TEST(GoRecords, OurRepliesAreTheGoServers) {
  for (const auto& r : go_records_of(go_record_kind::reply)) {
    const auto go = decoded(r.text);
    // The request it answers, as the Go client wrote it: a SendSync of remotemod.
    auto request = beehive::new_message().build_router("remotemod", "", "resource", "query");
    request.header.id = go.header.parent_id;
    request.header.sync = true;
    request.set_type("unixpacket").set_destination("srvmod");
    auto reply = beehive::new_resp_by_message(request, go.content);
    ASSERT_TRUE(beehive::detail::address_record(reply, delivery::reply, "origin", go_server_side));
    EXPECT_EQ(normalize(encoded(reply)), normalize(r.text));
  }
}

TEST(GoRecords, OurSpecialsAreGosByteForByte) {
  for (const auto& r : go_records_of(go_record_kind::special)) {
    SCOPED_TRACE(r.text);
    const auto go = decoded(r.text);
    const int n = std::stoi(std::string(std::string_view(go.route.operation).substr(3)));
    // The Go server's srvmod sends to remotemod; the Go client's remotemod sends to srvmod
    // (here with no source: our client connection names its module).
    const bool from_server = r.writer == "go-server";
    auto m = beehive::test::go_special(n, from_server ? "srvmod" : "");
    ASSERT_TRUE(
        beehive::detail::address_record(m, delivery::direct, from_server ? "remotemod" : "srvmod",
                                        from_server ? go_server_side : client_of_remotemod));
    EXPECT_EQ(encoded(m), r.text);  // ids and times are the capture's: no normalizing
  }
}

TEST(GoRecords, OurGroupRecordsAreTheGoServers) {
  for (const auto& r : go_records_of(go_record_kind::group)) {
    const auto go = decoded(r.text);
    auto m = beehive::new_message().build_router("srvmod", "remotemod", "resource", "operation");
    m.content = go.content;
    ASSERT_TRUE(beehive::detail::address_record(m, delivery::group, "remotemod", go_server_side));
    EXPECT_EQ(normalize(encoded(m)), normalize(r.text));
  }
}

TEST(GoRecords, OurSyncRequestsAreGos) {
  for (const auto& r : go_records_of(go_record_kind::sync_request)) {
    const auto go = decoded(r.text);
    const bool from_server = r.writer == "go-server";
    auto m = beehive::new_message().build_router("remotemod", "", "resource", "query");
    m.header.sync = true;
    m.content = go.content;
    ASSERT_TRUE(
        beehive::detail::address_record(m, delivery::direct, std::string_view(go.route.destination),
                                        from_server ? go_server_side : client_of_remotemod));
    EXPECT_EQ(normalize(encoded(m)), normalize(r.text));
  }
}

}  // namespace
