// SPDX-License-Identifier: Apache-2.0
#include "reply_table.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;

constexpr auto watchdog = 20s;

reply_table::clock::time_point in(std::chrono::nanoseconds d) {
  return reply_table::clock::now() + d;
}

message reply_to(const std::string& parent, const std::string& source = {},
                 const std::string& body = {}) {
  message m;
  m.header.id = "r-" + parent + "-" + source;
  m.header.parent_id = parent;
  m.route.source = source;
  m.content = content(body);
  return m;
}

TEST(ReplyTable, ReplyBeforeWaitIsKept) {
  reply_table table;
  auto wait = table.expect("req-1");
  EXPECT_TRUE(table.waiting("req-1"));
  ASSERT_TRUE(table.deliver(reply_to("req-1", "dst", "early")));
  auto r = wait->wait_one(in(watchdog));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.parent_id, "req-1");
  EXPECT_EQ(*r->content.if_string(), "early");
  EXPECT_EQ(table.orphans(), 0U);
}

TEST(ReplyTable, WaitOneTimesOut) {
  reply_table table;
  auto wait = table.expect("req-1");
  auto r = wait->wait_one(in(2ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
}

TEST(ReplyTable, ReplyWithNobodyWaitingIsAnOrphanAndCounted) {
  reply_table table;
  auto r = table.deliver(reply_to("nobody"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::orphan_response);
  EXPECT_EQ(table.orphans(), 1U);
  { auto wait = table.expect("req-1"); }
  // The wait is gone with its handle.
  EXPECT_FALSE(table.waiting("req-1"));
  EXPECT_EQ(table.deliver(reply_to("req-1")).error(), errc::orphan_response);
  EXPECT_EQ(table.orphans(), 2U);
}

TEST(ReplyTable, SecondReplyToOneRequestIsAnOrphan) {
  reply_table table;
  auto wait = table.expect("req-1");
  ASSERT_TRUE(table.deliver(reply_to("req-1", "a", "first")));
  EXPECT_FALSE(table.waiting("req-1"));
  EXPECT_EQ(table.deliver(reply_to("req-1", "a", "second")).error(), errc::orphan_response);
  EXPECT_EQ(*wait->wait_one(in(watchdog))->content.if_string(), "first");
  EXPECT_EQ(table.orphans(), 1U);
}

TEST(ReplyTable, SleepingWaiterWakesOnReply) {
  reply_table table;
  auto wait = table.expect("req-1");
  auto waiter = std::async(std::launch::async, [&] { return wait->wait_one(in(watchdog)); });
  // No sleep: the reply may come before or after the waiter parks; both must work.
  ASSERT_TRUE(table.deliver(reply_to("req-1", "dst")));
  ASSERT_EQ(waiter.wait_for(watchdog), std::future_status::ready);
  auto r = waiter.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->route.source, "dst");
}

TEST(ReplyTable, GroupWaitAttributesBySourceAndListsMissing) {
  reply_table table;
  auto wait = table.expect("req-1", {"a", "b", "c"});
  ASSERT_TRUE(table.deliver(reply_to("req-1", "c")));
  ASSERT_TRUE(table.deliver(reply_to("req-1", "a")));
  std::vector<std::string> missing;
  auto replies = wait->wait_all(in(2ms), missing);
  ASSERT_EQ(replies.size(), 2U);
  EXPECT_EQ(replies[0].route.source, "c");  // arrival order
  EXPECT_EQ(replies[1].route.source, "a");
  EXPECT_EQ(missing, std::vector<std::string>{"b"});
}

TEST(ReplyTable, GroupWaitAttributesByLastReceiverWhenSourceIsNoMember) {
  reply_table table;
  auto wait = table.expect("req-1", {"a", "b"});
  // The replying thread received for "b" last; its reply names some other source.
  std::thread([&] {
    reply_table::note_receiver("b");
    EXPECT_TRUE(table.deliver(reply_to("req-1", "somebody-else")));
  }).join();
  std::vector<std::string> missing;
  auto replies = wait->wait_all(in(2ms), missing);
  EXPECT_EQ(replies.size(), 1U);
  EXPECT_EQ(missing, std::vector<std::string>{"a"});
}

TEST(ReplyTable, GroupWaitEndsWhenEveryMemberAnswered) {
  reply_table table;
  auto wait = table.expect("req-1", {"a", "b"});
  auto waiter = std::async(std::launch::async, [&] {
    std::vector<std::string> missing;
    auto replies = wait->wait_all(in(watchdog), missing);
    return std::make_pair(replies.size(), missing);
  });
  ASSERT_TRUE(table.deliver(reply_to("req-1", "b")));
  ASSERT_TRUE(table.deliver(reply_to("req-1", "a")));
  ASSERT_EQ(waiter.wait_for(watchdog), std::future_status::ready);
  auto [count, missing] = waiter.get();
  EXPECT_EQ(count, 2U);
  EXPECT_TRUE(missing.empty());
  // Everyone answered: a further reply finds nobody waiting.
  EXPECT_EQ(table.deliver(reply_to("req-1", "a")).error(), errc::orphan_response);
}

TEST(ReplyTable, NotExpectingLowersTheCount) {
  reply_table table;
  auto wait = table.expect("req-1", {"a", "b"});
  wait->not_expecting("b");
  ASSERT_TRUE(table.deliver(reply_to("req-1", "a")));
  std::vector<std::string> missing;
  // Complete without waiting for the deadline: the watchdog bound would fail the test by time.
  const auto start = reply_table::clock::now();
  auto replies = wait->wait_all(in(watchdog), missing);
  EXPECT_LT(reply_table::clock::now() - start, watchdog);
  EXPECT_EQ(replies.size(), 1U);
  EXPECT_TRUE(missing.empty());
}

TEST(ReplyTable, ManyConcurrentRequestsEachGetTheirOwnReply) {
  reply_table table;
  constexpr int threads = 4;
  constexpr int per_thread = 300;
  std::vector<std::future<int>> waiters;
  for (int t = 0; t < threads; ++t) {
    waiters.push_back(std::async(std::launch::async, [&table, t] {
      int ok = 0;
      for (int i = 0; i < per_thread; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        auto wait = table.expect(id);
        std::thread responder([&] { (void)table.deliver(reply_to(id, "x", id)); });
        auto r = wait->wait_one(in(watchdog));
        responder.join();
        if (r && *r->content.if_string() == id) ++ok;
      }
      return ok;
    }));
  }
  for (auto& w : waiters) {
    ASSERT_EQ(w.wait_for(watchdog), std::future_status::ready);
    EXPECT_EQ(w.get(), per_thread);
  }
  EXPECT_EQ(table.orphans(), 0U);
}

}  // namespace
}  // namespace beehive::detail
