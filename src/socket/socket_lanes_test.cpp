// SPDX-License-Identifier: Apache-2.0
// Issue 15 across the socket: a module of this process configured with lanes gets its
// heartbeats to the other process first, ahead of updates queued on its connection.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/socket.hpp"
#include "bounded_wait.hpp"
#include "socket/outbound_queue.hpp"
#include "socket_support.hpp"

namespace beehive {
namespace {

// Big enough records that the socket (whose send buffer the transport enlarges to a few MiB)
// fills long before the last update: the rest waits in the connection's outbound queue.
constexpr int updates = 2000;
constexpr std::size_t body_bytes = 8192;

module_info client_module(bool lanes) {
  module_info m = test::remote_info("remotemod");
  m.inbox.capacity = 2 * updates;
  if (lanes) {
    m.inbox.lanes.lanes = {lane_options{64}, lane_options{2 * updates}};
    m.inbox.lanes.rules = {{route_field::operation, "heartbeat", 0}};
    m.inbox.lanes.default_lane = 1;
  }
  return m;
}

// How many updates the peer reads before the heartbeat, when the client module sends
// `updates` updates to a peer that does not read (its socket fills, the rest queue on the
// connection), then a heartbeat, and the peer then reads everything.
std::optional<int> updates_before_heartbeat(bool lanes) {
  test::temp_dir dir;
  test::hand_served_client c(dir.file("bh.sock"), client_module(lanes));
  if (c.fd < 0) return std::nullopt;
  auto answer = c.srvmod_answer();
  if (!answer || !test::write_packet(c.fd, *encode_message(*answer)) || !c.join()) {
    return std::nullopt;
  }
  // add_module returns before the handshake's answer is read (a connect never blocks it): the
  // server's module is known once the answer is.
  if (!test::eventually([&] { return c.ctx.has_module("srvmod"); })) return std::nullopt;
  for (int i = 0; i < updates; ++i) {
    auto m = new_message().fill_body(std::string(body_bytes, 'x'));
    m.route.operation = "update";
    m.route.resource = "pod/" + std::to_string(i);
    if (!c.ctx.send("srvmod", std::move(m))) return std::nullopt;
  }
  auto hb = new_message();
  hb.route.operation = "heartbeat";
  hb.route.resource = "node";
  if (!c.ctx.send("srvmod", std::move(hb))) return std::nullopt;

  int before = 0;
  std::string buf(1 << 20, '\0');
  // Every update, the heartbeat, and the client's presence subscription (one record of
  // resource `module`, sent after its handshake), in any order.
  for (int read = 0; read <= updates + 1; ++read) {
    pollfd p{c.fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(test::watchdog).count())) <= 0) {
      return std::nullopt;
    }
    const ssize_t n = ::recv(c.fd, buf.data(), buf.size(), 0);
    if (n <= 0) return std::nullopt;
    auto m = decode_message(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    if (!m) return std::nullopt;
    if (m->route.operation == std::string_view("heartbeat")) return before;
    if (m->route.resource == std::string_view("module")) continue;  // the subscription
    ++before;
  }
  return std::nullopt;
}

TEST(SocketLanes, WithoutLanesTheHeartbeatWaitsBehindEveryUpdate) {
  const auto before = updates_before_heartbeat(false);
  ASSERT_TRUE(before);
  EXPECT_EQ(*before, updates);
}

TEST(SocketLanes, ARemoteModuleWithLanesGetsItsHeartbeatAcrossFirst) {
  const auto before = updates_before_heartbeat(true);
  ASSERT_TRUE(before);
  // Only what was already in the socket (or being written) goes ahead of it; the thousands
  // still queued on the connection come after.
  EXPECT_LT(*before, updates / 2) << "the heartbeat came after " << *before << " updates";
}

}  // namespace
}  // namespace beehive
