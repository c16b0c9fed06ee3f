// SPDX-License-Identifier: Apache-2.0
// Bad input against a server: each is rejected, counted and logged; the connection is closed
// only where the stream can no longer be trusted; the other peers keep being served; nothing
// already accepted is lost.
#include <gtest/gtest.h>

#include <string>

#include "beehive/beehive.hpp"
#include "beehive/socket_context.hpp"
#include "support/socket_support.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::raw_peer;

constexpr auto bound = std::chrono::seconds(10);

std::string record_to(const std::string& dest, const std::string& body, bool sync = false) {
  auto m = new_message().fill_body(body).set_type("unixpacket");
  m.route.source = "remotemod";
  m.route.destination = dest;
  m.header.sync = sync;
  return *encode_message(m);
}

struct bad_input : ::testing::TestWithParam<std::string> {
  void SetUp() override {
    stream = GetParam() == "unix";
    cfg = test::socket_cfg(dir.file("bh.sock"), {"remotemod", "othermod"}, GetParam(),
                           /*connmax=*/2, /*buffersize=*/512);
    socket_options opts;
    opts.handshake_timeout = 300ms;
    auto s = register_socket_context(server, cfg, opts);
    ASSERT_TRUE(s);
    srv = *s;
    ASSERT_TRUE(server.add_module(test::channel_info("srvmod")));
    ASSERT_TRUE(srv->listen());
  }
  void TearDown() override {
    if (srv) srv->stop();
  }

  // A well-behaved peer that stays connected through every test.
  void expect_other_peer_still_served(raw_peer& good) {
    ASSERT_TRUE(good.write_record(record_to("srvmod", "still-here")));
    auto m = server.receive_for("srvmod", bound);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->content.to_string().value_or(""), "still-here");
  }

  bool stream = false;
  test::temp_dir dir;
  socket_config cfg;
  context server;
  std::shared_ptr<socket_context> srv;
};

TEST_P(bad_input, MalformedJsonIsCountedAndTheNextRecordStillArrives) {
  raw_peer p(dir.file("bh.sock"), stream);
  ASSERT_TRUE(p.handshake("remotemod"));
  ASSERT_TRUE(p.write_record("{\"header\":{\"msg_id\":"));  // cut JSON
  ASSERT_TRUE(p.write_record("[1,2,3]"));                   // JSON, not a message
  ASSERT_TRUE(p.write_record(record_to("srvmod", "after")));
  auto m = server.receive_for("srvmod", bound);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "after");
  EXPECT_EQ(srv->stats().malformed_records, 2U);
  EXPECT_TRUE(srv->connected("remotemod"));  // record boundaries are intact: link kept
}

TEST_P(bad_input, HandshakeFromAnUnlistedModuleIsRejected) {
  raw_peer good(dir.file("bh.sock"), stream);
  ASSERT_TRUE(good.handshake("remotemod"));
  raw_peer p(dir.file("bh.sock"), stream);
  EXPECT_FALSE(p.handshake("intruder"));  // gets an error reply, then the server closes
  EXPECT_TRUE(p.wait_eof());
  EXPECT_EQ(srv->stats().handshakes_rejected, 1U);
  EXPECT_FALSE(srv->connected("intruder"));
  EXPECT_EQ(server.module_type("intruder"), std::nullopt);
  expect_other_peer_still_served(good);
}

TEST_P(bad_input, FirstRecordNotAHandshakeIsRejected) {
  raw_peer p(dir.file("bh.sock"), stream);
  ASSERT_TRUE(p.write_record(record_to("srvmod", "sneaky")));
  EXPECT_TRUE(p.wait_eof());
  EXPECT_EQ(srv->stats().handshakes_rejected, 1U);
  EXPECT_FALSE(server.receive_for("srvmod", 50ms));
}

TEST_P(bad_input, SilentPeerIsClosedAfterTheHandshakeTimeout) {
  raw_peer p(dir.file("bh.sock"), stream);
  EXPECT_TRUE(p.wait_eof());
  EXPECT_EQ(srv->stats().handshakes_rejected, 1U);
}

TEST_P(bad_input, UnknownDestinationIsCountedAndASyncRequestGetsAnErrorAtOnce) {
  raw_peer p(dir.file("bh.sock"), stream);
  ASSERT_TRUE(p.handshake("remotemod"));
  ASSERT_TRUE(p.write_record(record_to("nobody", "lost")));
  const std::string sync_req = record_to("nobody", "q", true);
  ASSERT_TRUE(p.write_record(sync_req));
  auto err = p.read_record();
  ASSERT_TRUE(err);
  auto e = decode_message(*err);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->route.operation, "error");
  EXPECT_EQ(e->header.parent_id, decode_message(sync_req)->header.id);
  EXPECT_EQ(srv->stats().unknown_destination, 2U);
  expect_other_peer_still_served(p);
}

TEST_P(bad_input, MoreConnectionsThanConnmaxAreRefused) {
  raw_peer a(dir.file("bh.sock"), stream);
  ASSERT_TRUE(a.handshake("remotemod"));
  raw_peer b(dir.file("bh.sock"), stream);
  ASSERT_TRUE(b.handshake("othermod"));
  raw_peer c(dir.file("bh.sock"), stream);  // connmax is 2
  EXPECT_TRUE(c.wait_eof());
  EXPECT_EQ(srv->stats().connections_refused, 1U);
  expect_other_peer_still_served(a);
  expect_other_peer_still_served(b);
}

