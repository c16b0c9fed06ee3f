// SPDX-License-Identifier: Apache-2.0
// The channel type's inboxes seen through a context (issue 15): cancel wakes blocked senders,
// lanes and coalescing configured per module, and the accounting identity under concurrent
// producers with cleanup and re-add in mid-flight.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "beehive/context.hpp"
#include "beehive/core.hpp"
#include "beehive/module.hpp"
#include "bounded_wait.hpp"
#include "channel/channel_type.hpp"
#include "channel/inbox.hpp"
#include "core/context_state.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::get_bounded;

message update(int pod, int n) {
  auto m = new_message();
  m.route.operation = "update";
  m.route.resource = "pod/" + std::to_string(pod);
  m.content = content(std::to_string(n));
  return m;
}

message heartbeat() {
  auto m = new_message();
  m.route.operation = "heartbeat";
  m.route.resource = "node";
  return m;
}

module_info shaped_module(std::string name, bool lanes, bool coalesce, std::size_t capacity = 64) {
  module_info info;
  info.name = std::move(name);
  info.inbox.capacity = capacity;
  if (lanes) {
    info.inbox.lanes.lanes = {lane_options{8}, lane_options{capacity}};
    info.inbox.lanes.rules = {{route_field::operation, "heartbeat", 0}};
    info.inbox.lanes.default_lane = 1;
    info.inbox.lanes.starvation_bound = 4;
  }
  info.inbox.coalescing.enabled = coalesce;
  return info;
}

TEST(ChannelShaping, ContextCancelWakesABlockedSender) {
  context ctx;
  module_info info;
  info.name = "full";
  info.inbox.capacity = 1;
  ASSERT_TRUE(ctx.add_module(info));
  ASSERT_TRUE(ctx.send("full", new_message()));
  auto sender = std::async(std::launch::async, [&] {
    message m = new_message();
    m.header.id = "kept";
    auto r = ctx.send("full", std::move(m));
    return std::make_pair(r, m.header.id.str());
  });
  ASSERT_TRUE(eventually([&] {
    auto box = detail::context_state_of(ctx).reg.find("full");
    return box && box->local()->waiting_senders() == 1;
  }));
  ctx.cancel();
  auto [r, id] = get_bounded(sender);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::cancelled);
  EXPECT_EQ(id, "kept");
  auto st = ctx.stats("full");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->rejected_cancelled, 1U);
  EXPECT_EQ(st->accepted, 1U);
  // A group send to the full inbox after cancel (parking full too) does not wait either.
  ASSERT_TRUE(ctx.add_module_group("full", "g"));
  ASSERT_TRUE(ctx.send_to_group("g", new_message()));  // parks
  auto g = ctx.send_to_group("g", new_message());
  ASSERT_TRUE(g);
  ASSERT_EQ(g->failed.size(), 1U);
  EXPECT_EQ(g->failed[0].second, errc::cancelled);
}

// Issue 15, measured before: 100 modules that restart every millisecond and send to their own
// group took 2.7 s to shut down with a 3 s deadline (one blocked on a full inbox until the
// deadline). A cancel now wakes it: the shutdown is clean well within the watchdog.
TEST(ChannelShaping, HundredRestartingModulesShutDownWithoutOverrunning) {
  context ctx;
  core_options copts;
  copts.shutdown_deadline = test::watchdog;
  core c(ctx, copts);
  module_restart_policy policy;
  policy.type = restart_type::always;
  policy.interval = 1ms;
  std::atomic<int> runs{0};
  for (int i = 0; i < 100; ++i) {
    register_options ro;
    ro.inbox.capacity = 4;
    ASSERT_TRUE(c.register_module(std::make_shared<simple_module>(
                                      "m" + std::to_string(i), "storm",
                                      [&runs](context& x) {
                                        runs.fetch_add(1);
                                        for (int k = 0; k < 16; ++k) {
                                          if (!x.send_to_group("storm", new_message())) return;
                                        }
                                      },
                                      true, policy),
                                  ro));
  }
  ASSERT_TRUE(c.start_modules());
  // Every module ran; with nobody receiving, the inboxes fill and the senders wait on them.
  ASSERT_TRUE(eventually([&] { return runs.load() >= 100; }));
  const auto report = c.shutdown();
  EXPECT_TRUE(report.clean()) << report.overran.size() << " modules overran";
}

