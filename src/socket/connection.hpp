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
#include "endpoint.hpp"
#include "socket/socket_counters.hpp"
#include "socket/transport.hpp"

namespace beehive::detail {

class hosted_endpoint;
class peer_endpoint;

/// Where a connection's handshake stands.
enum class handshake_state {
  waiting,   ///< no answer yet
  accepted,  ///< the server answered with its module exchange
  failed,    ///< refused, malformed, or the connection ended first
};

/// One connection of the socket type: accepted by its server, or opened by one of its client
/// modules. Made and torn down by the socket type; its endpoints (`peer_endpoint`) write to it.
///
/// Fields marked "type's mutex" are guarded by the owning socket type's mutex; the others are
/// set before the reader thread starts, or are atomic.
struct connection {
  /// `outbound` bounds the records waiting to be written to the peer (see `transport`).
  connection(int fd, socket_kind kind, std::size_t buffer_size, bool server_side,
             std::shared_ptr<socket_counters> counters, inbox_options outbound = {});
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Encodes `msg` and hands it to the connection's outbound queue as one record; never waits
  /// on the socket. A group delivery (`how`) or a sync request is admitted as
  /// `admission::park` (it never waits for room), anything else as `admission::wait` (the
  /// outbound options' overflow policy applies). Errors: `not_connected` once the connection
  /// ended; `queue_full`, `timed_out` as the queue says; `not_serializable`,
  /// `message_too_large` as the codec and transport say.
  [[nodiscard]] expected<void> write(const message& msg, delivery how = delivery::direct);

  /// Records the handshake's outcome (the first one wins) and wakes `wait_handshake`.
  void set_handshake(handshake_state s);
  /// Waits at most `bound` for the outcome; true when accepted.
  [[nodiscard]] bool wait_handshake(std::chrono::milliseconds bound);

  const bool server_side;
  /// Declared before `wire`: the transport's writer counts into it until it is joined.
  const std::shared_ptr<socket_counters> counters;
  transport wire;
  /// False once the connection ended: its endpoints answer `not_connected`.
  std::atomic<bool> alive{true};

  // Client side, set before the reader starts.
  std::string owner;                        ///< the local module that opened it
  std::weak_ptr<hosted_endpoint> owner_ep;  ///< that module's endpoint
  std::string handshake_id;                 ///< id of our handshake request

  std::thread reader;                    ///< started and joined by the socket type
  std::atomic<bool> reader_done{false};  ///< the reader returned; it can be joined at once

  // Type's mutex.
  bool established = false;  ///< the handshake completed
  /// Modules of the other side reached over this connection (registered with the host).
  std::vector<std::shared_ptr<peer_endpoint>> peers;
  /// Where replies to sync requests that came over this connection go (not registered).
  std::shared_ptr<peer_endpoint> origin;

 private:
  std::mutex hmu_;
  std::condition_variable hcv_;
  handshake_state hstate_ = handshake_state::waiting;
};

}  // namespace beehive::detail
