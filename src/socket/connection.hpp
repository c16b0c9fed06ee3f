// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"
#include "socket/socket_counters.hpp"
#include "socket/transport.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {

/// One connection of the socket type: accepted by its server, or opened by one of its client
/// modules. Its endpoints (`peer_endpoint`) write to it; the socket type reads it and keeps
/// its own bookkeeping of it (`socket_link`). Thread-safe.
struct connection {
  /// `outbound` bounds the records waiting to be written to the peer (see `transport`).
  connection(int fd, socket_kind kind, std::size_t buffer_size, bool server_side,
             std::shared_ptr<socket_counters> counters, inbox_options outbound = {});
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Encodes `msg` and hands it to the connection's outbound queue as one record; never waits
  /// on the socket. A plain `direct` send is admitted as `admission::wait` (the outbound
  /// options' overflow policy applies); a sync request, a group copy, a reply and a relayed
  /// record as `admission::park` (they never wait for room). Errors: `not_connected` once the
  /// connection ended; `queue_full`, `timed_out` as the queue says; `not_serializable`,
  /// `message_too_large` as the codec and transport say.
  [[nodiscard]] expected<void> write(const message& msg, delivery how = delivery::direct);

  const bool server_side;
  /// Declared before `wire`: the transport's writer counts into it until it is joined.
  const std::shared_ptr<socket_counters> counters;
  transport wire;
  /// False once the connection ended: its endpoints answer `not_connected`.
  std::atomic<bool> alive{true};
};

}  // namespace beehive::detail
