// SPDX-License-Identifier: Apache-2.0
// The core asks a module's context type what the module is (remote? restarted when its start
// returns?) instead of guessing from the type's name.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "beehive/core.hpp"
#include "bounded_wait.hpp"
#include "fake_context_type.hpp"
#include "type/context_type.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using test::fake_context_type;
using test::get_bounded;
using test::watchdog;

register_options of_type(std::string type) {
  register_options o;
  o.type = std::move(type);
  return o;
}

// Records every restart wait and ends the restart loop there (as if stopped), so that a
// module restarted by mistake shows as one recorded wait instead of running for ever.
struct refused_restarts {
  std::mutex mu;
  std::vector<nanoseconds> intervals;
  core_options options() {
    core_options o;
    o.restart_wait = [this](nanoseconds interval, const std::stop_token&) {
      std::lock_guard lock(mu);
      intervals.push_back(interval);
      return false;
    };
    return o;
  }
  std::vector<nanoseconds> get() {
    std::lock_guard lock(mu);
    return intervals;
  }
};

// Blocks until the context is cancelled.
void hold_until_cancelled(context& x) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait(lock, x.stop_token(), [] { return false; });
}

TEST(ContextTypeTraits, EachTypeSaysWhatItsModulesAre) {
  context ctx;
  const auto channel = ctx.type_traits("channel");
  ASSERT_TRUE(channel);
  EXPECT_FALSE(channel->remote);
  EXPECT_FALSE(channel->restarts_on_return);
  EXPECT_EQ(ctx.type_traits("nosuchtype").error(), errc::unsupported_type);

  ASSERT_TRUE(detail::install_type(ctx, "far", std::make_shared<fake_context_type>()));
  ASSERT_TRUE(
      detail::install_type(ctx, "near", std::make_shared<fake_context_type>(true, false, false)));
  ASSERT_TRUE(
      detail::install_type(ctx, "oneshot", std::make_shared<fake_context_type>(true, true, false)));
  EXPECT_TRUE(ctx.type_traits("far")->remote);
  EXPECT_TRUE(ctx.type_traits("far")->restarts_on_return);
  EXPECT_FALSE(ctx.type_traits("near")->remote);
  EXPECT_FALSE(ctx.type_traits("near")->restarts_on_return);
  EXPECT_TRUE(ctx.type_traits("oneshot")->remote);
  EXPECT_FALSE(ctx.type_traits("oneshot")->restarts_on_return);
}

// A type other than `channel` whose modules are local: a normal return ends the module, as
// for a channel module (the core once took every type but `channel` for remote, and restarted
// such a module for ever).
TEST(CoreType, ALocalModuleOfAnotherTypeIsNotRestartedWhenItReturns) {
  context ctx;
  auto near = std::make_shared<fake_context_type>(true, false, false);
  ASSERT_TRUE(detail::install_type(ctx, "near", near));
  refused_restarts restarts;
  core c(ctx, restarts.options());
  std::atomic<int> runs{0};
  ASSERT_TRUE(c.register_module(
      std::make_shared<simple_module>("m", "g", [&](context&) { ++runs; }), of_type("near")));
  ASSERT_TRUE(c.start_modules());
  ASSERT_TRUE(c.wait_for_modules(watchdog));
  EXPECT_EQ(runs.load(), 1);
  EXPECT_TRUE(restarts.get().empty());
  EXPECT_EQ(c.restarts("m"), 0);
  EXPECT_EQ(c.state("m"), module_state::stopped);
  // The module_info the core gave the type says what the type said.
  ASSERT_EQ(near->made_for().size(), 1U);
  EXPECT_FALSE(near->made_for()[0].remote);
  EXPECT_TRUE(c.shutdown().clean());
}

TEST(CoreType, ARemoteModuleWhoseTypeDoesNotRestartItEndsWhenItReturns) {
  context ctx;
  auto oneshot = std::make_shared<fake_context_type>(true, true, false);
  ASSERT_TRUE(detail::install_type(ctx, "oneshot", oneshot));
  refused_restarts restarts;
  core c(ctx, restarts.options());
  ASSERT_TRUE(
      c.register_module(std::make_shared<simple_module>("m", "g", nullptr), of_type("oneshot")));
  ASSERT_TRUE(c.start_modules());
  ASSERT_TRUE(c.wait_for_modules(watchdog));
  EXPECT_TRUE(restarts.get().empty());
  EXPECT_EQ(c.state("m"), module_state::stopped);
  ASSERT_EQ(oneshot->made_for().size(), 1U);
  EXPECT_TRUE(oneshot->made_for()[0].remote);
  EXPECT_TRUE(c.shutdown().clean());
}

TEST(CoreType, AModuleWhoseTypeRestartsItOnReturnIsRestartedAndReadded) {
  context ctx;
  auto far = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "far", far));
  core_options o;
  std::vector<nanoseconds> waits;  // written by the module's thread before `second` is set
  o.restart_wait = [&](nanoseconds interval, const std::stop_token&) {
    waits.push_back(interval);
    return true;
  };
  core c(ctx, o);
  std::atomic<int> runs{0};
  std::promise<void> second;
  auto second_f = second.get_future();
  ASSERT_TRUE(c.register_module(std::make_shared<simple_module>("m", "g",
                                                                [&](context& x) {
                                                                  if (++runs == 1) {
                                                                    // Its link drops: the type
                                                                    // cleaned it up.
                                                                    (void)x.cleanup("m");
                                                                    return;
                                                                  }
                                                                  second.set_value();
                                                                  hold_until_cancelled(x);
                                                                }),
                                of_type("far")));
  ASSERT_TRUE(c.start_modules());
  get_bounded(second_f);
  EXPECT_EQ(waits, std::vector<nanoseconds>{1s});
  EXPECT_EQ(c.restarts("m"), 1);
  EXPECT_TRUE(ctx.has_module("m"));   // joined again
  const auto made = far->made_for();  // once at start, once when it joined again
  ASSERT_EQ(made.size(), 2U);
  EXPECT_TRUE(made[0].remote);
  EXPECT_TRUE(made[1].remote);
  EXPECT_TRUE(c.shutdown().clean());
}

TEST(CoreType, AModuleOfAnUnknownTypeDoesNotStart) {
  context ctx;
  core c(ctx);
  std::atomic<bool> ran{false};
  ASSERT_TRUE(
      c.register_module(std::make_shared<simple_module>("m", "g", [&](context&) { ran = true; }),
                        of_type("unixpacket")));
  EXPECT_EQ(c.start_modules().error(), errc::unsupported_type);
  EXPECT_FALSE(ctx.has_module("m"));
  EXPECT_EQ(c.state("m"), module_state::registered);
  EXPECT_FALSE(ran.load());
}

TEST(CoreType, WaitsWithoutBoundEndWhenTheModulesDo) {
  context ctx;
  core_options o;
  o.shutdown_deadline = nanoseconds::max();  // for ever, not an overflowed deadline
  core c(ctx, o);
  ASSERT_TRUE(c.register_module(
      std::make_shared<simple_module>("m", "g", [](context& x) { hold_until_cancelled(x); })));
  ASSERT_TRUE(c.start_modules());
  EXPECT_FALSE(c.wait_for_modules(0s));
  const auto report = c.shutdown();
  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.stopped, std::vector<std::string>{"m"});
  EXPECT_TRUE(c.wait_for_modules(nanoseconds::max()));
}

}  // namespace
}  // namespace beehive
