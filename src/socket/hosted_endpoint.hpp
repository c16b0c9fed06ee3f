// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "inbox_endpoint.hpp"

namespace beehive::detail {

struct connection;
class socket_type;

/// A module of the socket type that this process hosts: it receives here, from its inbox.
/// Either the server's own module (its config entry says `server: true`: while it lives, the
/// type listens) or a client module (it has a client entry: while it lives, the type keeps it
/// connected to the server). Cleanup closes the inbox and ends the listening or the connection;
/// adding it again (`reopen`) listens or connects again, keeping the queued messages.
class hosted_endpoint final : public inbox_endpoint {
 public:
  hosted_endpoint(const module_info& info, std::weak_ptr<socket_type> type, bool serves,
                  bool connects);

  [[nodiscard]] bool reopen(const module_info& info) override;
  void close(std::vector<message>& dropped) override;
  void discard(std::vector<message>& dropped) override;

  const bool serves;    ///< the server's module: the type listens for it
  const bool connects;  ///< a client module: the type connects it

  // Guarded by the socket type's mutex.
  std::weak_ptr<hosted_endpoint> self;  ///< set by the type right after making it
  std::shared_ptr<connection> link;     ///< client: the connection that is up now
  /// Changes whenever the module is cleaned up: connects of an earlier life then give up.
  std::uint64_t generation = 0;

 private:
  const std::weak_ptr<socket_type> type_;
};

}  // namespace beehive::detail
