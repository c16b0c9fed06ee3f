// SPDX-License-Identifier: Apache-2.0
#include "beehive/socket_context.hpp"

#include <utility>

#include "beehive/context.hpp"
#include "socket/socket_type.hpp"
#include "type/context_type.hpp"

namespace beehive {

socket_context::socket_context(std::shared_ptr<detail::socket_type> type)
    : type_(std::move(type)) {}

socket_context::~socket_context() = default;

expected<void> socket_context::listen() { return type_->listen(); }

void socket_context::stop() { type_->stop(); }

bool socket_context::connected(std::string_view module) const { return type_->connected(module); }

bool socket_context::wait_connected(std::string_view module, duration timeout) const {
  return type_->wait_connected(module, timeout);
}

bool socket_context::wait_disconnected(std::string_view module, duration timeout) const {
  return type_->wait_disconnected(module, timeout);
}

std::vector<std::string> socket_context::peers() const { return type_->peers(); }

socket_stats socket_context::stats() const { return type_->stats(); }

const socket_config& socket_context::config() const noexcept { return type_->config(); }

expected<std::shared_ptr<socket_context>> register_socket_context(context& ctx,
                                                                  socket_config config,
                                                                  socket_options options) {
  std::string name = options.type_name;
  auto type = std::make_shared<detail::socket_type>(std::move(config), std::move(options));
  if (auto r = detail::install_type(ctx, std::move(name), type); !r) {
    return unexpected(r.error());
  }
  return std::make_shared<socket_context>(std::move(type));
}

}  // namespace beehive
