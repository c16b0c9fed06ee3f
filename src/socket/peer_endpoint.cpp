// SPDX-License-Identifier: Apache-2.0
#include "socket/peer_endpoint.hpp"

#include <string_view>
#include <utility>

namespace beehive::detail {

peer_endpoint::peer_endpoint(std::string name, std::shared_ptr<connection> conn)
    : endpoint(std::move(name)), conn_(std::move(conn)) {}

expected<void> peer_endpoint::push(message&& msg, delivery how) {
  if (closed_.load(std::memory_order_acquire)) return unexpected(errc::channel_closed);
  if (!conn_->alive.load(std::memory_order_acquire)) return unexpected(errc::not_connected);
  switch (how) {
    case delivery::direct: {
      const bool request = msg.header.sync && std::string_view(msg.header.parent_id).empty();
      if (request || std::string_view(msg.header.type).empty()) {
        msg.set_type(std::string(context_type_unixpacket));
      }
      if (std::string_view(msg.route.destination) != name()) msg.set_destination(name());
      break;
    }
    case delivery::group:
      if (std::string_view(msg.route.destination) != name()) msg.set_destination(name());
      break;
    case delivery::reply:
      msg.set_destination(std::string(std::string_view(msg.route.source)));
      if (std::string_view(msg.header.type).empty()) {
        msg.set_type(std::string(context_type_unixpacket));
      }
      break;
  }
  return conn_->write(msg, how);
}

void peer_endpoint::close(std::vector<message>& /*dropped*/) {
  if (closed_.exchange(true)) return;
  if (conn_->server_side) conn_->wire.shutdown();
}

}  // namespace beehive::detail
