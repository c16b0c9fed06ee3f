// SPDX-License-Identifier: Apache-2.0
#include "core/module_lease.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "beehive/core.hpp"
#include "bounded_wait.hpp"
#include "core/context_state.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::watchdog;

int module_leases(context& ctx, const std::string& module) {
  auto& impl = detail::context_state_of(ctx);
  std::lock_guard lock(impl.leases_mu);
  auto it = impl.leases.find(module);
  return it == impl.leases.end() ? 0 : it->second;
}

int core_leases(context& ctx) {
  auto& impl = detail::context_state_of(ctx);
  std::lock_guard lock(impl.leases_mu);
  return impl.core_leases;
}

TEST(ModuleLease, CountsEachLeaseUntilItEnds) {
  context ctx;
  auto a = lease_module(ctx, "m");
  auto b = lease_module(ctx, "m");
  EXPECT_TRUE(a);
  EXPECT_EQ(a.ctx(), &ctx);
  EXPECT_EQ(a.module_name(), "m");
  EXPECT_FALSE(a.of_core());
  EXPECT_EQ(module_leases(ctx, "m"), 2);
  a.release();
  a.release();  // idempotent
  EXPECT_FALSE(a);
  EXPECT_EQ(module_leases(ctx, "m"), 1);
  module_lease moved(std::move(b));
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move): a moved-from lease is empty
  EXPECT_EQ(module_leases(ctx, "m"), 1);
  moved = module_lease();  // assigning ends the lease it held
  EXPECT_EQ(module_leases(ctx, "m"), 0);
}

TEST(ModuleLease, TheCoresLeaseIsCountedApartFromEveryModuleName) {
  context ctx;
  auto core = lease_core(ctx);
  EXPECT_TRUE(core.of_core());
  EXPECT_EQ(core_leases(ctx), 1);
  EXPECT_TRUE(detail::context_state_of(ctx).leases.empty());
  // A module named like anything at all is a module.
  auto m = lease_module(ctx, "(the core's shutdown)");
  EXPECT_EQ(core_leases(ctx), 1);
  EXPECT_EQ(module_leases(ctx, "(the core's shutdown)"), 1);
  core.release();
  EXPECT_EQ(core_leases(ctx), 0);
  EXPECT_EQ(module_leases(ctx, "(the core's shutdown)"), 1);
  module_lease moved(std::move(m));
  EXPECT_FALSE(moved.of_core());
}

// A module named as the core's lease once was: the context took its lease for the core's and
// aborted in its destructor. It is a module like any other: the context, destroyed while the
// module overran the shutdown, waits for it.
TEST(ModuleLease, AModuleNamedLikeTheCoresLeaseIsAModuleLikeAnyOther) {
  const std::string name = "(the core's shutdown)";
  auto ctx = std::make_unique<context>();
  module_info elsewhere;
  elsewhere.name = "elsewhere";  // not the core's: shutdown leaves it open
  ASSERT_TRUE(ctx->add_module(elsewhere));
  std::atomic<bool> returned{false};
  core_options options;
  options.shutdown_deadline = 20ms;
  core c(*ctx, options);
  ASSERT_TRUE(c.register_module(std::make_shared<simple_module>(name, "g", [&](context& x) {
    for (;;) {  // ignores its own cleanup
      auto m = x.receive("elsewhere");
      if (!m) break;
    }
    returned = true;
  })));
  ASSERT_TRUE(c.start_modules());
  const auto report = c.shutdown();
  ASSERT_EQ(report.overran, std::vector<std::string>{name});
  ctx.reset();  // closes "elsewhere"; returns once the module's thread left the context
  EXPECT_TRUE(returned.load());
  EXPECT_TRUE(c.wait_for_modules(watchdog));
}

}  // namespace
}  // namespace beehive::detail
