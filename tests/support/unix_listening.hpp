// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support for unit tests that need a listening unix socket path. Listening and accepting
// are the library's own (`socket_listener`, asio, on a `socket_io` loop), so a test of them
// tests what the socket type runs; the connecting side is a test peer of plain POSIX calls,
// as `raw_peer` is.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include "beehive/errc.hpp"
#include "socket/socket_io.hpp"
#include "socket/socket_listener.hpp"
#include "socket/transport.hpp"

namespace beehive::test {

/// Connects a test peer to the unix socket at `path` with sockets of `kind` (blocking,
/// close-on-exec); the descriptor is the caller's. `invalid_argument` when the path is empty
/// or does not fit in `sun_path`; `not_connected` when nobody listens there.
inline expected<int> connect_unix(const std::string& path, detail::socket_kind kind) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return unexpected(errc::invalid_argument);
  }
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, path.size());
  const int type = kind == detail::socket_kind::seqpacket ? SOCK_SEQPACKET : SOCK_STREAM;
  const int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected(errc::not_connected);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return unexpected(errc::not_connected);
  }
  return fd;
}

/// A `socket_listener` at `path` on an event loop of its own; the connections it accepts wait
/// in a queue for `accept`. Closes (removing the socket file) at destruction.
class listening_socket {
 public:
  listening_socket(const std::string& path, detail::socket_kind kind) {
    auto l = detail::socket_listener::open(io_.context(), path, kind);
    if (!l) {
      error_ = l.error();
      return;
    }
    listener_ = std::move(*l);
    listener_->start([this](int fd) {
      {
        std::lock_guard lock(mu_);
        accepted_.push_back(fd);
      }
      cv_.notify_all();
    });
    (void)io_.start();
  }
  ~listening_socket() {
    close();
    for (const int fd : accepted_) ::close(fd);
  }
  listening_socket(const listening_socket&) = delete;
  listening_socket& operator=(const listening_socket&) = delete;

  /// True when listening; else `error()` is what `socket_listener::open` answered.
  [[nodiscard]] bool ok() const noexcept { return listener_ != nullptr; }
  [[nodiscard]] std::error_code error() const noexcept { return error_; }

  /// The next accepted descriptor (the caller's from now on), waiting at most `bound`; -1 when
  /// none came.
  int accept(std::chrono::milliseconds bound) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, bound, [&] { return !accepted_.empty(); })) return -1;
    const int fd = accepted_.front();
    accepted_.pop_front();
    return fd;
  }

  /// Stops accepting, removes the socket file, ends the loop. Idempotent.
  void close() {
    if (listener_) listener_->close();
    io_.stop();
  }

 private:
  detail::socket_io io_;  // first: destroyed last, after the listener it runs
  std::shared_ptr<detail::socket_listener> listener_;
  std::error_code error_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> accepted_;  // guarded by mu_
};

}  // namespace beehive::test
