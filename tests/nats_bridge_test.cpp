// SPDX-License-Identifier: Apache-2.0
// The bridge from the socket: a module that joined a process over the unix socket (as a Go
// beehive process joins) reaches a module of another host through NATS, and its reply comes
// back; and the other way round.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "beehive/socket.hpp"
#include "support/bounded_wait.hpp"
#include "support/go_records.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"
#include "support/socket_support.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;

struct NatsBridge : ::testing::Test {
  void SetUp() override {
    servers = std::make_unique<nats_servers>(nats_servers::single());
    const auto cfg = nats_test_config(servers->url(0), "bridge");
    // The host with the socket server: both types in one context.
    edge = std::make_unique<nats_process>(cfg);
    scfg = socket_cfg(dir.file("bh.sock"), {"gomod"});
    auto s = register_socket_context(*edge->ctx, scfg);
    ASSERT_TRUE(s);
    srv = *s;
    ASSERT_TRUE(edge->ctx->add_module(remote_info("sockserver")));
    // Another host, reached through NATS only.
    cloud = std::make_unique<nats_process>(cfg);
    ASSERT_TRUE(cloud->add("cloudsvc"));
    ASSERT_TRUE(edge->nats->wait_peer("cloudsvc", watchdog));
    // The Go-like process: a socket client only, it knows nothing of NATS.
    auto c = register_socket_context(go, scfg);
    ASSERT_TRUE(c);
    cli = *c;
    ASSERT_TRUE(go.add_module(remote_info("gomod")));
    ASSERT_TRUE(cli->wait_connected("cloudsvc", watchdog));
    ASSERT_TRUE(srv->wait_connected("gomod", watchdog));
  }
  void TearDown() override {
    if (cli) cli->stop();
    if (srv) srv->stop();
  }

  temp_dir dir;
  std::unique_ptr<nats_servers> servers;
  socket_config scfg;
  std::unique_ptr<nats_process> edge;
  std::unique_ptr<nats_process> cloud;
  context go;
  std::shared_ptr<socket_context> srv;
  std::shared_ptr<socket_context> cli;
};

TEST_F(NatsBridge, SocketModuleCallsAModuleOfAnotherHostAndGetsTheReply) {
  responder r(*cloud->ctx, "cloudsvc");
  auto reply = go.send_sync("cloudsvc", new_message().fill_body("ping"), watchdog);
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->content.to_string().value_or(""), "pong:ping");
  EXPECT_GE(edge->nats->stats().replies_in, 1U);
  // One-way too.
  ASSERT_TRUE(go.send("cloudsvc", new_message().fill_body("one-way")));
  ASSERT_TRUE(r.wait_for_count(2));
}

TEST_F(NatsBridge, GoRecordsCrossTheBridgeByteForByte) {
  responder r(*cloud->ctx, "cloudsvc");
  std::size_t sent = 0;
  for (const auto& rec : load_go_records()) {
    auto m = decode_message(rec.text);
    ASSERT_TRUE(m) << rec.text;
    if (kind_of(*m) != go_record_kind::sync_request) continue;
    // A Go client writes its own module as the source on its connection.
    m->route.source = "gomod";
    auto reply = go.send_sync("cloudsvc", *m, watchdog);
    ASSERT_TRUE(reply) << rec.text << ": " << reply.error().message();
    EXPECT_EQ(std::string_view(reply->header.parent_id), std::string_view(m->header.id));
    ++sent;
    // What the module of the other host received is the Go record's content, unchanged.
    ASSERT_TRUE(r.wait_for_count(sent));
    const auto got = r.received().back();
    EXPECT_EQ(got.content.json_text().value_or("?"), m->content.json_text().value_or("!"));
  }
  EXPECT_GT(sent, 0U);
}

}  // namespace
}  // namespace beehive::test
