// SPDX-License-Identifier: Apache-2.0
// Replays the Go client's side of the capture (two real Go beehive processes) against our
// server and compares what our server writes with what the Go server wrote.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/socket_context.hpp"
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

// Ids and times differ from run to run; everything else must match byte for byte.
std::string normalize(const std::string& record) {
  static const std::regex id(R"("msg_id":"[^"]*")");
  static const std::regex ts(R"("timestamp":[0-9]+)");
  return std::regex_replace(std::regex_replace(record, id, R"("msg_id":"ID")"), ts,
                            R"("timestamp":0)");
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
    ASSERT_TRUE(server.add_module(test::channel_info("srvmod")));
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
  EXPECT_EQ(normalize(*reply), normalize(records[1].record));
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
  EXPECT_EQ(normalize(*got), normalize(records[2].record));

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
  EXPECT_EQ(normalize(*req), normalize(records[9].record));
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
  const std::string path = dir.file("beehive.sock");
  const int lfd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);

  context client;
  socket_options opts;
  opts.handshake_timeout = 10s;
  auto c = register_socket_context(client, test::socket_cfg(path, {"remotemod"}), opts);
  ASSERT_TRUE(c);
  std::thread joiner([&] { (void)client.add_module(test::remote_info("remotemod")); });
  const int fd = ::accept(lfd, nullptr, nullptr);
  ASSERT_GE(fd, 0);
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  std::string hs(buf, static_cast<std::size_t>(n));
  ASSERT_EQ(hs.back(), '\n');
  hs.pop_back();
  EXPECT_EQ(normalize(hs), normalize(records[0].record));
  // Answer as the Go server did (record 1, with our request's id as parent).
  auto req = decode_message(hs);
  ASSERT_TRUE(req);
  std::string reply = records[1].record;
  const std::string old_parent = "62a11fd6-ee42-4c6f-9d08-d853f212c30d";
  reply.replace(reply.find(old_parent), old_parent.size(), req->header.id);
  reply.push_back('\n');
  ASSERT_EQ(::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(reply.size()));
  joiner.join();
  ASSERT_TRUE((*c)->wait_connected("srvmod", 10s));
  EXPECT_EQ(client.groups()["srvgroup"], (std::vector<std::string>{"srvmod"}));
  (*c)->stop();
  ::close(fd);
  ::close(lfd);
}

}  // namespace
}  // namespace beehive
