// SPDX-License-Identifier: Apache-2.0
// Replays the Go client's side of the capture (two real Go beehive processes) against our
// server and compares what our server writes with what the Go server wrote.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/socket_context.hpp"
#include "support/channel_module.hpp"
#include "support/go_records.hpp"
#include "support/socket_support.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;

struct captured {
  bool from_client = false;
  std::string record;  // without the trailing '\n'
};

std::vector<captured> load_capture() {
  std::ifstream in(std::string(BEEHIVE_INTEROP_DIR) + "/go-beehive-wire-trace.txt");
  std::vector<captured> out;
  std::string line;
  bool from_client = false;
  while (std::getline(in, line)) {
    if (line.rfind("[", 0) == 0) {
      from_client = line.find("client -> server") != std::string::npos;
    } else if (line.rfind("{", 0) == 0) {
      out.push_back({from_client, line});
    }
  }
  return out;
}

struct go_capture : ::testing::Test {
  void SetUp() override {
    records = load_capture();
    ASSERT_EQ(records.size(), 12U);
    cfg = test::socket_cfg(dir.file("beehive.sock"), {"remotemod"});
    auto s = register_socket_context(server, cfg);
    ASSERT_TRUE(s);
    srv = *s;
    // The Go server process of the capture: sockserver (group sockserver), srvmod (srvgroup).
    ASSERT_TRUE(server.add_module(test::remote_info("sockserver")));
    ASSERT_TRUE(server.add_module_group("sockserver", "sockserver"));
    ASSERT_TRUE(server.add_module(test::mod("srvmod")));
    ASSERT_TRUE(server.add_module_group("srvmod", "srvgroup"));
  }
  void TearDown() override {
    if (srv) srv->stop();
  }

  test::temp_dir dir;
  std::vector<captured> records;
  socket_config cfg;
  context server;
  std::shared_ptr<socket_context> srv;
};

TEST_F(go_capture, HandshakeReplyMatchesGoByteForByteApartFromIdAndTime) {
  test::raw_peer go_client(dir.file("beehive.sock"));
  ASSERT_TRUE(go_client.connected());
  ASSERT_TRUE(records[0].from_client);
  ASSERT_TRUE(go_client.write_record(records[0].record));
  auto reply = go_client.read_record();
  ASSERT_TRUE(reply);
  EXPECT_EQ(test::normalize(*reply), test::normalize(records[1].record));
  // parent_msg_id is the id of the replayed request, kept verbatim.
  EXPECT_NE(reply->find("\"parent_msg_id\":\"62a11fd6-ee42-4c6f-9d08-d853f212c30d\""),
            std::string::npos);
  ASSERT_TRUE(srv->wait_connected("remotemod", 10s));
}

TEST_F(go_capture, ForwardedRecordsAreTheGoClientsBytes) {
  test::raw_peer go_client(dir.file("beehive.sock"));
  ASSERT_TRUE(go_client.write_record(records[0].record));
  ASSERT_TRUE(go_client.read_record());
  // Records 3..8: the client writes to itself through the server (message, sync request,
  // reply); the Go server echoes each one back unchanged, and so must ours.
  for (std::size_t i = 3; i <= 7; i += 2) {
    ASSERT_TRUE(records[i].from_client) << i;
    ASSERT_FALSE(records[i + 1].from_client) << i;
    ASSERT_TRUE(go_client.write_record(records[i].record));
    auto echoed = go_client.read_record();
    ASSERT_TRUE(echoed) << i;
    EXPECT_EQ(*echoed, records[i + 1].record) << i;
  }
  EXPECT_EQ(srv->stats().malformed_records, 0U);
}

