// SPDX-License-Identifier: Apache-2.0
#include "socket/socket_type.hpp"

#include <utility>

#include "core/log.hpp"
#include "socket/hosted_endpoint.hpp"
#include "socket/peer_registry.hpp"
#include "socket/socket_client.hpp"
#include "socket/socket_server.hpp"
#include "socket/transport.hpp"

namespace beehive::detail {

socket_type::socket_type(socket_config config, socket_options options)
    : cfg_(std::move(config)), opts_(options), counters_(std::make_shared<socket_counters>()) {}

socket_type::~socket_type() { stop(); }

void socket_type::attach(type_host& host) {
  registry_ = std::make_unique<peer_registry>(host, *counters_, io_);
  server_ = std::make_unique<socket_server>(cfg_, opts_, counters_, host, *registry_, io_);
  client_ = std::make_unique<socket_client>(cfg_, opts_, counters_, host, *registry_, io_);
}

expected<std::shared_ptr<endpoint>> socket_type::make_endpoint(const module_info& info) {
  if (info.name.empty() || info.inbox.capacity == 0) return unexpected(errc::invalid_argument);
  const socket_entry* server = cfg_.server();
  const bool serves = server != nullptr && server->module == info.name;
  const socket_entry* client = cfg_.client(info.name);
  const bool connects = client != nullptr;
  if (!serves && !connects) {
    log().error("socket: module '{}' has no entry in the socket config", info.name);
    return unexpected(errc::config_error);
  }
  // A client entry it could never connect with is refused now, not retried for ever.
  if (connects && !fits_socket_path(client->address)) {
    log().error("socket: module '{}': address '{}' is not a usable unix socket path", info.name,
                client->address);
    return unexpected(errc::invalid_argument);
  }
  if (connects && !link_kind(*client, opts_)) {
    log().error("socket: module '{}': unknown socket type '{}'", info.name, client->socket_type);
    return unexpected(errc::config_error);
  }
  auto ep = std::make_shared<hosted_endpoint>(info, weak_from_this(), serves, connects);
  ep->self = ep;
  if (auto r = serve(*ep); !r) return unexpected(r.error());
  connect(*ep);
  return std::shared_ptr<endpoint>(std::move(ep));
}

expected<void> socket_type::serve(hosted_endpoint& ep) {
  if (!registry_ || registry_->closed()) return unexpected(errc::not_connected);
  // The server module's inbox options bound what waits for each peer's socket.
  if (ep.serves) return server_->listen(&ep, ep.local()->options());
  return {};
}

void socket_type::connect(hosted_endpoint& ep) {
  if (!ep.connects || !registry_) return;
  if (auto self = ep.self.lock()) (void)client_->start(self);
}

void socket_type::unhost(hosted_endpoint& ep) {
  if (!registry_) return;
  if (ep.connects) client_->stop(ep);
  // Only while it listens for this endpoint: one replaced by a newer endpoint of the same
  // module must not close the newer one's listener.
  if (ep.serves) server_->stop_listening(&ep);
}

expected<void> socket_type::listen() {
  if (!registry_) return unexpected(errc::not_connected);
  return server_->listen(nullptr, opts_.outbound);
}

bool socket_type::connected(std::string_view module) const {
  return registry_ && registry_->connected(module);
}

bool socket_type::wait_connected(std::string_view module, std::chrono::nanoseconds bound) const {
  return registry_ && registry_->wait_connected(module, bound);
}

bool socket_type::wait_disconnected(std::string_view module, std::chrono::nanoseconds bound) const {
  return !registry_ || registry_->wait_disconnected(module, bound);
}

std::vector<std::string> socket_type::peers() const {
  return registry_ ? registry_->peers() : std::vector<std::string>{};
}

std::size_t socket_type::thread_count() const {
  return io_.thread_count() + (registry_ ? registry_->reader_threads() : 0);
}

bool socket_type::wait_thread_count_for(std::size_t at_most, std::chrono::nanoseconds bound) const {
  const std::size_t loop = io_.thread_count();
  if (loop > at_most) return false;
  return !registry_ || registry_->wait_reader_threads_for(at_most - loop, bound);
}

void socket_type::presence(std::span<const presence_event> events) {
  if (events.empty() || !server_ || (registry_ && registry_->closed())) return;
  server_->publish_presence();
}

void socket_type::stop() {
  std::lock_guard stopping(stop_mu_);
  if (!registry_) {
    io_.stop();
    return;
  }
  // In this order: nothing new starts; the loop ends (no accept, connect or timer runs after
  // it); the listener closes; every link is shut down and its reader joined (each tears its
  // link down through the host first).
  registry_->close();
  client_->close();
  io_.stop();
  server_->close();
  registry_->stop();
}

}  // namespace beehive::detail
