// SPDX-License-Identifier: Apache-2.0
#pragma once

// asio pieces shared by the server and the client (the units that accept and connect). Only
// .cpp files that are built with asio include this.

#include <fcntl.h>
#include <sys/socket.h>

#include <asio.hpp>
#include <string>

#include "socket/transport.hpp"

namespace beehive::detail::unix_asio {

/// The protocol of each socket kind: the sockets are unix sockets either way, of type
/// SOCK_SEQPACKET or SOCK_STREAM.
using seqpacket = asio::generic::seq_packet_protocol;
using stream = asio::generic::stream_protocol;

/// The endpoint of the unix socket at `path` (which must fit in `sun_path`).
template <class Protocol>
[[nodiscard]] typename Protocol::endpoint endpoint_at(const std::string& path) {
  return typename Protocol::endpoint(asio::local::stream_protocol::endpoint(path));
}

/// Calls `f(Protocol{})` with the protocol of `kind`.
template <class F>
decltype(auto) with_protocol(socket_kind kind, F&& f) {
  if (kind == socket_kind::seqpacket) return f(seqpacket(AF_UNIX, 0));
  return f(stream(AF_UNIX, 0));
}

/// Takes the descriptor out of a connected or accepted socket, for a `transport`: blocking
/// (asio made it non-blocking for its own waits) and closed on exec. -1 with `ec` on failure.
template <class Socket>
[[nodiscard]] int release_descriptor(Socket& s, asio::error_code& ec) {
  const int fd = s.release(ec);
  if (ec || fd < 0) return -1;
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

}  // namespace beehive::detail::unix_asio
