// SPDX-License-Identifier: Apache-2.0
// Real processes: this test is the server process; tests/helpers/socket_peer.cpp is a second
// process hosting `remotemod`. Every call is exchanged both ways, the peer is killed with
// SIGKILL and started again, the server restarts and the peer's core reconnects it.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/socket_context.hpp"
#include "support/bounded_wait.hpp"
#include "support/channel_module.hpp"
#include "support/socket_support.hpp"

extern char** environ;

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::responder;

using test::watchdog;

class peer_process {
 public:
  explicit peer_process(const std::string& config_path) {
    const std::string exe = std::string(BEEHIVE_HELPER_DIR) + "/socket_peer";
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("SOCKET_MODULE_CONFIG=", 0) != 0) env_strings.emplace_back(*e);
    }
    env_strings.push_back("SOCKET_MODULE_CONFIG=" + config_path);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string arg0 = exe;
    char* argv[] = {arg0.data(), nullptr};
    ok_ = ::posix_spawn(&pid_, exe.c_str(), nullptr, nullptr, argv, envp.data()) == 0;
  }
  ~peer_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      (void)wait();
    }
  }
  peer_process(const peer_process&) = delete;
  peer_process& operator=(const peer_process&) = delete;

  [[nodiscard]] bool started() const { return ok_; }
  void kill(int sig) { ::kill(pid_, sig); }
  /// Reaps the process; returns its wait status.
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  /// Reaps the process if it exits within `limit`; nullopt (still running) otherwise.
  std::optional<int> wait_for(std::chrono::milliseconds limit) {
    // The process's pidfd becomes readable when it exits (Linux 5.3): block on it for the time
    // left, then reap.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd < 0) {
      ADD_FAILURE() << "pidfd_open: " << std::strerror(errno);
      return std::nullopt;
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    pollfd p{pidfd, POLLIN, 0};
    int ready = 0;
    for (;;) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      if (ready >= 0 || errno != EINTR) break;
    }
    if (ready < 0) ADD_FAILURE() << "poll: " << std::strerror(errno);
    ::close(pidfd);
    if (ready <= 0) return std::nullopt;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  bool ok_ = false;
};

// A server process: srvmod records what it receives and answers sync requests; srvmod2
// answers too. Destroyed and built again to restart the server.
struct server_side {
  explicit server_side(const socket_config& config) {
    auto s = register_socket_context(ctx, config);
    if (!s) return;
    srv = *s;
    for (const char* m : {"srvmod", "srvmod2"}) {
      if (!ctx.add_module(test::mod(m)) || !ctx.add_module_group(m, "srvgroup")) return;
    }
    srvmod = std::make_unique<responder>(ctx, "srvmod");
    srvmod2 = std::make_unique<responder>(ctx, "srvmod2");
    ok = srv->listen().has_value();
  }
  ~server_side() {
    srvmod.reset();
    srvmod2.reset();
    if (srv) srv->stop();
  }
  server_side(const server_side&) = delete;
  server_side& operator=(const server_side&) = delete;

  // Waits until srvmod saw at least `n` messages whose body is `body`.
  bool saw(const std::string& body, std::size_t n = 1) {
    return srvmod->wait_until(
        [&](const std::vector<message>& all) {
          return static_cast<std::size_t>(
                     std::count_if(all.begin(), all.end(), [&](const message& m) {
                       return m.content.to_string().value_or("") == body;
                     })) >= n;
        },
        watchdog);
  }

  // The peer's script (every call toward the server), seen for the `round`-th time.
  void peer_script_ran(std::size_t round) {
    ASSERT_TRUE(srv->wait_connected("remotemod", watchdog));
    EXPECT_TRUE(saw("hello-from-peer", round));
    EXPECT_TRUE(saw("result:send_sync:ok", round));
    EXPECT_TRUE(saw("group-hello", round));
    EXPECT_TRUE(saw("result:send_to_group:ok", round));
    EXPECT_TRUE(saw("result:send_to_group_sync:ok", round));
  }

  // Every call toward the peer: send (it echoes to srvmod), send_sync, groups.
  void exchange_toward_peer() {
    ASSERT_TRUE(srv->wait_connected("remotemod", watchdog));
    const std::string tag = new_uuid();
    ASSERT_TRUE(ctx.send("remotemod", new_message().fill_body("hi-" + tag)));
    EXPECT_TRUE(saw("echo:hi-" + tag));
    auto reply = ctx.send_sync("remotemod", new_message().fill_body("q-" + tag), watchdog);
    ASSERT_TRUE(reply) << reply.error().message();
    EXPECT_EQ(reply->content.to_string().value_or(""), "pong:q-" + tag);
    auto d = ctx.send_to_group("remotemod", new_message().fill_body("g-" + tag));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->delivered, 1U);
    EXPECT_TRUE(saw("echo:g-" + tag));
    auto gs = ctx.send_to_group_sync("remotemod", new_message().fill_body("gs-" + tag), watchdog);
    ASSERT_TRUE(gs) << gs.error().message();
    EXPECT_TRUE(gs->complete());
    ASSERT_EQ(gs->replies.size(), 1U);
    EXPECT_EQ(gs->replies[0].content.to_string().value_or(""), "pong:gs-" + tag);
  }

  context ctx;
  std::shared_ptr<socket_context> srv;
  std::unique_ptr<responder> srvmod;
  std::unique_ptr<responder> srvmod2;
  bool ok = false;
};

TEST(SocketProcess, EveryCallBothWaysSurvivesKillAndRestartOfEitherSide) {
  test::temp_dir dir;
  const std::string config_path = dir.file("socket_module.yaml");
  std::ofstream(config_path) << test::socket_yaml(dir.file("bh.sock"), {"remotemod"});
  auto config = load_socket_config(config_path);
  ASSERT_TRUE(config);

  auto server = std::make_unique<server_side>(*config);
  ASSERT_TRUE(server->ok);
  {
    peer_process peer(config_path);
    ASSERT_TRUE(peer.started());
    server->peer_script_ran(1);
    server->exchange_toward_peer();

    // The server process restarts: the peer's core re-adds its module, which reconnects.
    server.reset();
    server = std::make_unique<server_side>(*config);
    ASSERT_TRUE(server->ok);
    server->exchange_toward_peer();

    // SIGKILL: the server notices; a send to the peer module gets an answer at once
    // (not_connected), never silence.
    peer.kill(SIGKILL);
    (void)peer.wait();
    ASSERT_TRUE(server->srv->wait_disconnected("remotemod", watchdog));
    auto r = server->ctx.send("remotemod", new_message());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(errc::not_connected));
  }
  // Started again: it joins under the same name and every call works again.
  peer_process again(config_path);
  ASSERT_TRUE(again.started());
  server->peer_script_ran(1);  // this server instance sees the script for the first time
  server->exchange_toward_peer();
  // A clean end: the peer stops its socket context and its core, and exits 0.
  ASSERT_TRUE(server->ctx.send("remotemod", new_message().fill_body("exit")));
  const auto status = again.wait_for(watchdog);
  ASSERT_TRUE(status) << "the peer did not exit";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

}  // namespace
}  // namespace beehive
