// SPDX-License-Identifier: Apache-2.0
// Bad input against a server: each is rejected, counted and logged; the connection is closed
// only where the stream can no longer be trusted; the other peers keep being served; nothing
// already accepted is lost.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "beehive/beehive.hpp"
#include "beehive/socket_context.hpp"
#include "support/bounded_wait.hpp"
#include "support/channel_module.hpp"
#include "support/socket_support.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::raw_peer;

using test::watchdog;

std::string record_to(const std::string& dest, const std::string& body, bool sync = false) {
  auto m = new_message().fill_body(body).set_type("unixpacket");
  m.route.source = "remotemod";
  m.route.destination = dest;
  m.header.sync = sync;
  return *encode_message(m);
}

// Parameters: "unixpacket", "unix" (newline-delimited, Go's), "unix-package" (the framing
// option).
struct bad_input : ::testing::TestWithParam<std::string> {
  void SetUp() override {
    package = GetParam() == "unix-package";
    const std::string type = package ? "unix" : GetParam();
    stream = type == "unix";
    cfg = test::socket_cfg(dir.file("bh.sock"), {"remotemod", "othermod"}, type,
                           /*connmax=*/2, /*buffersize=*/512);
    socket_options opts;
    opts.handshake_timeout = 300ms;
    opts.framing = package ? stream_framing::package : stream_framing::newline;
    auto s = register_socket_context(server, cfg, opts);
    ASSERT_TRUE(s);
    srv = *s;
    ASSERT_TRUE(server.add_module(test::mod("srvmod")));
    ASSERT_TRUE(srv->listen());
  }
  void TearDown() override {
    if (srv) srv->stop();
  }

  // A well-behaved peer that stays connected through every test.
  void expect_other_peer_still_served(raw_peer& good) {
    ASSERT_TRUE(good.write_record(record_to("srvmod", "still-here")));
    auto m = server.receive_for("srvmod", watchdog);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->content.to_string().value_or(""), "still-here");
  }

  // A peer speaking this test's socket type and framing.
  [[nodiscard]] std::unique_ptr<raw_peer> peer() const {
    return std::make_unique<raw_peer>(dir.file("bh.sock"), stream, package);
  }

  bool stream = false;
  bool package = false;
  test::temp_dir dir;
  socket_config cfg;
  context server;
  std::shared_ptr<socket_context> srv;
};

TEST_P(bad_input, MalformedJsonIsCountedAndTheNextRecordStillArrives) {
  auto p = peer();
  ASSERT_TRUE(p->handshake("remotemod"));
  ASSERT_TRUE(p->write_record("{\"header\":{\"msg_id\":"));  // cut JSON
  ASSERT_TRUE(p->write_record("[1,2,3]"));                   // JSON, not a message
  ASSERT_TRUE(p->write_record(record_to("srvmod", "after")));
  auto m = server.receive_for("srvmod", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "after");
  EXPECT_EQ(srv->stats().malformed_records, 2U);
  EXPECT_TRUE(srv->connected("remotemod"));  // record boundaries are intact: link kept
}

TEST_P(bad_input, HandshakeFromAnUnlistedModuleIsRejected) {
  auto good = peer();
  ASSERT_TRUE(good->handshake("remotemod"));
  auto p = peer();
  EXPECT_FALSE(p->handshake("intruder"));  // gets an error reply, then the server closes
  EXPECT_TRUE(p->wait_eof());
  EXPECT_EQ(srv->stats().handshakes_rejected, 1U);
  EXPECT_FALSE(srv->connected("intruder"));
  EXPECT_EQ(server.module_type("intruder"), std::nullopt);
  expect_other_peer_still_served(*good);
}

TEST_P(bad_input, FirstRecordNotAHandshakeIsRejected) {
  auto p = peer();
  ASSERT_TRUE(p->write_record(record_to("srvmod", "sneaky")));
  EXPECT_TRUE(p->wait_eof());
  EXPECT_EQ(srv->stats().handshakes_rejected, 1U);
  EXPECT_FALSE(server.receive_for("srvmod", 50ms));
}

