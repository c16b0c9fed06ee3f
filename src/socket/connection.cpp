// SPDX-License-Identifier: Apache-2.0
#include "socket/connection.hpp"

#include <string_view>
#include <utility>

#include "beehive/codec.hpp"

namespace beehive::detail {

connection::connection(int fd, socket_kind kind, std::size_t buffer_size, bool server,
                       std::shared_ptr<socket_counters> n, inbox_options outbound)
    : server_side(server),
      counters(std::move(n)),
      wire(fd, kind, buffer_size, outbound, counters.get()) {}

expected<void> connection::write(const message& msg, delivery how) {
  if (!alive.load(std::memory_order_acquire)) return unexpected(errc::not_connected);
  std::string text;
  text.reserve(256);
  if (auto r = encode_message(msg, text); !r) return r;
  // Only a plain send waits for room, as the overflow policy says. A sync request's caller is
  // bounded by its own timeout; a group's sender must not wait on one member; a reply's sender
  // is done with the request; a relayed record's link reader must not wait on another peer
  // (records_out is counted when written).
  const bool request = msg.header.sync && std::string_view(msg.header.parent_id).empty();
  return wire.send(std::move(text),
                   how == delivery::direct && !request ? admission::wait : admission::park, &msg);
}

}  // namespace beehive::detail
