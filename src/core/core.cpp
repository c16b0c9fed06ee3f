// SPDX-License-Identifier: Apache-2.0
#include "beehive/core.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "core/deadline.hpp"
#include "core/log.hpp"
#include "core/module_lease.hpp"

namespace beehive {

namespace {

using std::chrono::nanoseconds;
using std::chrono::steady_clock;

std::string describe(const std::exception_ptr& e) {
  if (!e) return "no exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

bool default_restart_wait(nanoseconds interval, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  // Nothing notifies `cv` but the stop token, so this wakes on timeout or cancellation.
  cv.wait_for(lock, stop, interval, [] { return false; });
  return !stop.stop_requested();
}

// Wait before restarting a module whose type restarts it on return, when it has no policy.
constexpr nanoseconds reconnect_interval = std::chrono::seconds(1);

// A restart wait of `ns` nanoseconds, saturated to [0, max(limit, 0)].
//
// Why in double: interval × growth_rate overflows int64 for growth rates a user may well write
// (1e300, infinity), and converting such a double, or a NaN, to an integer is undefined. So the
// value is capped while it is still a double and converted only once it is known to fit.
nanoseconds saturated_wait(double ns, nanoseconds limit) {
  const nanoseconds cap = std::max(limit, nanoseconds(0));
  if (!(ns > 0)) return nanoseconds(0);  // negative, zero or NaN
  if (ns >= static_cast<double>(cap.count())) return cap;
  return nanoseconds(static_cast<std::int64_t>(ns));
}

nanoseconds first_restart_wait(const module_restart_policy& p) {
  return saturated_wait(static_cast<double>(p.interval.count()), p.interval_limit);
}

nanoseconds next_restart_wait(nanoseconds previous, const module_restart_policy& p) {
  // `> 1` is false for NaN too: no growth.
  if (!(p.growth_rate > 1)) return previous;
  return saturated_wait(static_cast<double>(previous.count()) * p.growth_rate, p.interval_limit);
}

}  // namespace

namespace detail {

// What the core and its module threads share.
struct core_shared {
  core_shared(context& c, core_options o) : ctx(&c), options(std::move(o)) {}
  context* ctx;  // for the core's own calls; a module thread uses its lease instead
  core_options options;
  // Orders "cancel" against "re-add a remote module": the keeper re-adds under this lock only
  // when shutdown has not begun, so shutdown's cleanup (after cancel) always sees it.
  std::mutex lifecycle;
  // Set (under `lifecycle`) by shutdown before it cancels the context. A keeper whose `start`
  // returns after that ends without touching the context again.
  std::atomic<bool> stopping{false};
};

struct module_entry {
  std::shared_ptr<module> m;
  register_options options;
  std::string name;
  std::string group;
  std::atomic<module_state> state{module_state::registered};
  std::atomic<int> restarts{0};
  bool started = false;  // guarded by the core's mutex
  std::thread thread;    // guarded by the core's mutex; joined by whoever takes it out
  // What the module's type says (asked by start_modules before the thread starts; read only
  // by the thread afterwards).
  context_type_traits traits;

  // Set when the keeper is done with the module and the context: the thread only returns after.
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;

