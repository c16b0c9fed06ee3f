// SPDX-License-Identifier: Apache-2.0
#include "socket/hosted_endpoint.hpp"

#include <utility>

#include "socket/socket_type.hpp"

namespace beehive::detail {

hosted_endpoint::hosted_endpoint(const module_info& info, std::weak_ptr<socket_type> type,
                                 bool serve, bool connect)
    : inbox_endpoint(info), serves(serve), connects(connect), type_(std::move(type)) {}

bool hosted_endpoint::reopen(const module_info& info) {
  auto type = type_.lock();
  if (!type) return false;
  // Open before connecting: the server may write to the module as soon as the handshake is done.
  (void)inbox_endpoint::reopen(info);
  return type->host(*this).has_value();
}

// Why the type lets go first: a receiver that sees the inbox closed may add the module again
// at once; its connect must not belong to the life that is ending.
void hosted_endpoint::close(std::vector<message>& dropped) {
  if (auto type = type_.lock()) type->unhost(*this);
  inbox_endpoint::close(dropped);
}

void hosted_endpoint::discard(std::vector<message>& dropped) {
  if (auto type = type_.lock()) type->unhost(*this);
  inbox_endpoint::discard(dropped);
}

}  // namespace beehive::detail
