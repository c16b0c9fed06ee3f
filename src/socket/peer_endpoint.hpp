// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "socket/connection.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {

/// The side of a connection a record leaves from (see `address_record`).
struct record_sender {
  bool client_side = false;  ///< the connection was opened by a client module of this process
  std::string_view owner;    ///< that client module (client side only)
};

/// Addresses `msg`, written over a connection to the module `peer`, as Go's socket context
/// writes it:
/// - `direct`: `destination` is `peer`; `type` is `unixpacket` when empty, and always for a
///   sync request (a Go peer routes its `SendResp` by the request's type);
/// - `group`: `destination` is `peer`; `type` is left as it is (Go's `SendToGroup` records
///   carry none);
/// - `reply`: `destination` = `source` (Go's socket `SendResp`); `type` `unixpacket` when empty.
///
/// On the client side of a connection the record must name the client module as its `source`:
/// a Go server closes the connection on a record whose source is not a module listed as a
/// client, and every record after it is lost. So there:
/// - an empty `source` becomes `sender.owner`;
/// - a reply's `source` becomes `sender.owner` (a reply built by `new_resp_by_message` carries
///   the requester's name there, which a Go server refuses; ours matches replies by
///   `parent_msg_id` alone), and then its `destination` too;
/// - any other `source` than `sender.owner` is refused with `invalid_argument`, before the
///   record is written; `msg` is then left unchanged.
///
/// Pure: touches nothing but `msg`.
[[nodiscard]] expected<void> address_record(message& msg, delivery how, std::string_view peer,
                                            const record_sender& sender);

/// A module of another process, reached over a connection: a push addresses the message
/// (`address_record`), encodes it and writes it as one record.
///
/// Thread-safe. `not_connected` once the connection ended, `channel_closed` after `close`,
/// `invalid_argument` for a record whose source the server would refuse (`address_record`).
class peer_endpoint final : public endpoint {
 public:
  /// `owner`: on a client connection, the local module that opened it (the only source a Go
  /// server accepts on it); empty on a server connection.
  peer_endpoint(std::string name, std::shared_ptr<connection> conn, std::string owner = {});

  [[nodiscard]] expected<void> push(message&& msg, delivery how) override;
  /// Cleanup of a peer module: later pushes fail with `channel_closed`. On the server side the
  /// connection belongs to that one module and is closed too (the module is gone from here).
  void close(std::vector<message>& dropped) override;
  void discard(std::vector<message>& dropped) override { close(dropped); }
  /// The module left the other process (a presence update) while the connection stays: later
  /// pushes fail with `not_connected`, as after the connection's end.
  void retire() noexcept { retired_.store(true, std::memory_order_release); }

 private:
  const std::shared_ptr<connection> conn_;
  const std::string owner_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> retired_{false};
};

}  // namespace beehive::detail
