// SPDX-License-Identifier: Apache-2.0
#include "socket/peer_endpoint.hpp"

#include <utility>

#include "core/log.hpp"

namespace beehive::detail {

expected<void> address_record(message& msg, delivery how, std::string_view peer,
                              const record_sender& sender) {
  const std::string_view source(msg.route.source);
  if (sender.client_side && source != sender.owner) {
    // Checked before anything changes: a refused message goes back to its sender as it was.
    if (how != delivery::reply && !source.empty()) return unexpected(errc::invalid_argument);
    msg.route.source = sender.owner;
  }
  switch (how) {
    case delivery::direct:
    case delivery::relay: {
      const bool request = msg.header.sync && std::string_view(msg.header.parent_id).empty();
      if (request || std::string_view(msg.header.type).empty()) {
        msg.set_type(context_type_unixpacket);
      }
      if (std::string_view(msg.route.destination) != peer) msg.set_destination(peer);
      break;
    }
    case delivery::group:
      if (std::string_view(msg.route.destination) != peer) msg.set_destination(peer);
      break;
    case delivery::reply:
      // Go's socket SendResp; `source` is a field of `msg` itself, so copy it first.
      msg.route.destination = msg.route.source;
      if (std::string_view(msg.header.type).empty()) msg.set_type(context_type_unixpacket);
      break;
  }
  return {};
}

peer_endpoint::peer_endpoint(std::string name, std::shared_ptr<connection> conn, std::string owner)
    : endpoint(std::move(name)), conn_(std::move(conn)), owner_(std::move(owner)) {}

expected<void> peer_endpoint::push(message&& msg, delivery how) {
  if (closed_.load(std::memory_order_acquire)) return unexpected(errc::channel_closed);
  if (!conn_->alive.load(std::memory_order_acquire) || retired_.load(std::memory_order_acquire)) {
    return unexpected(errc::not_connected);
  }
  const record_sender sender{!conn_->server_side, owner_};
  // The send contract: a failed push leaves the caller's message as it was. Addressing changes
  // at most these three fields (inline strings: no allocation to keep them).
  auto source = msg.route.source;
  auto destination = msg.route.destination;
  auto type = msg.header.type;
  if (auto r = address_record(msg, how, name(), sender); !r) {
    log().warn(
        "socket: record {} from '{}' not written: a client connection carries records of its "
        "module '{}' only",
        std::string_view(msg.header.id), std::string_view(msg.route.source), owner_);
    return r;
  }
  auto r = conn_->write(msg, how);
  if (!r) {
    msg.route.source = std::move(source);
    msg.route.destination = std::move(destination);
    msg.header.type = std::move(type);
  }
  return r;
}

void peer_endpoint::close(std::vector<message>& /*dropped*/) {
  if (closed_.exchange(true)) return;
  if (conn_->server_side) conn_->wire.shutdown();
}

}  // namespace beehive::detail
