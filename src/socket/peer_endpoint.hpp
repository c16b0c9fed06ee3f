// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "endpoint.hpp"
#include "socket/connection.hpp"

namespace beehive::detail {

/// A module of another process, reached over a connection: a push encodes the message and
/// writes it as one record.
///
/// How each delivery is addressed, as Go's socket context writes it:
/// - `direct`: `destination` is the module; `type` is `unixpacket` when empty, and always for a
///   sync request (a Go peer routes its `SendResp` by the request's type);
/// - `group`: `destination` is the member; `type` is left as it is (Go's `SendToGroup` records
///   carry none);
/// - `reply`: `destination` = `source` (Go's socket `SendResp`); `type` `unixpacket` when empty.
///
/// Thread-safe. `not_connected` once the connection ended, `channel_closed` after `close`.
class peer_endpoint final : public endpoint {
 public:
  peer_endpoint(std::string name, std::shared_ptr<connection> conn);

  [[nodiscard]] expected<void> push(message&& msg, delivery how) override;
  /// Cleanup of a peer module: later pushes fail with `channel_closed`. On the server side the
  /// connection belongs to that one module and is closed too (the module is gone from here).
  void close(std::vector<message>& dropped) override;
  void discard(std::vector<message>& dropped) override { close(dropped); }

 private:
  const std::shared_ptr<connection> conn_;
  std::atomic<bool> closed_{false};
};

}  // namespace beehive::detail
