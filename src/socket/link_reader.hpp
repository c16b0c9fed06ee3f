// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "beehive/message.hpp"
#include "socket/socket_counters.hpp"
#include "socket/socket_link.hpp"
#include "type/context_type.hpp"

namespace beehive::detail {

/// Reads a link's records and routes each one. Every link has a thread that runs `run`.
///
/// What a record becomes:
/// - a handshake record (the server's first record; the answer to a client's request) goes to
///   the link's `link_handler`;
/// - a reply (`parent_msg_id` set) goes to the one reply table, which hands it to the caller
///   waiting here or forwards it to the requester's connection;
/// - a sync request has its origin registered in the reply table (the reply goes back over
///   the link), then goes, as any other record, to its destination module;
/// - a presence record (handshake.hpp) goes to the link's handler.
///
/// Where the link's handshake stands is a `handshake_step`, and `classify_record` says what
/// each record is in it. A record for another module is handed on as `delivery::relay`, which
/// never waits: a full destination answers `would_block` and leaves the message; the reader
/// holds it, stops reading its link (back-pressure on this one peer) and pushes it again when
/// the destination's `when_writable` fires (or gives up when the link is shut down). A peer's
/// full outbound queue refuses instead (counted).
///
/// Bad input is counted and logged: after the handshake an oversized or malformed record is
/// dropped and the link kept. On a server link before the handshake, any of them (the peer is
/// unknown, and a stream peer may still be sending an oversized record), a first record that
/// is not an accepted handshake, a bad frame or a peer that closes in the middle of a frame end
/// the link. Thread-safe (holds no state of its own).
class link_reader {
 public:
  link_reader(type_host& host, socket_counters& counters) : host_(host), counters_(counters) {}

  /// Reads `link` until its connection ends (the peer closed, it was shut down, or bad
  /// input ended it), then returns. The caller then tears the link down.
  void run(const std::shared_ptr<socket_link>& link);

  /// Routes one record that came over `link` after its handshake (see the class comment).
  void route(socket_link& link, message&& msg);

 private:
  // After a `would_block`: waits until the destination (`owner`, else `dest` through the host)
  // may take a message again. False when the link was shut down meanwhile.
  // `unsignalled`: how many times in a row the destination could not register a signal.
  bool wait_writable(const socket_link& link, endpoint* owner, std::string_view dest,
                     unsigned& unsignalled);

  static constexpr std::chrono::milliseconds shutdown_check{50};
  static constexpr std::chrono::milliseconds relay_pause{1};

  type_host& host_;
  socket_counters& counters_;
};

}  // namespace beehive::detail
