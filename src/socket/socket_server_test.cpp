// SPDX-License-Identifier: Apache-2.0
#include "socket/socket_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>

#include "bounded_wait.hpp"
#include "channel_module.hpp"
#include "fake_type_host.hpp"
#include "socket_support.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::watchdog;

// A server of its own (as in a process of its own) on `config`, without a context.
struct server_parts {
  explicit server_parts(socket_config config, socket_options options = {})
      : cfg(std::move(config)), opts(options) {}
  ~server_parts() {
    // As socket_type::stop does it.
    registry.close();
    io.stop();
    server.close();
    registry.stop();
  }

  socket_config cfg;
  socket_options opts;
  std::shared_ptr<socket_counters> counters = std::make_shared<socket_counters>();
  test::fake_type_host host;
  socket_io io;
  peer_registry registry{host, *counters, io};
  socket_server server{cfg, opts, counters, host, registry, io};
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

TEST(SocketServer, ListensAndAcceptsAListedClientsHandshake) {
  test::temp_dir dir;
  const auto path = dir.file("bh.sock");
  server_parts s(test::socket_cfg(path, {"remotemod"}));
  ASSERT_TRUE(s.server.listen(nullptr, {}));
  ASSERT_TRUE(s.server.listen(nullptr, {}));  // idempotent
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  test::raw_peer p(path);
  ASSERT_TRUE(p.handshake("remotemod"));
  EXPECT_TRUE(s.registry.wait_connected("remotemod", watchdog));
  EXPECT_EQ(s.counters->connections_accepted.load(), 1U);
}

TEST(SocketServer, ASecondServerOnALiveAddressFailsAndTheFirstKeepsServing) {
  test::temp_dir dir;
  const auto path = dir.file("bh.sock");
  server_parts first(test::socket_cfg(path, {"remotemod"}));
  ASSERT_TRUE(first.server.listen(nullptr, {}));
  server_parts second(test::socket_cfg(path, {"remotemod"}));
  auto r = second.server.listen(nullptr, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::already_exists));
  // Live on the other socket kind (its probe is refused with EPROTOTYPE): not taken either.
  server_parts third(test::socket_cfg(path, {"remotemod"}, "unix"));
  auto r3 = third.server.listen(nullptr, {});
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error(), make_error_code(errc::already_exists));
  // The address still reaches the first server.
  ASSERT_TRUE(exists(path));
  test::raw_peer p(path);
  ASSERT_TRUE(p.handshake("remotemod"));
  EXPECT_TRUE(first.registry.wait_connected("remotemod", watchdog));
}

TEST(SocketServer, AStaleSocketFileIsRemovedAndTheAddressServed) {
  test::temp_dir dir;
  const auto path = dir.file("bh.sock");
  {
    // A server that crashed: its socket file stays, nobody listens on it.
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  ASSERT_TRUE(exists(path));
  server_parts s(test::socket_cfg(path, {"remotemod"}));
  ASSERT_TRUE(s.server.listen(nullptr, {}));
  test::raw_peer p(path);
  ASSERT_TRUE(p.handshake("remotemod"));
}

TEST(SocketServer, AFileThatIsNotASocketIsLeftAlone) {
  test::temp_dir dir;
  const auto path = dir.file("bh.sock");
  std::ofstream(path) << "keep me";
  server_parts s(test::socket_cfg(path, {"remotemod"}));
  auto r = s.server.listen(nullptr, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::invalid_argument));
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "keep me");
}

TEST(SocketServer, StopListeningRemovesTheSocketFileOnlyForItsOwner) {
  test::temp_dir dir;
  const auto path = dir.file("bh.sock");
  server_parts s(test::socket_cfg(path, {"remotemod"}));
  int owner = 0;
  int other = 0;
  ASSERT_TRUE(s.server.listen(&owner, {}));
  s.server.stop_listening(&other);
  EXPECT_TRUE(exists(path));
  s.server.stop_listening(&owner);
  EXPECT_FALSE(exists(path));
  ASSERT_TRUE(s.server.listen(nullptr, {}));  // listens again
  EXPECT_TRUE(exists(path));
}

// Sends one byte of `bytes` every `every` until stopped: a peer that never completes its
// handshake but keeps its connection busy.
class trickler {
 public:
  trickler(const std::string& path, std::string bytes, std::chrono::milliseconds every)
      : peer_(path, /*stream=*/true), bytes_(std::move(bytes)) {
    thread_ = std::thread([this, every] {
      std::unique_lock lock(mu_);
      for (std::size_t i = 0; i < bytes_.size() && !stop_; ++i) {
        lock.unlock();
        if (!peer_.write_raw(bytes_.substr(i, 1))) return;
        lock.lock();
        cv_.wait_for(lock, every, [&] { return stop_; });  // the pace, not a wait for an event
      }
    });
  }
  ~trickler() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  test::raw_peer& peer() { return peer_; }

 private:
  test::raw_peer peer_;
  const std::string bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

TEST(SocketServer, TricklingPeersAreClosedAtTheirDeadlineAndCannotLockAClientOut) {
  // connmax 2, two peers that send a byte every 300 ms and never handshake. A deadline that
  // restarted with every byte would keep them (and the good client stays out) for ever.
  test::temp_dir dir;
  const auto path = dir.file("bh.sock");
  const auto cfg = test::socket_cfg(path, {"remotemod"}, "unix", /*connmax=*/2);
  socket_options server_opts;
  server_opts.handshake_timeout = 700ms;
  context server;
  auto srv = register_socket_context(server, cfg, server_opts);
  ASSERT_TRUE(srv);
  ASSERT_TRUE(server.add_module(test::mod("srvmod")));
  ASSERT_TRUE((*srv)->listen());

  std::string frame;
  append_package(R"({"header":{},"route":{}})", frame);  // a valid frame's bytes, trickled
  trickler a(path, frame, 300ms);
  trickler b(path, frame, 300ms);

  socket_options client_opts;
  client_opts.reconnect_initial = 20ms;
  client_opts.reconnect_max = 100ms;
  context client;
  auto cli = register_socket_context(client, cfg, client_opts);
  ASSERT_TRUE(cli);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.add_module(test::remote_info("remotemod")));
  ASSERT_TRUE((*cli)->wait_connected("srvmod", 5s)) << "locked out by the trickling peers";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(a.peer().wait_eof(watchdog));
  EXPECT_TRUE(b.peer().wait_eof(watchdog));
  EXPECT_EQ((*srv)->stats().handshakes_rejected, 2U);
  EXPECT_GE((*srv)->stats().connections_refused, 1U);  // the client was refused meanwhile
  (*cli)->stop();
  (*srv)->stop();
}

}  // namespace
}  // namespace beehive::detail