TEST_P(bad_input, SilentPeerIsClosedAfterTheHandshakeTimeout) {
  auto p = peer();
  EXPECT_TRUE(p->wait_eof());
  EXPECT_EQ(srv->stats().handshakes_rejected, 1U);
}

TEST_P(bad_input, UnknownDestinationIsCountedAndASyncRequestGetsAnErrorAtOnce) {
  auto p = peer();
  ASSERT_TRUE(p->handshake("remotemod"));
  ASSERT_TRUE(p->write_record(record_to("nobody", "lost")));
  const std::string sync_req = record_to("nobody", "q", true);
  ASSERT_TRUE(p->write_record(sync_req));
  auto err = p->read_record();
  ASSERT_TRUE(err);
  auto e = decode_message(*err);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->route.operation, "error");
  EXPECT_EQ(e->header.parent_id, decode_message(sync_req)->header.id);
  EXPECT_EQ(srv->stats().unknown_destination, 2U);
  expect_other_peer_still_served(*p);
}

TEST_P(bad_input, MoreConnectionsThanConnmaxAreRefused) {
  auto a = peer();
  ASSERT_TRUE(a->handshake("remotemod"));
  auto b = peer();
  ASSERT_TRUE(b->handshake("othermod"));
  auto c = peer();  // connmax is 2
  EXPECT_TRUE(c->wait_eof());
  EXPECT_EQ(srv->stats().connections_refused, 1U);
  expect_other_peer_still_served(*a);
  expect_other_peer_still_served(*b);
}

TEST_P(bad_input, RecordLargerThanBuffersize) {
  auto good = peer();
  ASSERT_TRUE(good->handshake("othermod"));
  auto p = peer();
  ASSERT_TRUE(p->handshake("remotemod"));
  ASSERT_TRUE(p->write_record(record_to("srvmod", "before")));
  ASSERT_TRUE(p->write_record(record_to("srvmod", std::string(2000, 'x'))));
  if (!package) {
    // Packets and newline-delimited records keep their boundaries: the big record is
    // rejected, the link stays (Go's client reconnects forever instead).
    ASSERT_TRUE(p->write_record(record_to("srvmod", "after")));
    for (const char* expect : {"before", "after"}) {
      auto m = server.receive_for("srvmod", watchdog);
      ASSERT_TRUE(m);
      EXPECT_EQ(m->content.to_string().value_or(""), expect);
    }
    EXPECT_EQ(srv->stats().oversized_records, 1U);
    EXPECT_TRUE(srv->connected("remotemod"));
  } else {
    // A frame length above buffersize: the stream cannot be trusted, it is closed; what came
    // before is delivered.
    auto m = server.receive_for("srvmod", watchdog);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->content.to_string().value_or(""), "before");
    EXPECT_TRUE(p->wait_eof());
    EXPECT_EQ(srv->stats().bad_frames, 1U);
  }
  expect_other_peer_still_served(*good);
}

TEST_P(bad_input, OversizedFirstRecordClosesTheConnection) {
  // Before its handshake the peer is unknown: a record too long for the buffer is not skipped
  // (a handshake behind it would be taken), the connection closes at once.
  auto good = peer();
  ASSERT_TRUE(good->handshake("othermod"));
  auto p = peer();
  ASSERT_TRUE(p->write_record(record_to("srvmod", std::string(2000, 'x'))));
  EXPECT_FALSE(p->handshake("remotemod"));
  EXPECT_TRUE(p->wait_eof());
  EXPECT_FALSE(srv->connected("remotemod"));
  if (package) {
    EXPECT_EQ(srv->stats().bad_frames, 1U);  // a frame length above buffersize
  } else {
    EXPECT_EQ(srv->stats().oversized_records, 1U);
    EXPECT_EQ(srv->stats().handshakes_rejected, 1U);
  }
  expect_other_peer_still_served(*good);
}

// The empty record of this test's socket type: a zero-length packet, an empty line, an empty
// package frame.
std::string empty_record(bool stream, bool package) {
  if (package) {
    std::string frame;
    detail::append_package("", frame);
    return frame;
  }
  return stream ? "\n" : "";
}