TEST_F(go_capture, ServerMessagesHaveGosShape) {
  test::raw_peer go_client(dir.file("beehive.sock"));
  ASSERT_TRUE(go_client.write_record(records[0].record));
  ASSERT_TRUE(go_client.read_record());
  ASSERT_TRUE(srv->wait_connected("remotemod", 10s));

  // Record 2: srvmod sends "hello" to remotemod.
  auto hello = new_message().set_type("unixpacket");
  hello.route.source = "srvmod";
  hello.route.operation = "operation";
  hello.route.resource = "resource";
  hello.fill_body("hello");
  ASSERT_TRUE(server.send("remotemod", hello));
  auto got = go_client.read_record();
  ASSERT_TRUE(got);
  EXPECT_EQ(test::normalize(*got), test::normalize(records[2].record));

  // Records 9-10: a server-side send_sync to the remote module, answered by the Go client.
  // Go's server forwards the answer back to the client (record 11) instead of handing it to
  // the waiter, so its send_sync times out; ours hands it to the waiter.
  auto ping = new_message().set_type("unixpacket");
  ping.route.source = "remotemod";
  ping.route.operation = "query";
  ping.route.resource = "resource";
  ping.fill_body("ping-from-server");
  std::optional<expected<message>> result;
  std::thread waiter([&] { result = server.send_sync("remotemod", ping, 10s); });
  auto req = go_client.read_record();
  ASSERT_TRUE(req);
  EXPECT_EQ(test::normalize(*req), test::normalize(records[9].record));
  std::string answer = records[10].record;
  const std::string old_parent = "a28a67ff-1f36-4f88-85b0-e709586c6680";
  answer.replace(answer.find(old_parent), old_parent.size(), ping.header.id);
  ASSERT_TRUE(go_client.write_record(answer));
  waiter.join();
  ASSERT_TRUE(result && *result) << "server-side send_sync must get the Go client's reply";
  EXPECT_EQ((*result)->content.to_string().value_or(""), "pong");
}

TEST(GoCaptureClient, OurHandshakeHasGosShape) {
  // Our client's handshake, read by a raw server, matches the Go client's record 0.
  test::temp_dir dir;
  auto records = load_capture();
  ASSERT_FALSE(records.empty());
  socket_options opts;
  opts.handshake_timeout = 10s;
  test::hand_served_client c(dir.file("beehive.sock"), test::remote_info("remotemod"), opts);
  ASSERT_GE(c.fd, 0);
  std::string hs = c.handshake;
  ASSERT_FALSE(hs.empty());
  ASSERT_EQ(hs.back(), '\n');
  hs.pop_back();
  EXPECT_EQ(test::normalize(hs), test::normalize(records[0].record));
  // Answer as the Go server did (record 1, with our request's id as parent).
  auto req = decode_message(hs);
  ASSERT_TRUE(req);
  std::string reply = records[1].record;
  const std::string old_parent = "62a11fd6-ee42-4c6f-9d08-d853f212c30d";
  reply.replace(reply.find(old_parent), old_parent.size(), req->header.id);
  ASSERT_TRUE(test::write_packet(c.fd, reply));
  (void)c.join();
  ASSERT_TRUE(c.type->wait_connected("srvmod", 10s));
  EXPECT_EQ(c.ctx.groups()["srvgroup"], (std::vector<std::string>{"srvmod"}));
}

// ---- go-records.jsonl over real sockets ----------------------------------------------------

using test::go_record;
using test::go_record_kind;
using test::go_records_of;

// The records of `kind` that `writer` wrote, in capture order.
std::vector<std::string> go_texts(go_record_kind kind, std::string_view writer) {
  std::vector<std::string> out;
  for (auto& r : go_records_of(kind)) {
    if (r.writer == writer) out.push_back(std::move(r.text));
  }
  return out;
}

std::string with_parent(std::string record, std::string_view old_parent,
                        std::string_view new_parent) {
  record.replace(record.find(old_parent), old_parent.size(), new_parent);
  return record;
}

// Our server (the fixture's context) and a raw peer replaying the Go client's records.
TEST_F(go_capture, ExchangeIsTheGoServersForEveryGoHandshake) {
  const auto requests = go_texts(go_record_kind::handshake_request, "go-client");
  const auto exchanges = go_texts(go_record_kind::exchange, "go-server");
  ASSERT_EQ(requests.size(), 1U);
  ASSERT_EQ(exchanges.size(), 3U);
  test::raw_peer go_client(dir.file("beehive.sock"));
  ASSERT_TRUE(go_client.write_record(requests[0]));
  auto reply = go_client.read_record();
  ASSERT_TRUE(reply);
  // Capture B's answer to this very request: the parent id matches verbatim.
  EXPECT_EQ(test::normalize(*reply), test::normalize(exchanges[1]));
}

