// SPDX-License-Identifier: Apache-2.0
#include "socket/socket_type.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bounded_wait.hpp"
#include "channel_module.hpp"
#include "socket_support.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::watchdog;

std::shared_ptr<socket_type> installed(context& ctx, const socket_config& cfg) {
  auto type = std::make_shared<socket_type>(cfg, socket_options{});
  EXPECT_TRUE(install_type(ctx, std::string(context_type_unixpacket), type));
  return type;
}

TEST(SocketType, BeforeItIsAttachedItServesNothing) {
  test::temp_dir dir;
  socket_type type(test::socket_cfg(dir.file("bh.sock"), {"remotemod"}), {});
  EXPECT_EQ(type.listen().error(), make_error_code(errc::not_connected));
  EXPECT_FALSE(type.connected("remotemod"));
  EXPECT_FALSE(type.wait_connected("remotemod", 1ms));
  EXPECT_TRUE(type.wait_disconnected("remotemod", 1ms));
  EXPECT_TRUE(type.peers().empty());
  EXPECT_EQ(type.thread_count(), 0U);
  type.stop();
}

TEST(SocketType, AModuleWithoutAnEntryIsAConfigError) {
  test::temp_dir dir;
  context ctx;
  auto type = installed(ctx, test::socket_cfg(dir.file("bh.sock"), {"remotemod"}));
  EXPECT_EQ(type->make_endpoint(test::remote_info("stranger")).error(),
            make_error_code(errc::config_error));
  EXPECT_EQ(type->thread_count(), 0U);  // nothing started for it
}

TEST(SocketType, StopJoinsEveryThreadAndLaterCallsFail) {
  test::temp_dir dir;
  const auto cfg = test::socket_cfg(dir.file("bh.sock"), {"remotemod"});
  context server;
  auto srv = installed(server, cfg);
  ASSERT_TRUE(server.add_module(test::mod("srvmod")));
  ASSERT_TRUE(srv->listen());
  context client;
  auto cli = installed(client, cfg);
  ASSERT_TRUE(client.add_module(test::remote_info("remotemod")));
  ASSERT_TRUE(srv->wait_connected("remotemod", watchdog));
  // Each side: its event loop and the reader of its one connection.
  EXPECT_TRUE(srv->wait_thread_count_for(2, watchdog));
  EXPECT_EQ(srv->thread_count(), 2U);
  EXPECT_EQ(cli->thread_count(), 2U);

  srv->stop();
  EXPECT_EQ(srv->thread_count(), 0U);
  EXPECT_TRUE(srv->peers().empty());
  EXPECT_EQ(srv->listen().error(), make_error_code(errc::not_connected));
  EXPECT_EQ(srv->make_endpoint(test::remote_info("sockserver")).error(),
            make_error_code(errc::not_connected));
  srv->stop();  // idempotent
  // The client saw its link end: its module is cleaned up (a core would add it again) and
  // the reader joined.
  ASSERT_TRUE(cli->wait_disconnected("srvmod", watchdog));
  EXPECT_TRUE(cli->wait_thread_count_for(1, watchdog));
  cli->stop();
  EXPECT_EQ(cli->thread_count(), 0U);
}

TEST(SocketType, TheContextsDestructorStopsIt) {
  test::temp_dir dir;
  std::shared_ptr<socket_type> type;
  {
    context ctx;
    type = installed(ctx, test::socket_cfg(dir.file("bh.sock"), {"remotemod"}));
    ASSERT_TRUE(type->listen());
    EXPECT_EQ(type->thread_count(), 1U);
  }
  EXPECT_EQ(type->thread_count(), 0U);
  EXPECT_EQ(type->listen().error(), make_error_code(errc::not_connected));
}

TEST(SocketType, ItsModulesAreRemoteAndRestartOnReturn) {
  test::temp_dir dir;
  socket_type type(test::socket_cfg(dir.file("bh.sock"), {"remotemod"}), {});
  EXPECT_TRUE(type.is_remote());
  EXPECT_TRUE(type.restarts_on_return());
}

