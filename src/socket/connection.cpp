// SPDX-License-Identifier: Apache-2.0
#include "socket/connection.hpp"

#include <utility>

#include "beehive/codec.hpp"

namespace beehive::detail {

connection::connection(int fd, socket_kind kind, std::size_t buffer_size, bool server,
                       std::shared_ptr<socket_counters> n)
    : wire(fd, kind, buffer_size), server_side(server), counters(std::move(n)) {}

expected<void> connection::write(const message& msg) {
  if (!alive.load(std::memory_order_acquire)) return unexpected(errc::not_connected);
  std::string text;
  text.reserve(256);
  if (auto r = encode_message(msg, text); !r) return r;
  auto r = wire.send(std::move(text));
  if (r) socket_counters::bump(counters->records_out);
  return r;
}

}  // namespace beehive::detail
