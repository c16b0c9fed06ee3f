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
/// A core holds a lease of its own (`lease_core`) from its first `start_modules` until its
/// shutdown ends; the context refuses to be destroyed under it. It is counted apart from the
/// module leases, so that no module name can pass for it.
///
/// Movable, not copyable. An empty lease (default-constructed or moved from) holds nothing.
/// Ending a lease (`release` or the destructor) is thread-safe and never throws.
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
  /// The module the lease was taken for (for diagnostics); empty for a core's lease.
  [[nodiscard]] const std::string& module_name() const noexcept { return module_; }
  /// True for a core's lease (`lease_core`).
  [[nodiscard]] bool of_core() const noexcept { return core_; }
  [[nodiscard]] explicit operator bool() const noexcept { return ctx_ != nullptr; }
  /// Ends the lease now; the lease is empty afterwards. Idempotent.
  void release() noexcept;

 private:
  friend module_lease lease_module(context& ctx, std::string_view module);
  friend module_lease lease_core(context& ctx);
  module_lease(context& ctx, std::string_view module, bool core);

  context* ctx_ = nullptr;
  std::string module_;
  bool core_ = false;
};

/// Takes a lease on `ctx` for the thread of `module`. Call it while the context is known to be
/// alive (the core does, in `start_modules`, before starting the thread). Does not block.
[[nodiscard]] module_lease lease_module(context& ctx, std::string_view module);
/// Takes the lease a core holds on `ctx` while it may still shut down (cancel, clean up).
[[nodiscard]] module_lease lease_core(context& ctx);

}  // namespace detail
}  // namespace beehive