TEST(SocketType, AClientModuleIsConnectingUntilItsHandshakeIsAnsweredThenReadyThenClosed) {
  test::temp_dir dir;
  const auto cfg = test::socket_cfg(dir.file("bh.sock"), {"remotemod"});
  context client;
  auto cli = installed(client, cfg);
  // Nobody listens: make_endpoint returns at once, connecting (retried in the background).
  auto ep = cli->make_endpoint(test::remote_info("remotemod"));
  ASSERT_TRUE(ep);
  EXPECT_EQ((*ep)->state(), endpoint_state::connecting);
  std::vector<message> dropped;
  (*ep)->close(dropped);
  EXPECT_EQ((*ep)->state(), endpoint_state::closed);

  context server;
  auto srv = installed(server, cfg);
  ASSERT_TRUE(server.add_module(test::mod("srvmod")));
  ASSERT_TRUE(srv->listen());
  auto up = cli->make_endpoint(test::remote_info("remotemod"));
  ASSERT_TRUE(up);
  ASSERT_TRUE(cli->wait_connected("srvmod", watchdog));
  EXPECT_TRUE(test::eventually([&] { return (*up)->state() == endpoint_state::ready; }));
  auto listening = srv->make_endpoint(test::remote_info("sockserver"));
  ASSERT_TRUE(listening);
  EXPECT_EQ((*listening)->state(), endpoint_state::ready);
  (*up)->close(dropped);
  EXPECT_EQ((*up)->state(), endpoint_state::closed);
  cli->stop();
  srv->stop();
}

// Issue 11: presence. The context calls `presence` on every change of its modules (here the test
// calls it as the context does); a subscribed client of ours learns of a server module added
// after its handshake, and of its removal; a Go-shaped client (it never subscribes) gets no
// presence record.
TEST(SocketType, AConnectedClientLearnsOfServerModulesAddedAndRemovedLater) {
  test::temp_dir dir;
  const auto cfg = test::socket_cfg(dir.file("bh.sock"), {"remotemod", "gomod"});
  context server;
  auto srv = installed(server, cfg);
  ASSERT_TRUE(server.add_module(test::mod("srvmod")));
  ASSERT_TRUE(srv->listen());
  context client;
  auto cli = installed(client, cfg);
  ASSERT_TRUE(client.add_module(test::remote_info("remotemod")));
  ASSERT_TRUE(cli->wait_connected("srvmod", watchdog));
  test::raw_peer go_client(dir.file("bh.sock"));
  ASSERT_TRUE(go_client.handshake("gomod"));
  ASSERT_TRUE(srv->wait_connected("gomod", watchdog));
  EXPECT_FALSE(client.has_module("late"));

  ASSERT_TRUE(server.add_module(test::mod("late")));
  ASSERT_TRUE(server.add_module_group("late", "lategroup"));
  const std::vector<presence_event> added{
      {presence_kind::added, "late", "", "channel", false},
      {presence_kind::grouped, "late", "lategroup", "channel", false}};
  srv->presence(added);
  ASSERT_TRUE(cli->wait_connected("late", watchdog));
  // The server's context announces each change as it happens, so "late" may reach the client in
  // one presence record and its group in the next: wait for the group as well.
  ASSERT_TRUE(test::eventually([&] {
    const auto groups = client.groups();
    const auto it = groups.find("lategroup");
    return it != groups.end() &&
           std::find(it->second.begin(), it->second.end(), "late") != it->second.end();
  }));
  ASSERT_TRUE(client.send("late", new_message().fill_body("to late")));
  auto got = server.receive_for("late", watchdog);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->content.to_string().value_or(""), "to late");
  auto group = client.send_to_group("lategroup", new_message().fill_body("to the group"));
  ASSERT_TRUE(group);
  EXPECT_EQ(group->delivered, 1U);
  ASSERT_TRUE(server.receive_for("late", watchdog));

  ASSERT_TRUE(server.cleanup("late"));
  const std::vector<presence_event> removed{{presence_kind::removed, "late", "", "channel", false}};
  srv->presence(removed);
  ASSERT_TRUE(cli->wait_disconnected("late", watchdog));
  auto gone = client.send("late", new_message());
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), make_error_code(errc::not_connected));
  EXPECT_TRUE(cli->connected("srvmod"));  // the others stay

  // The Go-shaped client got no presence record: the next record it reads is a message.
  ASSERT_TRUE(server.send("gomod", new_message().fill_body("plain")));
  auto next = go_client.read_record(watchdog);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->find("\"presence\""), std::string::npos) << *next;
  EXPECT_NE(next->find("\"plain\""), std::string::npos) << *next;
  cli->stop();
  srv->stop();
}

}  // namespace
}  // namespace beehive::detail