TEST_P(bad_input, EmptyRecordIsMalformedAndTheLinkStays) {
  auto p = peer();
  ASSERT_TRUE(p->handshake("remotemod"));
  ASSERT_TRUE(p->write_raw(empty_record(stream, package)));
  ASSERT_TRUE(p->write_record(record_to("srvmod", "after")));
  auto m = server.receive_for("srvmod", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "after");
  EXPECT_EQ(srv->stats().malformed_records, 1U);
  EXPECT_TRUE(srv->connected("remotemod"));
}

TEST_P(bad_input, EmptyRecordBetweenGoodRecordsLosesNeither) {
  // On SEQPACKET the three usually come in one recvmmsg batch (the transport test makes sure
  // of it); before, the empty one ended the batch and dropped what followed.
  auto p = peer();
  ASSERT_TRUE(p->handshake("remotemod"));
  ASSERT_TRUE(p->write_record(record_to("srvmod", "first")));
  ASSERT_TRUE(p->write_raw(empty_record(stream, package)));
  ASSERT_TRUE(p->write_record(record_to("srvmod", "second")));
  for (const char* expect : {"first", "second"}) {
    auto m = server.receive_for("srvmod", watchdog);
    ASSERT_TRUE(m) << expect;
    EXPECT_EQ(m->content.to_string().value_or(""), expect);
  }
  EXPECT_EQ(srv->stats().malformed_records, 1U);
  EXPECT_TRUE(srv->connected("remotemod"));
}

INSTANTIATE_TEST_SUITE_P(SocketTypes, bad_input,
                         ::testing::Values("unixpacket", "unix", "unix-package"));

// Stream-only damage.
struct bad_stream : bad_input {};

TEST_P(bad_stream, RecordsSplitAcrossWritesAndSeveralPerWriteArrive) {
  auto p = peer();
  ASSERT_TRUE(p->handshake("remotemod"));
  std::string bytes;
  for (const char* body : {"one", "two", "three"}) {
    const std::string json = record_to("srvmod", body);
    if (package) {
      detail::append_package(json, bytes);
    } else {
      bytes += json + "\n";
    }
  }
  for (std::size_t i = 0; i < bytes.size(); i += 50) ASSERT_TRUE(p->write_raw(bytes.substr(i, 50)));
  ASSERT_TRUE(p->write_raw(bytes));  // the same three in one write
  for (int round = 0; round < 2; ++round) {
    for (const char* expect : {"one", "two", "three"}) {
      auto m = server.receive_for("srvmod", watchdog);
      ASSERT_TRUE(m) << expect;
      EXPECT_EQ(m->content.to_string().value_or(""), expect);
    }
  }
  EXPECT_EQ(srv->stats().malformed_records, 0U);
}

TEST_P(bad_stream, PeerClosingMidRecordIsCounted) {
  {
    auto p = peer();
    ASSERT_TRUE(p->handshake("remotemod"));
    std::string bytes;
    std::string cut;
    if (package) {
      detail::append_package(record_to("srvmod", "whole"), bytes);
      detail::append_package(record_to("srvmod", "cut"), cut);
    } else {
      bytes = record_to("srvmod", "whole") + "\n";
      cut = record_to("srvmod", "cut") + "\n";
    }
    bytes += cut.substr(0, cut.size() / 2);
    ASSERT_TRUE(p->write_raw(bytes));
  }  // closes mid-record
  auto m = server.receive_for("srvmod", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "whole");
  ASSERT_TRUE(srv->wait_disconnected("remotemod", watchdog));
  EXPECT_EQ(srv->stats().truncated_frames, 1U);
}

INSTANTIATE_TEST_SUITE_P(Stream, bad_stream, ::testing::Values("unix", "unix-package"));

// Damage only the package framing can suffer.
struct bad_package : bad_input {};

TEST_P(bad_package, WrongMagicClosesOnlyThatStream) {
  auto good = peer();
  ASSERT_TRUE(good->handshake("othermod"));
  auto p = peer();
  ASSERT_TRUE(p->handshake("remotemod"));
  ASSERT_TRUE(p->write_record(record_to("srvmod", "before")));
  std::string frame;
  detail::append_package(record_to("srvmod", "bad"), frame);
  frame[0] = 'X';
  ASSERT_TRUE(p->write_raw(frame));
  auto m = server.receive_for("srvmod", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "before");  // accepted before: not lost
  EXPECT_TRUE(p->wait_eof());
  EXPECT_EQ(srv->stats().bad_frames, 1U);
  EXPECT_FALSE(srv->connected("remotemod"));
  expect_other_peer_still_served(*good);
}

