// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <httplib.h>

#include <functional>

namespace beehive::detail {

/// cpp-httplib's server with an admission check on every accepted connection, before a byte of
/// it is read: the admin API's unix socket admits only its own user (SO_PEERCRED).
///
/// Why this class: cpp-httplib 0.11 gives a handler no access to the connection's socket, so a
/// peer's credentials cannot be read there. It lets a subclass take over
/// `process_and_close_socket` (a virtual member); this one admits the peer, then serves the
/// connection with the library's own `process_request` over `fd_stream` (a plain buffered
/// socket stream with the server's timeouts) and its keep-alive rules. A refused peer gets
/// `403` and the connection is closed.
class guarded_server final : public httplib::Server {
 public:
  /// `admit(fd)` says whether the peer of an accepted connection may be served.
  explicit guarded_server(std::function<bool(int fd)> admit) : admit_(std::move(admit)) {}

 private:
  bool process_and_close_socket(socket_t sock) override;

  std::function<bool(int fd)> admit_;
};

/// True when the peer of unix socket `fd` runs as this process's effective user.
[[nodiscard]] bool peer_is_same_user(int fd) noexcept;

}  // namespace beehive::detail
