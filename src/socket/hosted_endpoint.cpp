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
  // What can fail comes first (the type stopped, the address cannot be listened on): a failed
  // re-add must leave the inbox closed. Then the inbox opens before the connect starts, so that
  // the server can write to the module as soon as the handshake is done.
  if (!type->serve(*this)) return false;
  (void)inbox_endpoint::reopen(info);
  type->connect(*this);
  return true;
}

endpoint_state hosted_endpoint::state() const noexcept {
  // local() is not const; `closed` only reads.
  if (const_cast<hosted_endpoint*>(this)->local()->closed()) return endpoint_state::closed;
  if (!connects) return endpoint_state::ready;
  return ready.load(std::memory_order_acquire) ? endpoint_state::ready : endpoint_state::connecting;
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
