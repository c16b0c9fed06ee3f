// SPDX-License-Identifier: Apache-2.0
#include "socket/connection.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <thread>

#include "beehive/message.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;

constexpr auto watchdog = 20s;

// A connection whose peer never reads; its outbound queue takes 4 records and then blocks a
// plain send without bound (the default `block` policy with no block timeout).
struct stuck_connection : ::testing::Test {
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    far = fds[1];
    inbox_options outbound;
    outbound.capacity = 4;
    conn = std::make_shared<connection>(fds[0], socket_kind::seqpacket, 65536, true, counters,
                                        outbound);
  }
  void TearDown() override {
    conn->wire.shutdown();  // wakes a send that still waits (a failed test)
    ::close(far);
  }

  // Fills the socket itself first (raw packets the peer never reads), so that the writer can
  // write nothing; then group copies (they never wait) until the queue and its parking room
  // are full.
  void fill() {
    const std::string packet(16 * 1024, 'x');
    const int fd = conn->wire.native_handle();
    while (::send(fd, packet.data(), packet.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
    }
    ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    for (int i = 0; i < 1'000; ++i) {
      if (!conn->write(new_message().fill_body("fill"), delivery::group)) return;
    }
    FAIL() << "the queue never filled";
  }

  // `how`'s write, under a watchdog: its error.
  std::error_code write_bounded(message m, delivery how) {
    auto w = std::async(std::launch::async, [&] { return conn->write(m, how); });
    if (w.wait_for(watchdog) != std::future_status::ready) {
      ADD_FAILURE() << "the write waited for room";
      conn->wire.shutdown();
    }
    auto r = w.get();
    return r ? std::error_code() : r.error();
  }

  std::shared_ptr<socket_counters> counters = std::make_shared<socket_counters>();
  std::shared_ptr<connection> conn;
  int far = -1;
};

TEST_F(stuck_connection, OnlyAPlainSendWaitsForRoom) {
  fill();
  const auto rejected = counters->outbound_rejected.load();
  // A reply (its sender is done with the request) and a record relayed from another peer (its
  // link's reader must go on) are refused at once, counted.
  message reply = new_message().fill_body("r");
  reply.header.parent_id = "some-request";
  EXPECT_EQ(write_bounded(reply, delivery::reply), make_error_code(errc::queue_full));
  EXPECT_EQ(write_bounded(new_message().fill_body("x"), delivery::relay),
            make_error_code(errc::queue_full));
  // So is a sync request sent directly: its caller is bounded by its own timeout.
  message request = new_message().fill_body("q");
  request.header.sync = true;
  EXPECT_EQ(write_bounded(request, delivery::direct), make_error_code(errc::queue_full));
  EXPECT_EQ(counters->outbound_rejected.load(), rejected + 3);
  // A plain send waits (here without bound) until the connection ends.
  auto plain = std::async(std::launch::async, [&] {
    return conn->write(new_message().fill_body("p"), delivery::direct);
  });
  const auto until = std::chrono::steady_clock::now() + watchdog;
  while (conn->wire.outbound_waiting() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  EXPECT_EQ(conn->wire.outbound_waiting(), 1U);
  conn->wire.shutdown();
  ASSERT_EQ(plain.wait_for(watchdog), std::future_status::ready);
  EXPECT_EQ(plain.get().error(), make_error_code(errc::not_connected));
}

}  // namespace
}  // namespace beehive::detail
