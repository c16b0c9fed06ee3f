// SPDX-License-Identifier: Apache-2.0
#include "socket/peer_endpoint.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "beehive/codec.hpp"
#include "checked_codec.hpp"
#include "normalize.hpp"

namespace beehive::detail {
namespace {

using test::decoded;
using test::encoded;
using test::normalize;

// Records of tests/data/go-records.jsonl (captures of real Go beehive processes), without their
// trailing '\n'.

// Capture B, go-client: a client SendSync to srvmod.
constexpr std::string_view go_sync_request =
    R"({"header":{"msg_id":"f3710a59-97cc-46bd-98bc-d89a195db318","timestamp":1796098587048,)"
    R"("sync":true,"type":"unixpacket"},"route":{"source":"remotemod","destination":"srvmod",)"
    R"("operation":"query","resource":"resource"},"content":"ping-0"})";
// Capture B, go-server: srvmod's SendResp to it (NewRespByMessage keeps the request's source;
// Go's socket SendResp sets the destination to it).
constexpr std::string_view go_reply =
    R"({"header":{"msg_id":"8cc49100-3070-4416-b635-f56ec80c440b",)"
    R"("parent_msg_id":"f3710a59-97cc-46bd-98bc-d89a195db318","timestamp":1796098587050,)"
    R"("type":"unixpacket"},"route":{"source":"remotemod","destination":"remotemod",)"
    R"("operation":"response","resource":"resource"},"content":"pong-from-go"})";
// Capture E, go-server: a SendToGroup record (no "type").
constexpr std::string_view go_group =
    R"({"header":{"msg_id":"7c1fa6bc-4159-475a-bab2-c7a92694ede3","timestamp":1796098598834},)"
    R"("route":{"source":"srvmod","destination":"remotemod","group":"remotemod",)"
    R"("operation":"operation","resource":"resource"},"content":"g2c-group-0"})";
// Capture B, go-client: special 6 (empty string body), ids and times fixed by the capture.
constexpr std::string_view go_special_6 =
    R"({"header":{"msg_id":"00000000-0000-4000-8000-000000000006","timestamp":1700000000006,)"
    R"("type":"unixpacket"},"route":{"source":"remotemod","destination":"srvmod",)"
    R"("operation":"op-6","resource":"special"},"content":""})";

const record_sender server_side{false, {}};
const record_sender client_of_remotemod{true, "remotemod"};

// ---- replies (issue 7 item 1) -----------------------------------------------------------------

TEST(AddressRecord, AReplyIsTheGoServersBytes) {
  // srvmod answers the Go client's request as a Go module does.
  message reply = new_resp_by_message(decoded(go_sync_request), content("pong-from-go"));
  ASSERT_TRUE(address_record(reply, delivery::reply, "client on bh.sock", server_side));
  EXPECT_EQ(normalize(encoded(reply)), normalize(go_reply));
}

TEST(AddressRecord, EveryReplyGoesToItsSource) {
  // A stale destination is replaced.
  message stale = new_resp_by_message(decoded(go_sync_request), content("x"));
  stale.route.destination = "srvmod";
  ASSERT_TRUE(address_record(stale, delivery::reply, "origin", server_side));
  EXPECT_EQ(stale.route.destination, "remotemod");
  // A type already set is kept.
  message typed = new_resp_by_message(decoded(go_sync_request), content("x"));
  typed.header.type = "channel";
  ASSERT_TRUE(address_record(typed, delivery::reply, "origin", server_side));
  EXPECT_EQ(typed.header.type, "channel");
  // Built by hand, without a source, on a client connection: it goes out under the client
  // module's name, which a Go server accepts, and to it.
  message bare = new_message(decoded(go_sync_request).header.id);
  bare.route.operation = response_operation;
  bare.fill_body("by hand");
  ASSERT_TRUE(address_record(bare, delivery::reply, "server of remotemod", client_of_remotemod));
  EXPECT_EQ(bare.route.source, "remotemod");
  EXPECT_EQ(bare.route.destination, "remotemod");
  EXPECT_EQ(bare.header.type, "unixpacket");
  // Built by hand without a source on the server side: no source, so no destination either.
  message bare_server = new_message("parent");
  bare_server.route.destination = "stale";
  ASSERT_TRUE(address_record(bare_server, delivery::reply, "origin", server_side));
  EXPECT_EQ(bare_server.route.destination, "");
}

TEST(AddressRecord, AReplyToAServerModulesRequestGoesOutUnderTheClientModulesName) {
  // new_resp_by_message copies the requester's name (srvmod) into the reply's source; a Go
  // server closes the connection on it. The reply is matched by its parent id alone.
  message request = new_message();
  request.build_router("srvmod", "", "resource", "query");
  request.header.sync = true;
  message reply = new_resp_by_message(request, content("pong"));
  ASSERT_TRUE(address_record(reply, delivery::reply, "server of remotemod", client_of_remotemod));
  EXPECT_EQ(reply.route.source, "remotemod");
  EXPECT_EQ(reply.route.destination, "remotemod");
  EXPECT_EQ(reply.header.parent_id, request.header.id);
}

// ---- group records (item 2) -------------------------------------------------------------------

TEST(AddressRecord, AGroupRecordIsTheGoServersBytesWithoutAType) {
  // srvmod's SendToGroup("remotemod", ...) as the Go server of capture E wrote it.
  message m = new_message().build_router("srvmod", "remotemod", "resource", "operation");
  m.fill_body("g2c-group-0");
  ASSERT_TRUE(address_record(m, delivery::group, "remotemod", server_side));
  const std::string ours = encoded(m);
  EXPECT_EQ(normalize(ours), normalize(go_group));
  EXPECT_EQ(ours.find("\"type\""), std::string::npos);
}

TEST(AddressRecord, DirectRecordsGetTheSocketTypeAndThePeer) {
  // A record a link's reader relays from another peer is addressed as a direct send.
  for (const auto how : {delivery::direct, delivery::relay}) {
    message m = new_message().build_router("srvmod", "", "res", "insert");
    m.route.destination = "stale";
    ASSERT_TRUE(address_record(m, how, "remotemod", server_side));
    EXPECT_EQ(m.route.destination, "remotemod");
    EXPECT_EQ(m.header.type, "unixpacket");
    // A sync request always carries the socket type: a Go peer routes its SendResp by it.
    message req = new_message().build_router("srvmod", "", "res", "query").set_type("channel");
    req.header.sync = true;
    ASSERT_TRUE(address_record(req, how, "remotemod", server_side));
    EXPECT_EQ(req.header.type, "unixpacket");
  }
}

// ---- sources on a client connection (item 5) ---------------------------------------------------

TEST(AddressRecord, AClientConnectionFillsAnEmptySourceWithItsModule) {
  for (const auto how : {delivery::direct, delivery::group, delivery::reply}) {
    message m = new_message().fill_body("x");
    ASSERT_TRUE(address_record(m, how, "srvmod", client_of_remotemod));
    EXPECT_EQ(m.route.source, "remotemod");
  }
  // The capture's record, sent by a module that set no source.
  message special =
      new_message().build_header("00000000-0000-4000-8000-000000000006", "", 1700000000006);
  special.build_router("", "", "special", "op-6").fill_body("");
  ASSERT_TRUE(address_record(special, delivery::direct, "srvmod", client_of_remotemod));
  EXPECT_EQ(encoded(special), go_special_6);
}

TEST(AddressRecord, AClientConnectionRefusesAForeignSourceUnchanged) {
  for (const auto how : {delivery::direct, delivery::group, delivery::relay}) {
    message m = new_message().build_router("localmod", "", "res", "insert").fill_body("x");
    const message before = m;
    auto r = address_record(m, how, "srvmod", client_of_remotemod);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(errc::invalid_argument));
    EXPECT_EQ(m.header, before.header);
    EXPECT_EQ(m.route, before.route);
  }
  // The module's own name passes; on the server side any source does.
  message own = new_message().build_router("remotemod", "", "res", "insert");
  EXPECT_TRUE(address_record(own, delivery::direct, "srvmod", client_of_remotemod));
  message any = new_message().build_router("localmod", "", "res", "insert");
  EXPECT_TRUE(address_record(any, delivery::direct, "remotemod", server_side));
  EXPECT_EQ(any.route.source, "localmod");
}

// ---- the endpoint over a real connection -------------------------------------------------------

struct client_link : ::testing::Test {
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    far = fds[1];
    conn = std::make_shared<connection>(fds[0], socket_kind::seqpacket, 65536, false, counters);
  }
  void TearDown() override {
    conn->wire.shutdown();
    ::close(far);
  }
  // The next record the server side reads (blocks until one comes).
  std::string read_record() {
    std::string buf(65536, '\0');
    const ssize_t n = ::recv(far, buf.data(), buf.size(), 0);
    EXPECT_GT(n, 0);
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0U);
    if (!buf.empty() && buf.back() == '\n') buf.pop_back();
    return buf;
  }

  std::shared_ptr<socket_counters> counters = std::make_shared<socket_counters>();
  std::shared_ptr<connection> conn;
  int far = -1;
};

