// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

namespace beehive {

class context;

namespace detail {

/// A module thread's right to use a context: the core takes one per module thread, before the
/// thread starts, and the thread touches the context only while it holds it.
///
/// Why a lease: a module that overruns the shutdown deadline keeps running after `shutdown`
/// returned, possibly after its core is gone; the context must not be destroyed under it. The
/// context counts the leases it granted, and its destructor waits until every lease has ended
/// (or refuses to be destroyed while one is held). The core releases a thread's lease before it
/// reports the thread as ended, so `core::wait_for_modules` returning true means no lease of
/// that core is held any more.
///
/// Movable, not copyable. An empty lease (default-constructed or moved from) holds nothing.
/// Ending a lease (`release` or the destructor) is thread-safe and never throws.
/// The name of the lease a core holds from its first `start_modules` until its shutdown ends.
inline constexpr std::string_view core_lease_name = "(the core's shutdown)";

class module_lease {
 public:
  module_lease() noexcept = default;
  module_lease(module_lease&& other) noexcept;
  module_lease& operator=(module_lease&& other) noexcept;
  module_lease(const module_lease&) = delete;
  module_lease& operator=(const module_lease&) = delete;
  ~module_lease();

  /// The leased context; null for an empty lease.
  [[nodiscard]] context* ctx() const noexcept { return ctx_; }
  /// The module the lease was taken for (for diagnostics).
  [[nodiscard]] const std::string& module_name() const noexcept { return module_; }
  [[nodiscard]] explicit operator bool() const noexcept { return ctx_ != nullptr; }
  /// Ends the lease now; the lease is empty afterwards. Idempotent.
  void release() noexcept;

 private:
  friend module_lease lease_module(context& ctx, std::string_view module);
  module_lease(context& ctx, std::string_view module);

  context* ctx_ = nullptr;
  std::string module_;
};

/// Takes a lease on `ctx` for the thread of `module`. Call it while the context is known to be
/// alive (the core does, in `start_modules`, before starting the thread). Does not block.
[[nodiscard]] module_lease lease_module(context& ctx, std::string_view module);

}  // namespace detail
}  // namespace beehive
