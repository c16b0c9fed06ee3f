// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "beehive/errc.hpp"
#include "socket/transport.hpp"

namespace asio {
class io_context;
}

namespace beehive::detail {

/// A listening unix socket whose connections are accepted on an event loop (`socket_io`).
///
/// Why it probes before it removes: unlinking the path of a live server takes its address away
/// silently (that server keeps running and nobody can reach it). Only a socket file that
/// refuses a connection is stale, left behind by a server that is gone.
///
/// Thread-safe.
class socket_listener {
 public:
  socket_listener(const socket_listener&) = delete;
  socket_listener& operator=(const socket_listener&) = delete;
  virtual ~socket_listener() = default;

  /// Listens at `path` with sockets of `kind`: removes a stale socket file first, binds, sets
  /// mode 0600 (only the owner may connect, as Go does), listens. Errors, each logged with the
  /// path: `already_exists` when a server is live there; `invalid_argument` when the path is
  /// empty, too long, or names something that is not a socket (which is left alone);
  /// `not_connected` when binding or listening fails.
  [[nodiscard]] static expected<std::shared_ptr<socket_listener>> open(asio::io_context& io,
                                                                       const std::string& path,
                                                                       socket_kind kind);

  /// Accepts connections on the loop, handing each descriptor (blocking, close-on-exec) to
  /// `on_accepted`, which owns it, until `close`. Call once.
  virtual void start(std::function<void(int fd)> on_accepted) = 0;
  /// Stops accepting, closes the socket and removes its file. Idempotent.
  virtual void close() = 0;

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 protected:
  explicit socket_listener(std::string path) : path_(std::move(path)) {}

 private:
  const std::string path_;
};

}  // namespace beehive::detail