TEST_F(client_link, APushWithoutSourceIsWrittenUnderTheClientModule) {
  peer_endpoint srvmod("srvmod", conn, "remotemod");
  message m = new_message().build_header("00000000-0000-4000-8000-000000000006", "", 1700000000006);
  m.build_router("", "", "special", "op-6").fill_body("");
  ASSERT_TRUE(srvmod.push(std::move(m), delivery::direct));
  EXPECT_EQ(read_record(), go_special_6);
}

TEST_F(client_link, AForeignSourceIsRefusedAndNothingIsWritten) {
  peer_endpoint srvmod("srvmod", conn, "remotemod");
  message foreign = new_message().build_router("localmod", "", "res", "insert").fill_body("lost");
  auto r = srvmod.push(std::move(foreign), delivery::direct);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::invalid_argument));
  // Refused before the write: the not moved-from message is still the caller's.
  EXPECT_EQ(foreign.route.source, "localmod");  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(counters->records_out.load(), 0U);
  // The next record is the first the server sees.
  ASSERT_TRUE(srvmod.push(new_message().fill_body("kept"), delivery::direct));
  const auto got = decoded(read_record());
  EXPECT_EQ(got.content.to_string().value_or(""), "kept");
  EXPECT_EQ(got.route.source, "remotemod");
  EXPECT_EQ(counters->records_out.load(), 1U);
}

