// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a TCP relay on a loopback port of its own that forwards every connection to a
// target port: the cable of a link (a leaf node's link to its hub) that a test can cut and
// restore while both ends keep running.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace beehive::test {

/// How a cut looks to the two ends.
enum class cut_mode {
  reset,   ///< every relayed connection is closed at once and new ones are closed on accept:
           ///< both ends see the link drop immediately (a peer's host rejecting the link)
  silent,  ///< nothing is forwarded or accepted any more, connections stay open: the ends find
           ///< out only through their own pings (a network partition, a pulled cable)
};

/// Forwards connections on `port()` to 127.0.0.1:`target_port`, one thread for all of them.
/// Thread-safe: cut, restore and connections may be called from any thread.
class tcp_relay {
 public:
  /// Listens on a free loopback port. Throws std::runtime_error when it cannot.
  explicit tcp_relay(std::uint16_t target_port);
  /// Stops the thread and closes every connection.
  ~tcp_relay();
  tcp_relay(const tcp_relay&) = delete;
  tcp_relay& operator=(const tcp_relay&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// Cuts the link; returns once the relay thread has applied it (for `reset`, every relayed
  /// connection is closed by then).
  void cut(cut_mode mode = cut_mode::reset);
  /// Forwards again (new connections, and for a silent cut the ones held open).
  void restore();
  /// Connections relayed now (each a pair of sockets).
  [[nodiscard]] std::size_t connections() const;

 private:
  enum class state { forwarding, reset, silent, stopping };
  void run();
  void set_state(state s);

  std::uint16_t target_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable applied_cv_;
  state state_ = state::forwarding;
  std::uint64_t requested_ = 0;  // state changes asked for
  std::uint64_t applied_ = 0;    // state changes the thread has applied
  std::size_t connections_ = 0;
  std::thread thread_;
};

}  // namespace beehive::test
