// SPDX-License-Identifier: Apache-2.0
#include "socket/socket_client.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bounded_wait.hpp"
#include "channel_module.hpp"
#include "socket/socket_type.hpp"
#include "socket_support.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::watchdog;

// A client process: a context with the socket type installed (kept to count its threads).
struct client_process {
  client_process(const socket_config& cfg, socket_options opts)
      : type(std::make_shared<socket_type>(cfg, opts)) {
    EXPECT_TRUE(install_type(ctx, std::string(context_type_unixpacket), type));
  }
  ~client_process() { type->stop(); }
  context ctx;
  std::shared_ptr<socket_type> type;
};

socket_options fast_retries() {
  socket_options o;
  o.handshake_timeout = 2s;
  o.reconnect_initial = 1ms;
  o.reconnect_max = 4ms;
  return o;
}

using test::raw_listener;

TEST(SocketClient, ModulesThatCannotConnectOwnNoThreadEach) {
  test::temp_dir dir;
  std::vector<std::string> names;
  for (int i = 0; i < 6; ++i) names.push_back("mod" + std::to_string(i));
  client_process c(test::socket_cfg(dir.file("nobody.sock"), names), fast_retries());
  EXPECT_EQ(c.type->thread_count(), 0U);
  for (const auto& n : names) ASSERT_TRUE(c.ctx.add_module(test::remote_info(n)));
  // Every attempt runs on the one event loop (the first ones too, after add_module returned);
  // the retries are timers of that loop, not a thread per module.
  EXPECT_TRUE(test::eventually([&] { return c.type->stats().connect_failures >= names.size(); }));
  EXPECT_EQ(c.type->thread_count(), 1U);
  c.type->stop();
  EXPECT_EQ(c.type->thread_count(), 0U);
}

// An address that does not fit in sun_path (108 bytes) can never be connected to. add_module
// still succeeds (the socket type logs the error); the one attempt counts as a failed connect,
// and none follows: no retry is scheduled, so the event loop never starts.
TEST(SocketClient, AnAddressTooLongForASocketPathIsRefusedByAddModule) {
  // It could never connect: the module is refused with a clear error, nothing is attempted or
  // retried, and the name stays free.
  const std::string address = "/tmp/" + std::string(200, 'x');
  client_process c(test::socket_cfg(address, {"remotemod"}), fast_retries());
  auto r = c.ctx.add_module(test::remote_info("remotemod"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::invalid_argument));
  EXPECT_FALSE(c.ctx.has_module("remotemod"));
  EXPECT_EQ(c.type->stats().connect_failures, 0U);
  EXPECT_EQ(c.type->stats().connects, 0U);
  EXPECT_EQ(c.type->thread_count(), 0U);
}

TEST(SocketClient, FailedAttemptsLeaveNoThreadBehind) {
  test::temp_dir dir;
  const std::string path = dir.file("bh.sock");
  const auto cfg = test::socket_cfg(path, {"remotemod"});
  std::optional<raw_listener> listener(std::in_place, path);
  ASSERT_TRUE(listener->ok());
  client_process c(cfg, fast_retries());

  // The first attempt is made by add_module, which waits for the handshake's outcome.
  std::thread adder([&] { EXPECT_TRUE(c.ctx.add_module(test::remote_info("remotemod"))); });
  constexpr int attempts = 12;
  for (int i = 0; i < attempts; ++i) {
    const int fd = listener->accept_within(watchdog);
    ASSERT_GE(fd, 0) << "attempt " << i << " never came";
    // Its request came: its reader runs.
    pollfd p{fd, POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 10000), 0);
    // The previous attempt's reader was joined before this attempt began: the loop and this
    // attempt's reader, no more (the first attempt may come before the loop started).
    if (i > 0) {
      EXPECT_EQ(c.type->thread_count(), 2U) << "attempt " << i;
    } else {
      EXPECT_LE(c.type->thread_count(), 2U);
    }
    ::close(fd);  // ends the attempt: no handshake answer
    if (i == 0) adder.join();
  }
  // Nobody listens now: attempts fail at connect and start no reader.
  listener->close();
  EXPECT_TRUE(c.type->wait_thread_count_for(1, watchdog)) << c.type->thread_count();
  EXPECT_GE(c.type->stats().connect_failures, static_cast<std::uint64_t>(attempts));

  // A server comes: the client gets in; it owns the loop and its link's reader.
  context server;
  auto srv = register_socket_context(server, cfg);
  ASSERT_TRUE(srv);
  ASSERT_TRUE(server.add_module(test::mod("srvmod")));
  ASSERT_TRUE((*srv)->listen());
  ASSERT_TRUE(c.type->wait_connected("srvmod", watchdog));
  EXPECT_TRUE(c.type->wait_thread_count_for(2, watchdog));
  EXPECT_EQ(c.type->thread_count(), 2U);
  EXPECT_EQ(c.type->stats().connects, 1U);
  c.type->stop();
  EXPECT_EQ(c.type->thread_count(), 0U);
  (*srv)->stop();
}

TEST(SocketClient, ARefusedHandshakeIsRetried) {
  test::temp_dir dir;
  const std::string path = dir.file("bh.sock");
  raw_listener listener(path);
  ASSERT_TRUE(listener.ok());
  client_process c(test::socket_cfg(path, {"remotemod"}), fast_retries());
  std::thread adder([&] { EXPECT_TRUE(c.ctx.add_module(test::remote_info("remotemod"))); });
  for (int i = 0; i < 3; ++i) {
    // Read the request and refuse it, as a server that does not list the module does; the
    // connection stays open: the client closes it and tries again.
    const int fd = listener.accept_within(watchdog);
    ASSERT_GE(fd, 0) << "attempt " << i << " never came";
    pollfd p{fd, POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 10000), 0);
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    auto request = decode_message(std::string_view(buf, static_cast<std::size_t>(n)));
    ASSERT_TRUE(request);
    EXPECT_EQ(request->route.operation, "add");
    const std::string refusal = *encode_message(new_error_message(*request, "not listed")) + "\n";
    ASSERT_EQ(::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(refusal.size()));
    if (i == 0) adder.join();
    // The client closes its end once it read the refusal.
    ASSERT_GT(::poll(&p, 1, 10000), 0);
    EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), 0);
    ::close(fd);
  }
  EXPECT_FALSE(c.type->connected("srvmod"));
  EXPECT_GE(c.type->stats().connect_failures, 2U);
  EXPECT_EQ(c.type->stats().connects, 0U);
}

}  // namespace
}  // namespace beehive::detail
