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
  // A sync request's caller is bounded by its own timeout, and a group's sender must not wait
  // on one member: neither waits for room (records_out is counted when written).
  const bool request = msg.header.sync && std::string_view(msg.header.parent_id).empty();
  return wire.send(std::move(text),
                   how == delivery::group || request ? admission::park : admission::wait);
}

}  // namespace beehive::detail
