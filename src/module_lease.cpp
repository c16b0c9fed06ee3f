// SPDX-License-Identifier: Apache-2.0
#include "module_lease.hpp"

#include <utility>

namespace beehive::detail {

// For now a lease only records the context and the module: the context side (counting leases,
// ~context waiting for them) comes with the context rewrite, which fills in the constructor and
// `release` below. The core already brackets every module thread's use of the context with one.

module_lease::module_lease(context& ctx, std::string_view module) : ctx_(&ctx), module_(module) {}

module_lease::module_lease(module_lease&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), module_(std::move(other.module_)) {}

module_lease& module_lease::operator=(module_lease&& other) noexcept {
  if (this != &other) {
    release();
    ctx_ = std::exchange(other.ctx_, nullptr);
    module_ = std::move(other.module_);
  }
  return *this;
}

module_lease::~module_lease() { release(); }

void module_lease::release() noexcept { ctx_ = nullptr; }

module_lease lease_module(context& ctx, std::string_view module) {
  return module_lease(ctx, module);
}

}  // namespace beehive::detail