// Issue 7 item 3: a server that only calls listen() lists its own socket module, as Go does.
TEST(GoRecordsServer, AServerThatOnlyListensListsItsOwnSocketModule) {
  test::temp_dir dir;
  context server;
  auto s = register_socket_context(server, test::socket_cfg(dir.file("bh.sock"), {"remotemod"}));
  ASSERT_TRUE(s);
  ASSERT_TRUE(server.add_module(test::mod("srvmod")));
  ASSERT_TRUE(server.add_module_group("srvmod", "srvgroup"));
  ASSERT_TRUE((*s)->listen());
  test::raw_peer go_client(dir.file("bh.sock"));
  ASSERT_TRUE(go_client.write_record(go_texts(go_record_kind::handshake_request, "go-client")[0]));
  auto reply = go_client.read_record();
  ASSERT_TRUE(reply);
  EXPECT_EQ(test::normalize(*reply),
            test::normalize(go_texts(go_record_kind::exchange, "go-server")[1]));
  (*s)->stop();
}

struct go_records_server : go_capture {
  void SetUp() override {
    go_capture::SetUp();
    peer = std::make_unique<test::raw_peer>(dir.file("beehive.sock"));
    ASSERT_TRUE(peer->connected());
    ASSERT_TRUE(peer->handshake("remotemod"));
    ASSERT_TRUE(srv->wait_connected("remotemod", 10s));
  }
  std::unique_ptr<test::raw_peer> peer;  // connects once the server listens
};

TEST_F(go_records_server, SpecialsAreTheGoServersBytes) {
  const auto go = go_texts(go_record_kind::special, "go-server");
  ASSERT_EQ(go.size(), 9U);
  for (int n = 1; n <= 9; ++n) {
    ASSERT_TRUE(server.send("remotemod", test::go_special(n, "srvmod"))) << n;
    auto got = peer->read_record();
    ASSERT_TRUE(got) << n;
    EXPECT_EQ(*got, go[static_cast<std::size_t>(n - 1)]);  // ids and times are the capture's
  }
}

TEST_F(go_records_server, GroupRecordsAreTheGoServers) {
  const auto go = go_texts(go_record_kind::group, "go-server");
  ASSERT_EQ(go.size(), 1U);
  // Go puts the joined module in a group of its own name; srvmod sends to that group.
  auto m = new_message().build_router("srvmod", "remotemod", "resource", "operation");
  m.fill_body("g2c-group-0");
  auto d = server.send_to_group("remotemod", std::move(m));
  ASSERT_TRUE(d) << d.error().message();
  auto got = peer->read_record();
  ASSERT_TRUE(got);
  EXPECT_EQ(test::normalize(*got), test::normalize(go[0]));
}

TEST_F(go_records_server, AReplyToAGoClientsSendSyncIsTheGoServers) {
  const auto request = go_texts(go_record_kind::sync_request, "go-client");
  const auto go_reply = go_texts(go_record_kind::reply, "go-server");
  ASSERT_EQ(request.size(), 1U);
  ASSERT_EQ(go_reply.size(), 2U);
  ASSERT_TRUE(peer->write_record(request[0]));
  auto req = server.receive_for("srvmod", 10s);
  ASSERT_TRUE(req) << req.error().message();
  // As a Go module answers: NewRespByMessage, SendResp.
  ASSERT_TRUE(server.send_resp(new_resp_by_message(*req, content("pong-from-go"))));
  auto got = peer->read_record();
  ASSERT_TRUE(got);
  EXPECT_EQ(test::normalize(*got), test::normalize(go_reply[1]));  // capture B's
}

TEST_F(go_records_server, SyncRequestToTheGoClientIsTheGoServers) {
  const auto go = go_texts(go_record_kind::sync_request, "go-server");
  ASSERT_EQ(go.size(), 1U);
  auto ping = new_message().build_router("remotemod", "", "resource", "query");
  ping.fill_body("g2c-ping-0");
  std::optional<expected<message>> result;
  std::thread waiter([&] { result = server.send_sync("remotemod", ping, 10s); });
  auto got = peer->read_record();
  ASSERT_TRUE(got);
  EXPECT_EQ(test::normalize(*got), test::normalize(go[0]));
  // Answered as a Go client does, so that the call ends.
  auto req = decode_message(*got);
  ASSERT_TRUE(req);
  auto resp = new_resp_by_message(*req, content("pong"));
  resp.set_destination("remotemod");
  ASSERT_TRUE(peer->write_record(*encode_message(resp)));
  waiter.join();
  ASSERT_TRUE(result && *result);
  EXPECT_EQ((*result)->content.to_string().value_or(""), "pong");
}