  [[nodiscard]] module_info info() const {
    return module_info{
        .name = name, .type = options.type, .remote = traits.remote, .inbox = options.inbox};
  }
  void mark_done() {
    {
      std::lock_guard lock(done_mu);
      done = true;
    }
    done_cv.notify_all();
  }
  // Waits for `done` until `deadline` (without bound for time_point::max(), "for ever").
  bool wait_done(steady_clock::time_point deadline) {
    std::unique_lock lock(done_mu);
    if (deadline == steady_clock::time_point::max()) {
      done_cv.wait(lock, [&] { return done; });
      return true;
    }
    return done_cv.wait_until(lock, deadline, [&] { return done; });
  }
};

}  // namespace detail

namespace {

using detail::core_shared;
using detail::module_entry;

// Adds the module and its group to the context. A module that is still there (a remote one
// whose connection dropped without a cleanup, or one the user added) is kept as it is.
expected<void> join_context(context& ctx, const module_entry& e) {
  if (auto r = ctx.add_module(e.info()); !r && r.error() != errc::already_exists) return r;
  if (!e.group.empty()) {
    if (auto r = ctx.add_module_group(e.name, e.group); !r) return r;
  }
  return {};
}

// Runs the module, restarting it as its policy says (Go's moduleKeeper / localModuleKeeper);
// returns its final state. Uses no context but `ctx`, which the caller's lease keeps alive.
module_state run_module(core_shared& shared, module_entry& e, context& ctx) {
  const core_options& opts = shared.options;
  const std::optional<module_restart_policy> policy = e.m->restart_policy();
  nanoseconds interval = policy ? first_restart_wait(*policy) : reconnect_interval;
  int policy_restarts = 0;

  for (;;) {
    e.state.store(module_state::running);
    std::exception_ptr error;
    try {
      e.m->start(ctx);
    } catch (...) {
      error = std::current_exception();
      detail::log().error("module {} failed: {}", e.name, describe(error));
    }
    const module_state final_state = error ? module_state::failed : module_state::stopped;
    if (error && !policy && opts.terminate_on_module_exception) {
      detail::log().critical("module {} threw and terminate_on_module_exception is set", e.name);
      std::terminate();
    }
    // Checked before the context: once shutdown began, the core's state says all there is to
    // know, and the context is not touched again.
    if (shared.stopping.load() || ctx.cancelled()) return final_state;

    const bool policy_restart =
        policy && (policy->type == restart_type::always || error != nullptr);
    // The type says what a normal return means: for a socket client module, that its
    // connection dropped. It then reconnects, whatever its policy says about normal returns,
    // and without using up its retries.
    const bool reconnect = !policy_restart && e.traits.restarts_on_return && !error;
    if (!policy_restart && !reconnect) return final_state;
    if (policy_restart && policy->retries > 0 && policy_restarts >= policy->retries) {
      detail::log().error("module {} gave up after {} restarts", e.name, policy_restarts);
      if (policy->error_handler) {
        try {
          policy->error_handler(e.name, error);
        } catch (...) {
          detail::log().error("error handler of module {} threw: {}", e.name,
                              describe(std::current_exception()));
        }
      }
      return final_state;
    }

    const int attempt = e.restarts.load() + 1;
    if (opts.on_restart) opts.on_restart(e.name, attempt, interval);
    detail::log().info("module {} restarts in {} ms (attempt {})", e.name,
                       std::chrono::duration_cast<std::chrono::milliseconds>(interval).count(),
                       attempt);
    e.state.store(module_state::restarting);
    const bool waited = opts.restart_wait ? opts.restart_wait(interval, ctx.stop_token())
                                          : default_restart_wait(interval, ctx.stop_token());
    if (!waited) return final_state;
    // A remote module may have been cleaned up by its type when its link dropped: it joins
    // again (a module still there is kept as it is).
    if (e.traits.remote) {
      std::lock_guard lock(shared.lifecycle);
      if (shared.stopping.load() || ctx.cancelled()) return final_state;
      if (auto r = join_context(ctx, e); !r) {
        detail::log().error("module {}: re-adding to the context failed: {}", e.name,
                            r.error().message());
      }
    }
    if (policy_restart) ++policy_restarts;
    e.restarts.fetch_add(1);
    if (policy) interval = next_restart_wait(interval, *policy);
  }
}

// The life of one module thread. Every use of the context lies within `lease`.
void keep_module(core_shared& shared, module_entry& e, detail::module_lease lease) {
  module_state final_state = module_state::stopped;
  if (lease) {
    final_state = run_module(shared, e, *lease.ctx());
  } else {
    detail::log().error("module {} not started: its context is going away", e.name);
  }
  // Why the lease ends before `done`: whoever learns that this thread is done (shutdown,
  // wait_for_modules, ~core) may let the context go at once.
  lease.release();
  e.state.store(final_state);
  detail::log().info("module {} {}", e.name,
                     final_state == module_state::failed ? "failed" : "stopped");
  e.mark_done();
}

}  // namespace

struct core::impl {
  impl(context& c, core_options o) : shared(std::make_shared<core_shared>(c, std::move(o))) {}

  [[nodiscard]] std::shared_ptr<module_entry> find_locked(std::string_view name) const {
    for (const auto& list : {&enabled, &disabled}) {
      for (const auto& e : *list) {
        if (e->name == name) return e;
      }
    }
    return nullptr;
  }

  [[nodiscard]] std::vector<std::shared_ptr<module_entry>> started() const {
    std::lock_guard lock(mu);
    return start_order;
  }

