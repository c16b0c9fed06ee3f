// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "beehive/context.hpp"
#include "beehive/module.hpp"
#include "beehive/module_options.hpp"
#include "beehive/signal_waiter.hpp"

namespace beehive {

/// How a module joins its context (Go's Register(m, opts...)).
struct register_options {
  /// Context type. The type says whether the module is remote and whether a normal return
  /// of its `start` means "reconnect" (`context::type_traits`), not its name.
  std::string type = "channel";
  inbox_options inbox;
};

/// Settings of a core.
struct core_options {
  /// Bound of `shutdown` as a whole.
  std::chrono::nanoseconds shutdown_deadline = std::chrono::seconds(10);
  /// When true, an exception escaping a module without a restart policy ends the process
  /// (std::terminate). Off by default: it is logged and the module counts as failed.
  bool terminate_on_module_exception = false;
  /// How the restart loop waits `interval` before a restart; returns false when `stop` was
  /// requested during the wait. Tests replace it to run restart sequences without sleeping.
  std::function<bool(std::chrono::nanoseconds interval, std::stop_token stop)> restart_wait;
  /// Observer of every restart wait (module, attempt starting at 1, interval); may be empty.
  /// Every interval lies in [0, max(interval_limit, 0)], whatever the policy's values: the
  /// first is the policy's interval and each next one the previous times growth_rate (when
  /// > 1), both capped at the limit; a negative or NaN result counts as 0.
  std::function<void(const std::string& module, int attempt, std::chrono::nanoseconds interval)>
      on_restart;
};

/// What `shutdown` did.
struct shutdown_report {
  std::vector<std::string> stopped;  ///< modules whose `start` returned, in stop order
  std::vector<std::string> overran;  ///< modules still running at the deadline
  [[nodiscard]] bool clean() const noexcept { return overran.empty(); }
};

/// State of a registered module.
enum class module_state {
  registered,  ///< known, not started (or disabled)
  running,     ///< `start` is running
  restarting,  ///< waiting before a restart
  stopped,     ///< `start` returned and will not run again
  failed,      ///< `start` threw and will not run again
};

/// The core (Go's `core` package): the registry of modules, their threads, their restarts,
/// and the process's shutdown.
///
/// Thread-safe. The destructor shuts down (as `shutdown()`) if modules still run, then joins
/// every module thread the core started, waiting without bound for those that overran the
/// shutdown deadline: a module that never returns from `start` blocks it. It must not run on a
/// module's own thread.
///
/// @code
/// beehive::context ctx;
/// beehive::core core(ctx);
/// (void)core.register_module(std::make_shared<my_module>());
/// core.run();   // start_modules(), then wait for SIGINT/SIGTERM/... and shut down
/// @endcode
class core {
 public:
  explicit core(context& ctx, core_options options = {});
  ~core();
  core(const core&) = delete;
  core& operator=(const core&) = delete;

  /// Adds a module to the registry (enabled or disabled list, by `m->enable()`).
  /// `already_exists` for a second module of the same name; `invalid_argument` for null or
  /// an empty name.
  [[nodiscard]] expected<void> register_module(std::shared_ptr<module> m,
                                               register_options options = {});
  /// Names of the enabled modules, in registration order.
  [[nodiscard]] std::vector<std::string> modules() const;
  /// Names of the disabled modules, in registration order.
  [[nodiscard]] std::vector<std::string> disabled_modules() const;
  /// State of a module; `module_not_found` if not registered.
  [[nodiscard]] expected<module_state> state(std::string_view module) const;
  /// Times the module's `start` has been restarted.
  [[nodiscard]] expected<int> restarts(std::string_view module) const;

  /// Adds every enabled module to the context (module and group) and starts each on its own
  /// thread, in registration order. Fails (and starts nothing) if a module cannot be added.
  [[nodiscard]] expected<void> start_modules();
  /// Cancels the context, then stops modules in reverse start order (cleanup, then wait for
  /// `start` to return) within `shutdown_deadline`, and reports who overran it. Idempotent.
  /// Modules that overran keep running on their threads; `wait_for_modules` waits for them.
  shutdown_report shutdown();
  /// Blocks until every module thread this core started has ended (`start` returned and no
  /// restart follows), overrunning ones included, or until `timeout` passes; joins the ended
  /// threads. Returns true when none is left running (at once when none was started). Does not
  /// stop anything itself: call it after `shutdown()` to wait for the modules that overran.
  [[nodiscard]] bool wait_for_modules(std::chrono::nanoseconds timeout);
  /// Waits for SIGINT, SIGHUP, SIGTERM or SIGQUIT, then `shutdown()`. Blocks.
  shutdown_report graceful_shutdown();
  /// As `graceful_shutdown()`, waiting on `waiter`, whose handlers the caller installed earlier
  /// (so that a signal sent before this call is not lost); `waiter.stop()` from another thread
  /// also ends the wait and shuts down.
  shutdown_report graceful_shutdown(signal_waiter& waiter);
  /// `start_modules()` then `graceful_shutdown()`.
  [[nodiscard]] expected<shutdown_report> run();

  [[nodiscard]] context& ctx() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The process-wide core over `default_context()`.
[[nodiscard]] core& default_core();

// Go-style free functions over the default core.
[[nodiscard]] expected<void> register_module(std::shared_ptr<module> m,
                                             register_options options = {});
[[nodiscard]] expected<void> start_modules();
shutdown_report graceful_shutdown();
[[nodiscard]] expected<shutdown_report> run();

}  // namespace beehive