INSTANTIATE_TEST_SUITE_P(Package, bad_package, ::testing::Values("unix-package"));

// ---- a peer that stops reading -------------------------------------------------------------

// A server with two raw peers: `remotemod`, which handshakes and then never reads, and
// `othermod`, which reads. Both are in the group `both`. The outbound queues follow the
// parameter's overflow policy (capacity 16; `block` with a 50 ms block timeout, so that the
// test can fill the queue without hanging).
struct stuck_peer : ::testing::TestWithParam<overflow_policy> {
  void SetUp() override {
    cfg = test::socket_cfg(dir.file("bh.sock"), {"remotemod", "othermod"});
    socket_options opts;
    opts.outbound.capacity = 16;
    opts.outbound.overflow = GetParam();
    opts.outbound.block_timeout = GetParam() == overflow_policy::block ? 50ms : 0ms;
    auto s = register_socket_context(server, cfg, opts);
    ASSERT_TRUE(s);
    srv = *s;
    ASSERT_TRUE(srv->listen());
    stuck = std::make_unique<raw_peer>(dir.file("bh.sock"));
    good = std::make_unique<raw_peer>(dir.file("bh.sock"));
    ASSERT_TRUE(stuck->handshake("remotemod"));
    ASSERT_TRUE(good->handshake("othermod"));
    ASSERT_TRUE(srv->wait_connected("remotemod", watchdog));
    ASSERT_TRUE(srv->wait_connected("othermod", watchdog));
    ASSERT_TRUE(server.add_module_group("remotemod", "both"));
    ASSERT_TRUE(server.add_module_group("othermod", "both"));
  }
  void TearDown() override {
    // The stuck peer goes: whatever still waits on its socket ends.
    stuck.reset();
    good.reset();
    if (srv) srv->stop();
  }

  // Plain sends to the stuck peer until its socket and its queue are full: until one is
  // refused (`fail`, `block`), or (`drop_oldest`) until one was evicted. Runs under a
  // watchdog: before the outbound queue, the send that found the socket full blocked forever.
  void fill_stuck() {
    auto filler = std::async(std::launch::async, [&] {
      for (int i = 0; i < 1'000'000; ++i) {
        auto r = server.send("remotemod", new_message().fill_body("fill"));
        if (!r) return r.error();
        if (srv->stats().outbound_dropped > 0) return std::error_code();
      }
      return make_error_code(errc::invalid_argument);
    });
    ASSERT_EQ(filler.wait_for(watchdog), std::future_status::ready) << "a send blocked";
    const auto e = filler.get();
    switch (GetParam()) {
      case overflow_policy::fail:
        EXPECT_EQ(e, make_error_code(errc::queue_full));
        EXPECT_GT(srv->stats().outbound_rejected, 0U);
        break;
      case overflow_policy::block:
        EXPECT_EQ(e, make_error_code(errc::timed_out));
        EXPECT_GT(srv->stats().outbound_rejected, 0U);
        break;
      case overflow_policy::drop_oldest:
        EXPECT_EQ(e, std::error_code());
        break;
    }
  }

  test::temp_dir dir;
  socket_config cfg;
  context server;
  std::shared_ptr<socket_context> srv;
  std::unique_ptr<raw_peer> stuck;
  std::unique_ptr<raw_peer> good;
};

TEST_P(stuck_peer, PlainSendsFollowTheOverflowPolicyInsteadOfBlocking) {
  fill_stuck();
  // The other peer is served as before.
  ASSERT_TRUE(server.send("othermod", new_message().fill_body("hello")));
  auto rec = good->read_record(watchdog);
  ASSERT_TRUE(rec);
  EXPECT_NE(rec->find("hello"), std::string::npos);
}

