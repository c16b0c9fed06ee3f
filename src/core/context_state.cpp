// SPDX-License-Identifier: Apache-2.0
// The state behind a context, and the host each installed context type is given: how a type
// delivers into a module, adds and removes its peers, and how a type is installed.
//
// The hot path, read as code: `host::deliver` (a type's relay into a module) is the context's
// `send` without the call's own marks: one thread-local depth increment (call_scope), one read of
// the registry's generation, one trie lookup in the thread's snapshot, one virtual call to the
// endpoint. No allocation, unless a tap is attached to a relay (then one copy of the message).

#include "core/context_state.hpp"

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "channel/channel_type.hpp"

namespace beehive {

using detail::delivery;
using detail::registry;

detail::context_state::context_state() : reg(std::string(context_type_channel)) {
  // The channel's inboxes learn of cancel through the context's stop token: a sender blocked
  // on a full inbox wakes with `cancelled`.
  (void)reg.reserve_type(std::string(context_type_channel),
                         std::make_shared<detail::channel_type>(stop.get_token()));
  reg.publish_type(context_type_channel);
}

void detail::context_state::settle_dropped(std::vector<message>& dropped, errc why) {
  for (const auto& m : dropped) {
    if (m.header.sync) replies.fail(m, make_error_code(why));
  }
  dropped.clear();
}

expected<void> detail::context_state::host::deliver(std::string_view module, message&& msg,
                                                    delivery how) {
  registry::call_scope scope;
  auto* const* ep = owner_.reg.current().modules.find(module);
  if (ep == nullptr) return unexpected(errc::module_not_found);
  if (owner_.tap.active()) [[unlikely]] {
    if (how != delivery::relay) {
      owner_.tap.observe(module, msg);
    } else {
      // A relay answered would_block is pushed again later by its type: tapped once, when the
      // push does not answer would_block (a copy kept for the tap, as the push may take it).
      const message copy(msg);
      auto r = (*ep)->push(std::move(msg), how);
      if (r || r.error() != errc::would_block) owner_.tap.observe(module, copy);
      return r;
    }
  }
  return (*ep)->push(std::move(msg), how);
}

bool detail::context_state::host::when_writable(std::string_view module, std::function<void()> fn) {
  registry::call_scope scope;
  auto* const* ep = owner_.reg.current().modules.find(module);
  return ep != nullptr && (*ep)->when_writable(std::move(fn));
}

expected<void> detail::context_state::host::add_peer(std::string_view module,
                                                     std::shared_ptr<detail::endpoint> ep,
                                                     const std::vector<std::string>& groups) {
  const detail::peer_update u{detail::peer_op::add, std::string(module), std::move(ep), groups};
  auto codes = update_peers(std::span(&u, 1));
  if (codes[0]) return tl::unexpected(codes[0]);
  return {};
}

void detail::context_state::host::remove_peer(std::string_view module, const detail::endpoint& ep) {
  // A non-owning pointer: the registry compares a removal's endpoint by identity only.
  const detail::peer_update u{detail::peer_op::remove,
                              std::string(module),
                              std::shared_ptr<detail::endpoint>(std::shared_ptr<void>(),
                                                                const_cast<detail::endpoint*>(&ep)),
                              {}};
  (void)update_peers(std::span(&u, 1));
}

void detail::context_state::host::cleanup(std::string_view module, const detail::endpoint& ep) {
  std::vector<message> dropped;
  (void)owner_.reg.cleanup(module, dropped, &ep);
  owner_.settle_dropped(dropped, errc::channel_closed);
}

std::vector<std::error_code> detail::context_state::host::update_peers(
    std::span<const detail::peer_update> batch) {
  std::vector<message> dropped;
  auto codes = owner_.reg.update_peers(type_, batch, dropped);
  owner_.settle_dropped(dropped, errc::channel_closed);
  return codes;
}

detail::context_state& detail::context_state_of(context& ctx) noexcept { return *ctx.impl_; }

namespace detail {

expected<void> install_type(context& ctx, std::string name, std::shared_ptr<context_type> type) {
  if (name.empty() || !type) return unexpected(errc::invalid_argument);
  auto& impl = detail::context_state_of(ctx);
  // Reserved first (the name is taken, nobody can use it yet), attached, then published: a
  // concurrent add_module of the type fails with unsupported_type until the type is ready.
  if (auto r = impl.reg.reserve_type(name, type); !r) return r;
  detail::context_state::host* h = nullptr;
  {
    std::lock_guard lock(impl.hosts_mu);
    auto& slot = impl.hosts[name];
    slot = std::make_unique<detail::context_state::host>(impl, name);
    h = slot.get();
  }
  type->attach(*h);
  impl.reg.publish_type(name);
  return {};
}

}  // namespace detail

}  // namespace beehive
