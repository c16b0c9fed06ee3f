// SPDX-License-Identifier: Apache-2.0
// The waits of the public calls: "for ever" (duration::max()) waits, and a receive ends on a
// stop request.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <stop_token>
#include <thread>

#include "beehive/context.hpp"
#include "bounded_wait.hpp"
#include "channel/inbox.hpp"
#include "channel_module.hpp"
#include "core/context_impl.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::get_bounded;
using test::mod;
using test::watchdog;

// How long a responder holds its answer back, so that a caller that did not wait (a deadline
// overflowed into the past) has returned long before. Not a wait for anything: the tests
// assert only that the caller got the answer, which holds however late it comes.
constexpr auto answer_delay = 20ms;

// Threads asleep in the inbox of `module`, waiting for a message.
std::size_t sleeping_receivers(context& ctx, std::string_view module) {
  auto ep = context_impl(ctx).reg.find(module);
  return ep && ep->local() ? ep->local()->waiting_receivers() : 0;
}

TEST(ContextWait, ReceiveForWithoutBoundWaitsForAMessage) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("m")));
  auto got = std::async(std::launch::async, [&] { return ctx.receive_for("m", duration::max()); });
  // The message is sent once the receiver sleeps (or has returned early: the bug).
  ASSERT_TRUE(eventually([&] {
    return sleeping_receivers(ctx, "m") > 0 || got.wait_for(0s) == std::future_status::ready;
  }));
  ASSERT_TRUE(ctx.send("m", new_message().fill_body("late")));
  auto r = get_bounded(got);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->content_data().value_or(""), "late");
}

// Answers the first request that reaches `module`, `answer_delay` after it came.
std::future<void> answer_later(context& ctx, std::string module) {
  return std::async(std::launch::async, [&ctx, module = std::move(module)] {
    auto req = ctx.receive_for(module, watchdog);
    ASSERT_TRUE(req);
    std::this_thread::sleep_for(answer_delay);
    auto resp = new_resp_by_message(*req, "late");
    resp.route.source = module;
    EXPECT_TRUE(ctx.send_resp(std::move(resp)));
  });
}

TEST(ContextWait, SendSyncWithoutBoundWaitsForTheReply) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("echo")));
  auto echo = answer_later(ctx, "echo");
  auto reply = std::async(std::launch::async,
                          [&] { return ctx.send_sync("echo", new_message(), duration::max()); });
  auto r = get_bounded(reply);
  get_bounded(echo);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->content_data().value_or(""), "late");
  EXPECT_EQ(ctx.orphan_responses(), 0U);
}

TEST(ContextWait, SendToGroupSyncWithoutBoundWaitsForTheReplies) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("a")));
  ASSERT_TRUE(ctx.add_module_group("a", "g"));
  auto a = answer_later(ctx, "a");
  auto replies = std::async(std::launch::async, [&] {
    return ctx.send_to_group_sync("g", new_message(), duration::max());
  });
  auto r = get_bounded(replies);
  get_bounded(a);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->replies.size(), 1U);
  EXPECT_TRUE(r->missing.empty());
  EXPECT_EQ(ctx.orphan_responses(), 0U);
}

}  // namespace
}  // namespace beehive
