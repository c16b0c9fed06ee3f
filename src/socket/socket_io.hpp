// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace asio {
class io_context;
}

namespace beehive::detail {

/// The event loop of one socket type: an asio `io_context` run by one thread. It accepts
/// connections, connects client modules again after a failure, and runs every timer (a new
/// connection's handshake deadline, the backoff between reconnects).
///
/// Why asio for accept, connect and timers, all three: one thread then waits for all of them,
/// and ending them is one step (`stop`), instead of an accept thread, a sleeping thread per
/// reconnecting module and a receive timeout per socket, each ended its own way. A deadline
/// is a timer set once, so no peer can push it back. Reading stays on one thread per
/// connection (`transport::read`): asio has no batched receive (recvmmsg), and batching is
/// what carries the throughput.
///
/// Thread-safety: `post`, `start`, `stop` and `thread_count` may be called from any thread
/// but the loop's own (`stop` would join itself). asio objects bound to the `context` (an
/// acceptor, a timer) are touched by the loop's thread, by handlers, or under a mutex of
/// their owner.
class socket_io {
 public:
  socket_io();
  /// Stops (see `stop`).
  ~socket_io();
  socket_io(const socket_io&) = delete;
  socket_io& operator=(const socket_io&) = delete;

  /// The io_context, for the units that use asio (the server and the client).
  [[nodiscard]] asio::io_context& context() noexcept;

  /// Starts the loop's thread unless it runs. False once stopped.
  [[nodiscard]] bool start();
  /// Queues `fn` to run on the loop's thread after what is already queued (starts the loop).
  /// False once stopped. Either way `fn` may never run: a `stop` ends the loop before it.
  bool post(std::function<void()> fn);
  /// Ends the loop and joins its thread; handlers not run by then never run (they are
  /// destroyed with the io_context). Later `start` and `post` fail. Idempotent; blocks while a
  /// handler runs.
  void stop();

  /// True on the loop's thread.
  [[nodiscard]] bool in_loop() const noexcept;
  /// 1 from `start` until `stop` has joined the loop's thread, else 0.
  [[nodiscard]] std::size_t thread_count() const;

 private:
  struct impl;
  const std::unique_ptr<impl> impl_;
  mutable std::mutex mu_;
  // Guarded by mu_.
  std::thread thread_;
  bool stopped_ = false;
  std::size_t running_ = 0;  // 1 from `start` until `stop` has joined the thread
};

}  // namespace beehive::detail
