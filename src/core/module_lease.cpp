// SPDX-License-Identifier: Apache-2.0
#include "core/module_lease.hpp"

#include <mutex>
#include <utility>

#include "core/context_state.hpp"

namespace beehive::detail {

// A lease is counted in the context (`leases` by module, `core_leases` apart); `~context` waits
// until every module lease is released, so a module thread never uses a destroyed context.

module_lease::module_lease(context& ctx, std::string_view module, bool core)
    : ctx_(&ctx), module_(module), core_(core) {
  auto& impl = detail::context_state_of(ctx);
  std::lock_guard lock(impl.leases_mu);
  if (core_) {
    ++impl.core_leases;
  } else {
    ++impl.leases[module_];
  }
}

module_lease::module_lease(module_lease&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)),
      module_(std::move(other.module_)),
      core_(other.core_) {}

module_lease& module_lease::operator=(module_lease&& other) noexcept {
  if (this != &other) {
    release();
    ctx_ = std::exchange(other.ctx_, nullptr);
    module_ = std::move(other.module_);
    core_ = other.core_;
  }
  return *this;
}

module_lease::~module_lease() { release(); }

void module_lease::release() noexcept {
  if (ctx_ == nullptr) return;
  auto& impl = detail::context_state_of(*ctx_);
  ctx_ = nullptr;
  {
    std::lock_guard lock(impl.leases_mu);
    if (core_) {
      --impl.core_leases;
    } else if (auto it = impl.leases.find(module_); it != impl.leases.end() && --it->second == 0) {
      impl.leases.erase(it);
    }
    // Notified under the lock: the waiter (~context) may destroy the context as soon as it
    // sees the count reach zero.
    impl.leases_cv.notify_all();
  }
}

module_lease lease_module(context& ctx, std::string_view module) {
  return module_lease(ctx, module, false);
}

module_lease lease_core(context& ctx) { return module_lease(ctx, {}, true); }

}  // namespace beehive::detail
