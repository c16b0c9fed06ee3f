// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "channel/inbox_endpoint.hpp"

namespace beehive::detail {

struct socket_link;
class socket_type;

/// A module of the socket type that this process hosts: it receives here, from its inbox.
/// Either the server's own module (its config entry says `server: true`: while it lives, the
/// type listens) or a client module (it has a client entry: while it lives, the type keeps it
/// connected to the server). Cleanup closes the inbox and ends the listening or the connection;
/// adding it again (`reopen`) listens or connects again, keeping the queued messages.
///
/// State: a client module is `connecting` from `make_endpoint` (which returns at once) until
/// its handshake is answered, `ready` while its link is up, `connecting` again while a failed
/// attempt is retried, `closed` once cleaned up. Messages for it wait in its inbox meanwhile,
/// under its inbox options, as always. The server's module is `ready` while it listens.
class hosted_endpoint final : public inbox_endpoint {
 public:
  hosted_endpoint(const module_info& info, std::weak_ptr<socket_type> type, bool serves,
                  bool connects);

  /// Listens again (server module) first: when that fails the inbox stays closed, so that no
  /// message is accepted that nobody would read. Then reopens the inbox and connects again
  /// (client module; in the background).
  [[nodiscard]] bool reopen(const module_info& info) override;
  [[nodiscard]] endpoint_state state() const noexcept override;
  void close(std::vector<message>& dropped) override;
  void discard(std::vector<message>& dropped) override;

  const bool serves;    ///< the server's module: the type listens for it
  const bool connects;  ///< a client module: the type connects it

  /// Set once by the type, before the endpoint is published.
  std::weak_ptr<hosted_endpoint> self;

  // Client module: guarded by the socket client's mutex.
  std::shared_ptr<socket_link> up;  ///< the link that is established now
  /// Changes whenever the module is cleaned up: attempts of an earlier life then give up.
  std::uint64_t generation = 0;
  /// How long the next reconnect waits (doubles up to `reconnect_max`).
  std::chrono::milliseconds retry_wait{0};
  /// Set with `up` (under the client's mutex); read by `state` without it.
  std::atomic<bool> ready{false};

 private:
  const std::weak_ptr<socket_type> type_;
};

}  // namespace beehive::detail