// The send contract (issue 15 item 7): a push that fails after addressing leaves the caller's
// message exactly as it was, route and type included.
TEST_F(client_link, AFailedWriteLeavesTheMessageUnchanged) {
  struct opaque {
    int n = 0;
  };
  peer_endpoint srvmod("srvmod", conn, "remotemod");
  message m = new_message().build_router("", "", "res", "insert");
  m.content = content::make_object<opaque>();  // no JSON form: the write fails
  const message before = m;
  auto r = srvmod.push(std::move(m), delivery::direct);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::not_serializable));
  EXPECT_EQ(m.header, before.header);  // NOLINT(bugprone-use-after-move): not moved from
  EXPECT_EQ(m.route, before.route);
  EXPECT_TRUE(m.route.source.empty());
  EXPECT_TRUE(m.route.destination.empty());
  EXPECT_TRUE(m.header.type.empty());
  EXPECT_EQ(counters->records_out.load(), 0U);
}

TEST_F(client_link, AWriteToAnEndedConnectionLeavesTheMessageUnchanged) {
  peer_endpoint srvmod("srvmod", conn, "remotemod");
  conn->wire.shutdown();  // still `alive`: the failure comes from the write itself
  message m = new_message().build_router("", "", "res", "insert").fill_body("x");
  const message before = m;
  auto r = srvmod.push(std::move(m), delivery::relay);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::not_connected));
  EXPECT_EQ(m.header, before.header);  // NOLINT(bugprone-use-after-move): not moved from
  EXPECT_EQ(m.route, before.route);
}

}  // namespace
}  // namespace beehive::detail