  // Joins the thread of a module whose keeper is done. The thread is taken out under the lock
  // and joined outside it, so readers are never held up; a second caller finds it gone.
  void join_done(module_entry& e) {
    std::thread t;
    {
      std::lock_guard lock(mu);
      t = std::move(e.thread);
    }
    if (t.joinable()) t.join();
  }

  std::shared_ptr<core_shared> shared;
  mutable std::mutex mu;
  std::mutex shutdown_mu;  // serializes shutdown calls; not held by readers
  std::vector<std::shared_ptr<module_entry>> enabled;
  std::vector<std::shared_ptr<module_entry>> disabled;
  std::vector<std::shared_ptr<module_entry>> start_order;
  bool shut_down = false;
  shutdown_report last_report;
  // Held from the first start_modules until shutdown ends: the core itself uses the context
  // (its shutdown cancels and cleans up), so the context's destructor refuses to run under it.
  detail::module_lease core_lease;
};

core::core(context& ctx, core_options options)
    : impl_(std::make_unique<impl>(ctx, std::move(options))) {}

core::~core() {
  bool running = false;
  {
    std::lock_guard lock(impl_->mu);
    running = !impl_->shut_down && !impl_->start_order.empty();
  }
  if (running) (void)shutdown();
  if (!wait_for_modules(nanoseconds(0))) {
    detail::log().warn("core: waiting for the modules that overran the shutdown deadline");
  }
  // Every thread is joined here, an overrunning one as soon as its `start` returns: no module
  // thread outlives the core, so none can use the core's state or the context after it.
  for (const auto& e : impl_->started()) {
    (void)e->wait_done(steady_clock::time_point::max());
    impl_->join_done(*e);
  }
}

expected<void> core::register_module(std::shared_ptr<module> m, register_options options) {
  if (!m) return unexpected(errc::invalid_argument);
  auto e = std::make_shared<module_entry>();
  e->name = m->name();
  if (e->name.empty()) return unexpected(errc::invalid_argument);
  e->group = m->group();
  if (options.type.empty()) options.type = std::string(context_type_channel);
  e->options = std::move(options);
  const bool enabled = m->enable();
  e->m = std::move(m);
  std::lock_guard lock(impl_->mu);
  if (impl_->find_locked(e->name)) return unexpected(errc::already_exists);
  (enabled ? impl_->enabled : impl_->disabled).push_back(std::move(e));
  return {};
}

std::vector<std::string> core::modules() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& e : impl_->enabled) out.push_back(e->name);
  return out;
}

std::vector<std::string> core::disabled_modules() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& e : impl_->disabled) out.push_back(e->name);
  return out;
}

expected<module_state> core::state(std::string_view module) const {
  std::lock_guard lock(impl_->mu);
  auto e = impl_->find_locked(module);
  if (!e) return unexpected(errc::module_not_found);
  return e->state.load();
}

expected<int> core::restarts(std::string_view module) const {
  std::lock_guard lock(impl_->mu);
  auto e = impl_->find_locked(module);
  if (!e) return unexpected(errc::module_not_found);
  return e->restarts.load();
}

expected<void> core::start_modules() {
  std::lock_guard lock(impl_->mu);
  context& ctx = *impl_->shared->ctx;
  if (impl_->shut_down || ctx.cancelled()) return unexpected(errc::cancelled);
  std::vector<std::shared_ptr<module_entry>> to_start;
  for (const auto& e : impl_->enabled) {
    if (!e->started) to_start.push_back(e);
  }
  // Add them all first, so that no module starts while another cannot join, and so that every
  // module can address every other from its first instruction. Each type is asked what its
  // modules are: the core knows no type by name.
  for (const auto& e : to_start) {
    auto traits = ctx.type_traits(e->options.type);
    if (!traits) {
      detail::log().error("module {} cannot join the context: type {}: {}", e->name,
                          e->options.type, traits.error().message());
      return unexpected(traits.error());
    }
    e->traits = *traits;
    if (auto r = join_context(ctx, *e); !r) {
      detail::log().error("module {} cannot join the context: {}", e->name, r.error().message());
      return r;
    }
  }
  if (!to_start.empty() && !impl_->core_lease) {
    impl_->core_lease = detail::lease_core(ctx);
  }
  for (const auto& e : to_start) {
    e->started = true;
    e->state.store(module_state::running);
    impl_->start_order.push_back(e);
    detail::log().info("starting module {}", e->name);
    // Taken here, where the context is known to be alive, and handed to the thread.
    auto lease = detail::lease_module(ctx, e->name);
    try {
      e->thread = std::thread([shared = impl_->shared, e, lease = std::move(lease)]() mutable {
        keep_module(*shared, *e, std::move(lease));
      });
    } catch (const std::system_error& ex) {
      detail::log().error("module {}: cannot start its thread: {}", e->name, ex.what());
      e->state.store(module_state::failed);
      e->mark_done();
    }
  }
  return {};
}