TEST_P(stuck_peer, GroupSendDeliversToTheGoodPeerAtOnceAndReportsTheStuckOne) {
  fill_stuck();
  // Group copies never wait on a member: the stuck one parks up to its capacity again, then
  // is reported (`drop_oldest` evicts instead). Each send reaches the good peer at once.
  std::optional<group_delivery> last;
  // Enough sends to fill what the stuck peer's socket may still take (the fill can stop at a
  // queue that is full only while the writer writes), then its parking room.
  for (int i = 0; i < 100'000; ++i) {
    auto d = std::async(std::launch::async,
                        [&] { return server.send_to_group("both", new_message().fill_body("g")); });
    ASSERT_EQ(d.wait_for(watchdog), std::future_status::ready) << "a group send blocked";
    auto r = d.get();
    ASSERT_TRUE(r);
    auto rec = good->read_record(watchdog);
    ASSERT_TRUE(rec) << "send " << i;
    last = *r;
    if (!r->failed.empty() || GetParam() == overflow_policy::drop_oldest) break;
  }
  ASSERT_TRUE(last);
  if (GetParam() == overflow_policy::drop_oldest) {
    EXPECT_EQ(last->delivered, 2U);
    EXPECT_TRUE(last->failed.empty());
  } else {
    EXPECT_EQ(last->delivered, 1U);
    ASSERT_EQ(last->failed.size(), 1U);
    EXPECT_EQ(last->failed[0].first, "remotemod");
    EXPECT_EQ(last->failed[0].second, make_error_code(errc::queue_full));
  }
}

TEST_P(stuck_peer, SendSyncToAStuckPeerTimesOutWithinItsBound) {
  fill_stuck();
  const auto t0 = std::chrono::steady_clock::now();
  auto call = std::async(std::launch::async, [&] {
    return server.send_sync("remotemod", new_message().fill_body("q"), 200ms);
  });
  ASSERT_EQ(call.wait_for(watchdog), std::future_status::ready) << "send_sync overran its timeout";
  auto r = call.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::timed_out));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
}