TEST(ChannelShaping, ContextStatsReportLanesAndCoalescing) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(shaped_module("edge", true, true)));
  ASSERT_TRUE(ctx.send("edge", update(1, 1)));
  ASSERT_TRUE(ctx.send("edge", update(1, 2)));
  ASSERT_TRUE(ctx.send("edge", heartbeat()));
  auto first = ctx.receive("edge");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->route.operation, "heartbeat");
  auto second = ctx.receive("edge");
  ASSERT_TRUE(second);
  EXPECT_EQ(*second->content.if_string(), "2");
  auto st = ctx.stats("edge");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->coalesced, 1U);
  ASSERT_EQ(st->lanes.size(), 2U);
  EXPECT_EQ(st->lanes[0].received, 1U);
  EXPECT_EQ(st->lanes[1].accepted, 2U);
  EXPECT_EQ(st->lanes[1].coalesced, 1U);
}

TEST(ChannelShaping, InvalidLaneOptionsAreRefused) {
  context ctx;
  auto info = shaped_module("bad", true, false);
  info.inbox.lanes.lanes[1].capacity = 0;
  EXPECT_EQ(ctx.add_module(info).error(), errc::invalid_argument);
}

// accepted = received + coalesced + dropped + still queued, exactly, while four producers send,
// a receiver takes, and the module is cleaned up and re-added (with another inbox kind each
// time: plain, lanes, coalescing, both; drop or drain on close) in mid-flight.
TEST(ChannelShaping, AccountingIdentityHoldsUnderCleanupAndReAdd) {
  context ctx;
  std::vector<module_info> kinds;
  for (int k = 0; k < 8; ++k) {
    auto info = shaped_module("box", (k & 1) != 0, (k & 2) != 0, 32);
    info.inbox.close = (k & 4) != 0 ? close_mode::drop : close_mode::drain;
    if (k == 5) info.inbox.lanes.lanes[1].overflow = overflow_policy::drop_oldest;
    if (k == 6) info.inbox.overflow = overflow_policy::fail;
    kinds.push_back(info);
  }
  ASSERT_TRUE(ctx.add_module(kinds[0]));
  ASSERT_TRUE(ctx.add_module_group("box", "g"));
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> sent_ok{0};
  std::vector<std::future<void>> producers;
  for (int p = 0; p < 4; ++p) {
    producers.push_back(std::async(std::launch::async, [&, p] {
      for (int i = 0; i < 20000; ++i) {
        auto m = i % 10 == 0 ? heartbeat() : update(i % 50, i);
        if (i % 97 == 0) m.header.sync = true;  // never coalesces
        bool ok = false;
        if ((i + p) % 3 == 0) {
          auto g = ctx.send_to_group("g", std::move(m));
          ok = g && g->delivered == 1;
        } else {
          ok = ctx.send("box", std::move(m)).has_value();
        }
        if (ok) sent_ok.fetch_add(1, std::memory_order_relaxed);
      }
    }));
  }
  auto receiver = std::async(std::launch::async, [&] {
    std::uint64_t n = 0;
    while (!done.load()) {
      if (ctx.receive_for("box", 1ms)) ++n;
    }
    return n;
  });
  for (int round = 1; round <= 40; ++round) {
    ASSERT_TRUE(ctx.cleanup("box"));
    ASSERT_TRUE(ctx.add_module(kinds[static_cast<std::size_t>(round) % kinds.size()]));
    ASSERT_TRUE(ctx.add_module_group("box", "g"));
  }
  for (auto& f : producers) get_bounded(f);
  done = true;
  const std::uint64_t received = get_bounded(receiver);
  auto st = ctx.stats("box");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->accepted, sent_ok.load());
  EXPECT_EQ(st->received, received);
  EXPECT_EQ(st->accepted,
            st->received + st->coalesced + st->dropped_oldest + st->dropped_on_close + st->queued);
}

}  // namespace
}  // namespace beehive
