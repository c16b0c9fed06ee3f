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
#include "core/context_state.hpp"

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
  auto ep = detail::context_state_of(ctx).reg.find(module);
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

// ---- receive with a stop token -----------------------------------------------------------

TEST(ContextWait, ReceiveEndsWithCancelledOnAStopRequest) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("m")));
  std::stop_source stop;
  auto got = std::async(std::launch::async, [&] { return ctx.receive("m", stop.get_token()); });
  // Asked to stop once the receiver sleeps (a stop requested earlier is the next test's case).
  ASSERT_TRUE(eventually([&] {
    return sleeping_receivers(ctx, "m") > 0 || got.wait_for(0s) == std::future_status::ready;
  }));
  stop.request_stop();
  auto r = get_bounded(got);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::cancelled);
  // The inbox is untouched: a later receive gets what comes next.
  ASSERT_TRUE(ctx.send("m", new_message().fill_body("next")));
  auto next = ctx.receive("m", std::stop_source().get_token());
  ASSERT_TRUE(next);
  EXPECT_EQ(next->content_data().value_or(""), "next");
}

TEST(ContextWait, AfterAStopQueuedMessagesComeFirstThenCancelled) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("m")));
  ASSERT_TRUE(ctx.send("m", new_message().fill_body("1")));
  ASSERT_TRUE(ctx.send("m", new_message().fill_body("2")));
  std::stop_source stop;
  stop.request_stop();
  auto a = ctx.receive("m", stop.get_token());
  auto b = ctx.receive_for("m", watchdog, stop.get_token());
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->content_data().value_or(""), "1");
  EXPECT_EQ(b->content_data().value_or(""), "2");
  // Nothing left: at once, without waiting for the timeout.
  EXPECT_EQ(ctx.receive("m", stop.get_token()).error(), errc::cancelled);
  EXPECT_EQ(ctx.receive_for("m", duration::max(), stop.get_token()).error(), errc::cancelled);
  EXPECT_EQ(ctx.stats("m")->received, 2U);
}

TEST(ContextWait, ReceiveWithAStopTokenGetsAMessageThatComesLater) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("m")));
  std::stop_source stop;
  auto got = std::async(std::launch::async, [&] { return ctx.receive("m", stop.get_token()); });
  ASSERT_TRUE(eventually([&] {
    return sleeping_receivers(ctx, "m") > 0 || got.wait_for(0s) == std::future_status::ready;
  }));
  ASSERT_TRUE(ctx.send("m", new_message().fill_body("late")));
  auto r = get_bounded(got);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->content_data().value_or(""), "late");
}

TEST(ContextWait, ReceiveWithTheContextsTokenEndsOnCancel) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("m")));
  auto got = std::async(std::launch::async, [&] { return ctx.receive("m", ctx.stop_token()); });
  ASSERT_TRUE(eventually([&] {
    return sleeping_receivers(ctx, "m") > 0 || got.wait_for(0s) == std::future_status::ready;
  }));
  ctx.cancel();
  EXPECT_EQ(get_bounded(got).error(), errc::cancelled);
}

TEST(ContextWait, ReceiveForWithAStopTokenTimesOutWhenNothingComes) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("m")));
  std::stop_source stop;
  EXPECT_EQ(ctx.receive_for("m", 1ms, stop.get_token()).error(), errc::timed_out);
  EXPECT_EQ(ctx.receive_for("m", 0s, stop.get_token()).error(), errc::timed_out);
  EXPECT_EQ(ctx.receive_for("m", -1s, stop.get_token()).error(), errc::timed_out);
}

TEST(ContextWait, ReceiveWithATokenNobodyCanStopIsAPlainReceive) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("m")));
  const std::stop_token never;
  ASSERT_FALSE(never.stop_possible());
  EXPECT_EQ(ctx.receive_for("m", 1ms, never).error(), errc::timed_out);
  auto got = std::async(std::launch::async, [&] { return ctx.receive("m", never); });
  ASSERT_TRUE(eventually([&] {
    return sleeping_receivers(ctx, "m") > 0 || got.wait_for(0s) == std::future_status::ready;
  }));
  ASSERT_TRUE(ctx.send("m", new_message()));
  EXPECT_TRUE(get_bounded(got));
}

TEST(ContextWait, ReceiveWithAStopTokenReportsTheOtherEndsAsReceiveDoes) {
  context ctx;
  std::stop_source stop;
  EXPECT_EQ(ctx.receive("nobody", stop.get_token()).error(), errc::module_not_found);
  EXPECT_EQ(ctx.receive_for("nobody", 1s, stop.get_token()).error(), errc::module_not_found);
  ASSERT_TRUE(ctx.add_module(mod("m")));
  auto got = std::async(std::launch::async, [&] { return ctx.receive("m", stop.get_token()); });
  ASSERT_TRUE(eventually([&] {
    return sleeping_receivers(ctx, "m") > 0 || got.wait_for(0s) == std::future_status::ready;
  }));
  ASSERT_TRUE(ctx.cleanup("m"));
  EXPECT_EQ(get_bounded(got).error(), errc::channel_closed);
  EXPECT_EQ(ctx.receive_for("m", 1s, stop.get_token()).error(), errc::channel_closed);
}

}  // namespace
}  // namespace beehive