TEST_P(stuck_peer, RecordsAnotherPeerRelaysToTheStuckPeerDoNotHoldItsLinkBack) {
  // The server relays records of `othermod` to the stuck `remotemod`. Before, the relaying
  // reader waited for room like a plain send (here 50 ms per record under `block`, without
  // bound with no block timeout): everything `othermod` sent after them waited too.
  fill_stuck();
  const auto before = srv->stats();
  auto from_other = [](const std::string& dest, const std::string& body) {
    auto m = new_message().fill_body(body).set_type("unixpacket");
    m.route.source = "othermod";
    m.route.destination = dest;
    return *encode_message(m);
  };
  // Rounds of 500 records for the stuck peer, then one for `othermod` itself, which the server
  // relays back over its own link behind them: it must come back within the bound. Until the
  // stuck peer's socket and queue are full for sure (the fill may stop at a queue that is full
  // only until its writer writes): until its queue refused (`fail`, `block`) or evicted
  // (`drop_oldest`) some.
  constexpr std::uint64_t per_round = 500;
  std::uint64_t rounds = 0;
  socket_stats after;
  do {
    for (std::uint64_t i = 0; i < per_round; ++i) {
      ASSERT_TRUE(good->write_record(from_other("remotemod", "relay")));
    }
    ASSERT_TRUE(good->write_record(from_other("othermod", "echo")));
    ++rounds;
    auto rec = good->read_record(watchdog);
    ASSERT_TRUE(rec) << "the link of the relaying peer was held back";
    EXPECT_NE(rec->find("echo"), std::string::npos);
    after = srv->stats();
  } while (after.outbound_rejected == before.outbound_rejected &&
           after.outbound_dropped == before.outbound_dropped && rounds < 100);
  // Nothing lost uncounted: each relayed record was handed on or refused, and a refusal is
  // counted twice (undeliverable, and by the queue). The echo's own count may still lag.
  const auto handed_on = after.forwarded - before.forwarded;
  const auto refused = after.undeliverable - before.undeliverable;
  EXPECT_GE(handed_on + refused, rounds * (per_round + 1) - 1);
  EXPECT_LE(handed_on + refused, rounds * (per_round + 1));
  EXPECT_EQ(after.outbound_rejected - before.outbound_rejected, refused);
  if (GetParam() == overflow_policy::drop_oldest) {
    EXPECT_GT(after.outbound_dropped - before.outbound_dropped, 0U);
  } else {
    EXPECT_GT(refused, 0U);
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, stuck_peer,
                         ::testing::Values(overflow_policy::fail, overflow_policy::block,
                                           overflow_policy::drop_oldest));

// Plain sends to `dest`, each under a watchdog, until one is refused; its error. Before the
// outbound queue followed the module's inbox options, the send that found the peer's socket
// full blocked forever (the default: `block`, no block timeout).
std::error_code send_until_refused(context& ctx, const std::string& dest) {
  auto filler = std::async(std::launch::async, [&] {
    for (int i = 0; i < 1'000'000; ++i) {
      auto r = ctx.send(dest, new_message().fill_body("fill"));
      if (!r) return r.error();
    }
    return std::error_code();
  });
  if (filler.wait_for(watchdog) != std::future_status::ready) {
    ADD_FAILURE() << "a send blocked";
    std::abort();  // the filler still runs on `ctx`: nothing can be cleaned up safely
  }
  return filler.get();
}

module_info failing_inbox(std::string name) {
  module_info i = test::remote_info(std::move(name));
  i.inbox.capacity = 8;
  i.inbox.overflow = overflow_policy::fail;
  return i;
}

TEST(OutboundOptions, TheServerModulesInboxOptionsBoundEachPeersQueue) {
  test::temp_dir dir;
  context server;
  auto s = register_socket_context(server, test::socket_cfg(dir.file("bh.sock"), {"remotemod"}));
  ASSERT_TRUE(s);
  // The context's own options say `block` without bound; the server module's inbox says
  // `fail` at 8: the connections it accepts follow the module.
  ASSERT_TRUE(server.add_module(failing_inbox("sockserver")));
  raw_peer stuck(dir.file("bh.sock"));
  ASSERT_TRUE(stuck.handshake("remotemod"));
  ASSERT_TRUE((*s)->wait_connected("remotemod", watchdog));
  EXPECT_EQ(send_until_refused(server, "remotemod"), make_error_code(errc::queue_full));
  EXPECT_GT((*s)->stats().outbound_rejected, 0U);
  stuck.close();
  (*s)->stop();
}

TEST(OutboundOptions, AClientModulesInboxOptionsBoundItsConnection) {
  // A server that answers the handshake, then never reads.
  test::temp_dir dir;
  test::hand_served_client c(dir.file("bh.sock"), failing_inbox("remotemod"));
  ASSERT_GE(c.fd, 0);
  auto reply = c.srvmod_answer();
  ASSERT_TRUE(reply);
  ASSERT_TRUE(test::write_packet(c.fd, *encode_message(*reply)));
  ASSERT_TRUE(c.join());
  ASSERT_TRUE(c.type->wait_connected("srvmod", watchdog));
  EXPECT_EQ(send_until_refused(c.ctx, "srvmod"), make_error_code(errc::queue_full));
  EXPECT_GT(c.type->stats().outbound_rejected, 0U);
}

TEST(BadInputClient, OversizedRecordFromTheServerDoesNotDropTheClient) {
  // Go's client reconnects forever on a record larger than its buffer; ours rejects the
  // record and keeps the link.
  test::temp_dir dir;
  const std::string path = dir.file("bh.sock");
  context server;
  auto big_cfg = test::socket_cfg(path, {"remotemod"}, "unixpacket", 4, 65536);
  auto s = register_socket_context(server, big_cfg);
  ASSERT_TRUE(s);
  ASSERT_TRUE(server.add_module(test::mod("srvmod")));
  ASSERT_TRUE((*s)->listen());
  context client;
  auto small_cfg = test::socket_cfg(path, {"remotemod"}, "unixpacket", 4, 1024);
  auto c = register_socket_context(client, small_cfg);
  ASSERT_TRUE(c);
  ASSERT_TRUE(client.add_module(test::remote_info("remotemod")));
  ASSERT_TRUE((*s)->wait_connected("remotemod", watchdog));
  ASSERT_TRUE(server.send("remotemod", new_message().fill_body(std::string(5000, 'y'))));
  ASSERT_TRUE(server.send("remotemod", new_message().fill_body("small")));
  auto m = client.receive_for("remotemod", watchdog);
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