// A Go Send of a message with a parent id (special 4) is nobody's reply; Go delivers it to its
// destination, and so do we (the reader routes by is_reply_record).
TEST_F(go_records_server, EveryGoClientSpecialReachesItsModuleUnchanged) {
  const auto go = go_texts(go_record_kind::special, "go-client");
  ASSERT_EQ(go.size(), 9U);
  for (const auto& record : go) ASSERT_TRUE(peer->write_record(record));
  for (const auto& record : go) {
    auto m = server.receive_for("srvmod", 10s);
    ASSERT_TRUE(m) << record;
    auto text = encode_message(*m);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, record);
  }
  EXPECT_EQ(srv->stats().orphan_replies, 0U);
}

// Our client (remotemod) and a raw server replaying the Go server's records.
struct go_records_client : ::testing::Test {
  void SetUp() override {
    const std::string path = dir.file("beehive.sock");
    listener.emplace(path);
    ASSERT_TRUE(listener->ok());
    auto c = register_socket_context(client, test::socket_cfg(path, {"remotemod"}));
    ASSERT_TRUE(c);
    cli = *c;
    std::optional<expected<void>> added;
    std::thread joiner([&] { added = client.add_module(test::remote_info("remotemod")); });
    fd = listener->accept_within(10s);
    auto hs = fd >= 0 ? read_record() : std::nullopt;
    if (hs) {
      // The Go server's answer (capture B) to our request.
      const auto req = decode_message(*hs);
      const std::string go_request = go_texts(go_record_kind::handshake_request, "go-client")[0];
      const auto go_req = decode_message(go_request);
      if (req && go_req) {
        EXPECT_EQ(test::normalize(*hs), test::normalize(go_request));
        (void)write_record(with_parent(go_texts(go_record_kind::exchange, "go-server")[1],
                                       go_req->header.id, req->header.id));
      }
    }
    joiner.join();
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(hs);
    ASSERT_TRUE(added && *added);
    ASSERT_TRUE(cli->wait_connected("srvmod", 10s));
    // Then our client subscribes to presence: a record a Go server reads and ignores
    // (resource `module`, operation not `add`; handshake.hpp). The replay goes on after it.
    auto sub = read_record();
    ASSERT_TRUE(sub);
    auto m = decode_message(*sub);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->route.resource, "module");
    EXPECT_EQ(m->route.operation, "presence");
  }
  void TearDown() override {
    if (cli) cli->stop();
    if (fd >= 0) ::close(fd);
  }

  std::optional<std::string> read_record() {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return std::nullopt;
    std::string buf(1 << 16, '\0');
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    if (buf.back() == '\n') buf.pop_back();
    return buf;
  }
  bool write_record(const std::string& json) const { return test::write_packet(fd, json); }

  test::temp_dir dir;
  context client;
  std::shared_ptr<socket_context> cli;
  std::optional<test::raw_listener> listener;
  int fd = -1;
};

TEST_F(go_records_client, SpecialsAreTheGoClientsBytes) {
  const auto go = go_texts(go_record_kind::special, "go-client");
  ASSERT_EQ(go.size(), 9U);
  for (int n = 1; n <= 9; ++n) {
    // Half of them without a source: the client connection names its module.
    ASSERT_TRUE(client.send("srvmod", test::go_special(n, n % 2 == 0 ? "remotemod" : ""))) << n;
    auto got = read_record();
    ASSERT_TRUE(got) << n;
    EXPECT_EQ(*got, go[static_cast<std::size_t>(n - 1)]);
  }
}

TEST_F(go_records_client, SyncRequestIsTheGoClientsAndGetsTheGoReply) {
  const auto go = go_texts(go_record_kind::sync_request, "go-client");
  const auto go_reply = go_texts(go_record_kind::reply, "go-server")[1];
  std::optional<expected<message>> result;
  std::thread caller([&] {
    result = client.send_sync(
        "srvmod", new_message().build_router("", "", "resource", "query").fill_body("ping-0"), 10s);
  });
  auto got = read_record();
  if (got) {
    EXPECT_EQ(test::normalize(*got), test::normalize(go[0]));
    auto req = decode_message(*got);
    auto go_req = decode_message(go[0]);
    if (req && go_req) {
      EXPECT_TRUE(write_record(with_parent(go_reply, go_req->header.id, req->header.id)));
    }
  }
  caller.join();
  ASSERT_TRUE(got);
  ASSERT_TRUE(result && *result) << (result ? result->error().message() : "no result");
  EXPECT_EQ((*result)->content.to_string().value_or(""), "pong-from-go");
  EXPECT_EQ(cli->stats().replies_routed, 1U);
}