shutdown_report core::shutdown() {
  std::lock_guard serial(impl_->shutdown_mu);
  std::vector<std::shared_ptr<module_entry>> order;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->shut_down) return impl_->last_report;
    impl_->shut_down = true;  // from here on start_modules refuses, so `order` is complete
    order = impl_->start_order;
  }
  context& ctx = *impl_->shared->ctx;
  const auto budget = std::max(impl_->shared->options.shutdown_deadline, nanoseconds(0));
  const auto deadline = detail::deadline_after(budget);
  // Why a reserve: once a module overruns, the modules after it in stop order would otherwise
  // get no time at all and be reported as overrunning although they stop at once. The last
  // tenth of the budget is kept for them (none is kept from a budget without bound).
  const auto ordered_deadline =
      deadline == steady_clock::time_point::max()
          ? deadline
          : deadline - std::chrono::duration_cast<steady_clock::duration>(budget / 10);
  {
    std::lock_guard lifecycle(impl_->shared->lifecycle);
    impl_->shared->stopping.store(true);
    ctx.cancel();
  }
  auto cleanup = [&](const module_entry& e) {
    detail::log().info("cleanup module {}", e.name);
    (void)ctx.cleanup(e.name);
  };
  shutdown_report report;
  auto settle = [&](module_entry& e, bool done) {
    if (done) {
      impl_->join_done(e);
      report.stopped.push_back(e.name);
    } else {
      // Its thread keeps running and is joined later, by wait_for_modules or ~core.
      detail::log().warn("module {} did not stop within the shutdown deadline", e.name);
      report.overran.push_back(e.name);
    }
  };

  // Reverse start order: each module is cleaned up only after the one started after it returned.
  auto it = order.rbegin();
  for (; it != order.rend(); ++it) {
    cleanup(**it);
    if (!(*it)->wait_done(ordered_deadline)) break;
    settle(**it, true);
  }
  // A module overran: the order cannot be kept any more, so the rest are cleaned up at once and
  // share what remains of the budget.
  if (it != order.rend()) {
    for (auto rest = std::next(it); rest != order.rend(); ++rest) cleanup(**rest);
    for (; it != order.rend(); ++it) settle(**it, (*it)->wait_done(deadline));
  }
  std::lock_guard lock(impl_->mu);
  impl_->last_report = report;
  // From here on the core never touches the context again.
  impl_->core_lease.release();
  return report;
}

bool core::wait_for_modules(std::chrono::nanoseconds timeout) {
  const auto deadline = detail::deadline_after(timeout);
  bool all_ended = true;
  for (const auto& e : impl_->started()) {
    if (e->wait_done(deadline)) {
      impl_->join_done(*e);
    } else {
      all_ended = false;
    }
  }
  return all_ended;
}

shutdown_report core::graceful_shutdown() {
  signal_waiter waiter;
  return graceful_shutdown(waiter);
}

shutdown_report core::graceful_shutdown(signal_waiter& waiter) {
  if (const int sig = waiter.wait(); sig != 0) {
    detail::log().info("got signal {}, shutting down", sig);
  } else {
    detail::log().info("signal waiter stopped, shutting down");
  }
  return shutdown();
}

expected<shutdown_report> core::run() {
  // Installed before the modules start, so that no signal sent from then on is lost.
  signal_waiter waiter;
  if (auto r = start_modules(); !r) return unexpected(r.error());
  return graceful_shutdown(waiter);
}

context& core::ctx() noexcept { return *impl_->shared->ctx; }

// --- process-wide core -----------------------------------------------------------------------

core& default_core() {
  static core c(default_context());
  return c;
}

expected<void> register_module(std::shared_ptr<module> m, register_options options) {
  return default_core().register_module(std::move(m), std::move(options));
}

expected<void> start_modules() { return default_core().start_modules(); }

shutdown_report graceful_shutdown() { return default_core().graceful_shutdown(); }

expected<shutdown_report> run() { return default_core().run(); }

}  // namespace beehive
