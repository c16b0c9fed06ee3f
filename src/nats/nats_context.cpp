// SPDX-License-Identifier: Apache-2.0
#include <utility>

#include "beehive/context.hpp"
#include "beehive/nats.hpp"
#include "nats/nats_type.hpp"

namespace beehive {

struct nats_context::impl final : detail::nats_type {
  using nats_type::nats_type;
};

nats_context::nats_context(std::shared_ptr<impl> type) : type_(std::move(type)) {}
nats_context::~nats_context() = default;

nats_stats nats_context::stats() const { return type_->stats(); }
bool nats_context::connected() const { return type_->connected(); }
std::string nats_context::connected_url() const { return type_->connected_url(); }
std::string nats_context::process_id() const { return type_->process_id(); }
std::int64_t nats_context::max_payload() const { return type_->max_payload(); }
std::vector<std::string> nats_context::peers() const { return type_->peers(); }

bool nats_context::wait_peer(std::string_view module, std::chrono::nanoseconds bound) const {
  return type_->wait_peer(module, true, bound);
}

bool nats_context::wait_peer_gone(std::string_view module, std::chrono::nanoseconds bound) const {
  return type_->wait_peer(module, false, bound);
}

expected<std::shared_ptr<nats_context>> register_nats_context(context& ctx,
                                                              const nats_config& config,
                                                              std::string* why) {
  if (ctx.has_type(context_type_nats)) return unexpected(errc::already_exists);
  auto type = std::make_shared<nats_context::impl>(config);
  if (auto r = type->connect(why); !r) return unexpected(r.error());
  if (auto r = detail::install_type(ctx, std::string(context_type_nats), type); !r) {
    return unexpected(r.error());
  }
  return std::make_shared<nats_context>(std::move(type));
}

}  // namespace beehive