TEST_P(bad_input, RecordLargerThanBuffersize) {
  raw_peer good(dir.file("bh.sock"), stream);
  ASSERT_TRUE(good.handshake("othermod"));
  raw_peer p(dir.file("bh.sock"), stream);
  ASSERT_TRUE(p.handshake("remotemod"));
  ASSERT_TRUE(p.write_record(record_to("srvmod", "before")));
  ASSERT_TRUE(p.write_record(record_to("srvmod", std::string(2000, 'x'))));
  if (!stream) {
    // SEQPACKET keeps record boundaries: the big record is rejected, the link stays (Go's
    // client reconnects forever instead).
    ASSERT_TRUE(p.write_record(record_to("srvmod", "after")));
    for (const char* expect : {"before", "after"}) {
      auto m = server.receive_for("srvmod", bound);
      ASSERT_TRUE(m);
      EXPECT_EQ(m->content.to_string().value_or(""), expect);
    }
    EXPECT_EQ(srv->stats().oversized_records, 1U);
    EXPECT_TRUE(srv->connected("remotemod"));
  } else {
    // A frame length above buffersize: the stream cannot be trusted, it is closed; what came
    // before is delivered.
    auto m = server.receive_for("srvmod", bound);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->content.to_string().value_or(""), "before");
    EXPECT_TRUE(p.wait_eof());
    EXPECT_EQ(srv->stats().bad_frames, 1U);
  }
  expect_other_peer_still_served(good);
}

INSTANTIATE_TEST_SUITE_P(SocketTypes, bad_input, ::testing::Values("unixpacket", "unix"));

// Stream-only damage.
struct bad_stream : bad_input {};

TEST_P(bad_stream, WrongMagicClosesOnlyThatStream) {
  raw_peer good(dir.file("bh.sock"), true);
  ASSERT_TRUE(good.handshake("othermod"));
  raw_peer p(dir.file("bh.sock"), true);
  ASSERT_TRUE(p.handshake("remotemod"));
  ASSERT_TRUE(p.write_record(record_to("srvmod", "before")));
  std::string frame;
  append_package(record_to("srvmod", "bad"), frame);
  frame[0] = 'X';
  ASSERT_TRUE(p.write_raw(frame));
  auto m = server.receive_for("srvmod", bound);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "before");  // accepted before: not lost
  EXPECT_TRUE(p.wait_eof());
  EXPECT_EQ(srv->stats().bad_frames, 1U);
  EXPECT_FALSE(srv->connected("remotemod"));
  expect_other_peer_still_served(good);
}

TEST_P(bad_stream, PeerClosingMidFrameIsCounted) {
  {
    raw_peer p(dir.file("bh.sock"), true);
    ASSERT_TRUE(p.handshake("remotemod"));
    std::string frames;
    append_package(record_to("srvmod", "whole"), frames);
    std::string cut;
    append_package(record_to("srvmod", "cut"), cut);
    frames += cut.substr(0, cut.size() / 2);
    ASSERT_TRUE(p.write_raw(frames));
  }  // closes mid-frame
  auto m = server.receive_for("srvmod", bound);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "whole");
  ASSERT_TRUE(srv->wait_disconnected("remotemod", bound));
  EXPECT_EQ(srv->stats().truncated_frames, 1U);
}

INSTANTIATE_TEST_SUITE_P(Stream, bad_stream, ::testing::Values("unix"));

TEST(BadInputClient, OversizedRecordFromTheServerDoesNotDropTheClient) {
  // Go's client reconnects forever on a record larger than its buffer; ours rejects the
  // record and keeps the link.
  test::temp_dir dir;
  const std::string path = dir.file("bh.sock");
  context server;
  auto big_cfg = test::socket_cfg(path, {"remotemod"}, "unixpacket", 4, 65536);
  auto s = register_socket_context(server, big_cfg);
  ASSERT_TRUE(s);
  ASSERT_TRUE(server.add_module(test::channel_info("srvmod")));
  ASSERT_TRUE((*s)->listen());
  context client;
  auto small_cfg = test::socket_cfg(path, {"remotemod"}, "unixpacket", 4, 1024);
  auto c = register_socket_context(client, small_cfg);
  ASSERT_TRUE(c);
  ASSERT_TRUE(client.add_module(test::remote_info("remotemod")));
  ASSERT_TRUE((*s)->wait_connected("remotemod", bound));
  ASSERT_TRUE(server.send("remotemod", new_message().fill_body(std::string(5000, 'y'))));
  ASSERT_TRUE(server.send("remotemod", new_message().fill_body("small")));
  auto m = client.receive_for("remotemod", bound);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "small");
  EXPECT_EQ((*c)->stats().oversized_records, 1U);
  EXPECT_TRUE((*c)->connected("srvmod"));
  EXPECT_EQ((*c)->stats().connects, 1U);  // no reconnect
  (*c)->stop();
  (*s)->stop();
}

}  // namespace
}  // namespace beehive
