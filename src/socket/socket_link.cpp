// SPDX-License-Identifier: Apache-2.0
#include "socket/socket_link.hpp"

namespace beehive::detail {

// The server and the client make their connections only here.

expected<socket_kind> link_kind(const socket_entry& entry, const socket_options& options) {
  auto kind = socket_kind_of(entry, options);
  if (!kind) return unexpected(errc::config_error);
  return *kind;
}

std::shared_ptr<connection> make_connection(int fd, socket_kind kind, const socket_entry& entry,
                                            const inbox_options& outbound, bool server_side,
                                            std::shared_ptr<socket_counters> counters) {
  return std::make_shared<connection>(fd, kind, entry.buffer_size, server_side, std::move(counters),
                                      outbound);
}

}  // namespace beehive::detail