// Issue 7 item 12: a reply that comes after its send_sync gave up is an orphan, as in process.
TEST_F(go_records_client, ALateReplyIsAnOrphanNotAnUnknownDestination) {
  const auto go_sync = go_texts(go_record_kind::sync_request, "go-client")[0];
  const auto go_reply = go_texts(go_record_kind::reply, "go-server")[1];
  const auto marker = go_texts(go_record_kind::special, "go-server")[5];  // srvmod -> remotemod
  std::optional<expected<message>> result;
  std::thread caller(
      [&] { result = client.send_sync("srvmod", new_message().fill_body("ping-0"), 20ms); });
  auto got = read_record();
  caller.join();  // the call is over before the reply is even written
  ASSERT_TRUE(got);
  ASSERT_TRUE(result && !*result);
  EXPECT_EQ(result->error(), make_error_code(errc::timed_out));
  auto req = decode_message(*got);
  auto go_req = decode_message(go_sync);
  ASSERT_TRUE(req && go_req);
  ASSERT_TRUE(write_record(with_parent(go_reply, go_req->header.id, req->header.id)));
  // A record written after the reply: once it arrived, the reply was routed.
  ASSERT_TRUE(write_record(marker));
  auto m = client.receive_for("remotemod", 10s);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->route.operation, "op-6");
  const auto st = cli->stats();
  EXPECT_EQ(st.orphan_replies, 1U);
  EXPECT_EQ(st.unknown_destination, 0U);
  EXPECT_EQ(st.replies_routed, 0U);
  EXPECT_EQ(client.orphan_responses(), 1U);
}

// Issue 7 item 5: a Go server closes the connection on a record whose source is not a listed
// client; ours refuses such a record before writing it, and the connection stays up.
TEST_F(go_records_client, AForeignSourceIsRefusedBeforeItReachesTheServer) {
  auto foreign = new_message().build_router("localmod", "", "res", "insert").fill_body("lost");
  auto r = client.send("srvmod", foreign);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::invalid_argument));
  ASSERT_TRUE(client.send("srvmod", new_message().fill_body("kept")));
  auto got = read_record();
  ASSERT_TRUE(got);
  auto m = decode_message(*got);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "kept");
  EXPECT_EQ(m->route.source, "remotemod");
  EXPECT_TRUE(cli->connected("srvmod"));
}

// Issue 7 items 1 and 5: our answer to a Go server's SendSync has the Go shape, whatever source
// the request had (a Go server refuses any but the client module's).
TEST_F(go_records_client, RepliesToTheGoServerGoOutUnderTheClientModule) {
  const auto go_sync = go_texts(go_record_kind::sync_request, "go-server")[0];
  for (const std::string source : {"remotemod", "srvmod"}) {
    SCOPED_TRACE(source);
    auto req = decode_message(go_sync);
    ASSERT_TRUE(req);
    req->route.source = source;
    req->update_id();
    ASSERT_TRUE(write_record(*encode_message(*req)));
    auto got = client.receive_for("remotemod", 10s);
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_TRUE(client.send_resp(new_resp_by_message(*got, content("pong"))));
    auto reply = read_record();
    ASSERT_TRUE(reply);
    // The Go client's reply of the wire trace, to this request.
    EXPECT_EQ(
        test::normalize(*reply),
        test::normalize(
            R"({"header":{"msg_id":"c306e449-1dfe-4bfb-b642-e746e3e19e8e","parent_msg_id":")" +
            std::string(req->header.id) +
            R"(","timestamp":1795721460387,"type":"unixpacket"},"route":{"source":)"
            R"("remotemod","destination":"remotemod","operation":"response",)"
            R"("resource":"resource"},"content":"pong"})"));
  }
}

}  // namespace
}  // namespace beehive
