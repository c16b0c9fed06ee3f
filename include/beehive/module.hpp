// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace beehive {

class context;

/// When a module's `start` is run again after it returns (Go's RestartType).
enum class restart_type {
  always,      ///< after it returns or throws
  on_failure,  ///< only after it throws
};

/// Go's `ModuleRestartPolicy`.
struct module_restart_policy {
  restart_type type = restart_type::on_failure;
  /// Restarts allowed; 0 means unlimited.
  int retries = 0;
  /// Wait before the first restart (Go: IntervalSecond, default 1 s).
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  /// When > 1, each wait is the previous one times this (Go: IntervalTimeGrowthRate).
  double growth_rate = 0;
  /// Upper bound of the wait (default 30 s).
  std::chrono::nanoseconds interval_limit = std::chrono::seconds(30);
  /// Called once when retries run out, with the module's name and its last exception
  /// (null when the last run returned normally).
  std::function<void(std::string_view module, std::exception_ptr last_error)> error_handler;
};

/// A module (Go's `core.Module`): a named unit whose `start` runs on its own thread for the
/// module's whole life and talks to others only through the context.
class module {
 public:
  module() = default;
  module(const module&) = delete;
  module& operator=(const module&) = delete;
  virtual ~module() = default;

  [[nodiscard]] virtual std::string name() const = 0;
  [[nodiscard]] virtual std::string group() const = 0;
  /// Disabled modules are registered but never started.
  [[nodiscard]] virtual bool enable() const { return true; }
  /// The module's life. Blocks as long as the module runs; return to stop, throw to fail.
  /// Typically loops on `ctx.receive(name())` until it returns `channel_closed`.
  virtual void start(context& ctx) = 0;
  /// No policy (the default) means `start` runs once.
  [[nodiscard]] virtual std::optional<module_restart_policy> restart_policy() const {
    return std::nullopt;
  }
};

/// A module built from a name, a group and a function (Go's SimpleModule).
///
/// @code
/// core.register_module(std::make_shared<beehive::simple_module>(
///     "echo", "demo", [](beehive::context& ctx) { /* receive loop */ }));
/// @endcode
class simple_module final : public module {
 public:
  using start_fn = std::function<void(context&)>;

  simple_module(std::string name, std::string group, start_fn fn, bool enabled = true,
                std::optional<module_restart_policy> policy = std::nullopt)
      : name_(std::move(name)),
        group_(std::move(group)),
        fn_(std::move(fn)),
        enabled_(enabled),
        policy_(std::move(policy)) {}

  [[nodiscard]] std::string name() const override { return name_; }
  [[nodiscard]] std::string group() const override { return group_; }
  [[nodiscard]] bool enable() const override { return enabled_; }
  void start(context& ctx) override {
    if (fn_) fn_(ctx);
  }
  [[nodiscard]] std::optional<module_restart_policy> restart_policy() const override {
    return policy_;
  }

 private:
  std::string name_;
  std::string group_;
  start_fn fn_;
  bool enabled_;
  std::optional<module_restart_policy> policy_;
};

}  // namespace beehive
