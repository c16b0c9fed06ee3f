// SPDX-License-Identifier: Apache-2.0
#include "core/reply_table.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bounded_wait.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::watchdog;

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

// A remote requester's connection: records what is pushed back to it.
class recording_endpoint final : public endpoint {
 public:
  recording_endpoint() : endpoint("peer") {}
  expected<void> push(message&& msg, delivery how) override {
    std::lock_guard lock(mu);
    pushed.push_back(std::move(msg));
    kinds.push_back(how);
    return {};
  }
  void close(std::vector<message>& /*dropped*/) override {}
  void discard(std::vector<message>& /*dropped*/) override {}
  std::mutex mu;
  std::vector<message> pushed;
  std::vector<delivery> kinds;
};

TEST(ReplyTable, ReplyBeforeWaitIsKept) {
  reply_table table;
  reply_table::waiter wait(table, 1);
  ASSERT_TRUE(wait.expect("req-1", 0, nullptr));
  EXPECT_TRUE(table.waiting("req-1"));
  ASSERT_TRUE(table.deliver(reply_to("req-1", "dst", "early")));
  wait.wait_until(in(watchdog));
  auto r = wait.take(0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header.parent_id, "req-1");
  EXPECT_EQ(*r->content.if_string(), "early");
  EXPECT_EQ(table.orphans(), 0U);
}

TEST(ReplyTable, WaitTimesOut) {
  reply_table table;
  reply_table::waiter wait(table, 1);
  ASSERT_TRUE(wait.expect("req-1", 0, nullptr));
  wait.wait_until(in(2ms));
  EXPECT_EQ(wait.take(0).error(), errc::timed_out);
}

TEST(ReplyTable, ReplyAfterTheWaiterGaveUpIsAnOrphanEvenBeforeItsWithdrawal) {
  reply_table table;
  reply_table::waiter wait(table, 1);
  ASSERT_TRUE(wait.expect("req-1", 0, nullptr));
  wait.wait_until(in(1ms));  // decided: timed out; the id is still registered
  auto r = table.deliver(reply_to("req-1", "dst"));
  ASSERT_FALSE(r);  // never "ok" for a reply the caller will not see
  EXPECT_EQ(r.error(), errc::orphan_response);
  EXPECT_EQ(table.orphans(), 1U);
  EXPECT_EQ(wait.take(0).error(), errc::timed_out);
}

TEST(ReplyTable, ReplyWithNobodyWaitingIsAnOrphanAndCounted) {
  reply_table table;
  auto r = table.deliver(reply_to("nobody"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::orphan_response);
  EXPECT_EQ(table.orphans(), 1U);
  {
    reply_table::waiter wait(table, 1);
    ASSERT_TRUE(wait.expect("req-1", 0, nullptr));
  }
  // The wait is gone with its waiter.
  EXPECT_FALSE(table.waiting("req-1"));
  EXPECT_EQ(table.deliver(reply_to("req-1")).error(), errc::orphan_response);
  EXPECT_EQ(table.orphans(), 2U);
}

TEST(ReplyTable, SecondReplyToOneRequestIsAnOrphan) {
  reply_table table;
  reply_table::waiter wait(table, 1);
  ASSERT_TRUE(wait.expect("req-1", 0, nullptr));
  ASSERT_TRUE(table.deliver(reply_to("req-1", "a", "first")));
  EXPECT_FALSE(table.waiting("req-1"));
  EXPECT_EQ(table.deliver(reply_to("req-1", "a", "second")).error(), errc::orphan_response);
  wait.wait_until(in(watchdog));
  EXPECT_EQ(*wait.take(0)->content.if_string(), "first");
  EXPECT_EQ(table.orphans(), 1U);
}

TEST(ReplyTable, SleepingWaiterWakesOnReply) {
  reply_table table;
  reply_table::waiter wait(table, 1);
  ASSERT_TRUE(wait.expect("req-1", 0, nullptr));
  auto waiter = std::async(std::launch::async, [&] {
    wait.wait_until(in(watchdog));
    return wait.take(0);
  });
  // No sleep: the reply may come before or after the waiter parks; both must work.
  ASSERT_TRUE(table.deliver(reply_to("req-1", "dst")));
  ASSERT_EQ(waiter.wait_for(watchdog), std::future_status::ready);
  auto r = waiter.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->route.source, "dst");
}

TEST(ReplyTable, GroupWaitAttributesByRequestIdAndListsMissing) {
  reply_table table;
  reply_table::waiter wait(table, 3);
  ASSERT_TRUE(wait.expect("req-a", 0, nullptr));
  ASSERT_TRUE(wait.expect("req-b", 1, nullptr));
  ASSERT_TRUE(wait.expect("req-c", 2, nullptr));
  // Sources say nothing (Go copies the requester's source into every reply).
  ASSERT_TRUE(table.deliver(reply_to("req-c", "requester")));
  ASSERT_TRUE(table.deliver(reply_to("req-a", "requester")));
  wait.wait_until(in(2ms));
  ASSERT_EQ(wait.arrival_order(), (std::vector<std::size_t>{2, 0}));
  EXPECT_EQ(wait.take(2)->header.parent_id, "req-c");
  EXPECT_EQ(wait.take(0)->header.parent_id, "req-a");
  EXPECT_EQ(wait.take(1).error(), errc::timed_out);  // b: missing
}

TEST(ReplyTable, GroupWaitEndsWhenEveryMemberIsSettled) {
  reply_table table;
  reply_table::waiter wait(table, 2);
  ASSERT_TRUE(wait.expect("req-a", 0, nullptr));
  ASSERT_TRUE(wait.expect("req-b", 1, nullptr));
  wait.settle(1, make_error_code(errc::queue_full));  // b's request could not be delivered
  // Its own deadline lies far beyond the watchdog: a missed wake-up fails the check below
  // every time, when the watchdog expires.
  auto waiter = std::async(std::launch::async, [&] { wait.wait_until(in(2 * watchdog)); });
  ASSERT_TRUE(table.deliver(reply_to("req-a", "a")));
  // Ends at the last member's settlement, without waiting for the deadline.
  ASSERT_EQ(waiter.wait_for(watchdog), std::future_status::ready);
  EXPECT_TRUE(wait.take(0));
  EXPECT_EQ(wait.take(1).error(), errc::queue_full);
}

TEST(ReplyTable, FailSettlesTheWaiterOfADroppedRequest) {
  reply_table table;
  reply_table::waiter wait(table, 1);
  ASSERT_TRUE(wait.expect("req-1", 0, nullptr));
  message request;
  request.header.id = "req-1";
  request.header.sync = true;
  table.fail(request, make_error_code(errc::channel_closed));
  wait.wait_until(in(watchdog));
  EXPECT_EQ(wait.take(0).error(), errc::channel_closed);
}

TEST(ReplyTable, FailTargetSettlesEveryRequestSentToIt) {
  reply_table table;
  recording_endpoint gone;
  recording_endpoint other;
  reply_table::waiter wait(table, 2);
  ASSERT_TRUE(wait.expect("to-gone", 0, &gone));
  ASSERT_TRUE(wait.expect("to-other", 1, &other));
  table.fail_target(&gone, make_error_code(errc::not_connected));
  EXPECT_FALSE(table.waiting("to-gone"));
  EXPECT_TRUE(table.waiting("to-other"));
  ASSERT_TRUE(table.deliver(reply_to("to-other", "x")));
  wait.wait_until(in(watchdog));
  EXPECT_EQ(wait.take(0).error(), errc::not_connected);
  EXPECT_TRUE(wait.take(1));
}

TEST(ReplyTable, CancelAllWakesWaitersAndRefusesNewOnes) {
  reply_table table;
  reply_table::waiter wait(table, 1);
  ASSERT_TRUE(wait.expect("req-1", 0, nullptr));
  auto waiter = std::async(std::launch::async, [&] {
    wait.wait_until(in(watchdog));
    return wait.take(0);
  });
  table.cancel_all();
  ASSERT_EQ(waiter.wait_for(watchdog), std::future_status::ready);
  EXPECT_EQ(waiter.get().error(), errc::cancelled);
  reply_table::waiter later(table, 1);
  EXPECT_EQ(later.expect("req-2", 0, nullptr).error(), errc::cancelled);
}

TEST(ReplyTable, RemoteRequesterGetsItsReplyBackOverItsConnection) {
  reply_table table;
  auto peer = std::make_shared<recording_endpoint>();
  table.expect_remote("req-1", peer);
  EXPECT_TRUE(table.waiting("req-1"));
  ASSERT_TRUE(table.deliver(reply_to("req-1", "local", "answer")));
  ASSERT_EQ(peer->pushed.size(), 1U);
  EXPECT_EQ(peer->kinds[0], delivery::reply);
  EXPECT_EQ(*peer->pushed[0].content.if_string(), "answer");
  // Answered: a second reply is an orphan.
  EXPECT_EQ(table.deliver(reply_to("req-1")).error(), errc::orphan_response);
}

TEST(ReplyTable, DroppedRemoteRequestAnswersTheRequesterWithAnError) {
  reply_table table;
  auto peer = std::make_shared<recording_endpoint>();
  table.expect_remote("req-1", peer);
  message request;
  request.header.id = "req-1";
  request.header.sync = true;
  table.fail(request, make_error_code(errc::channel_closed));
  ASSERT_EQ(peer->pushed.size(), 1U);
  EXPECT_EQ(peer->pushed[0].header.parent_id, "req-1");
  EXPECT_EQ(peer->pushed[0].route.operation, response_error_operation);
}

TEST(ReplyTable, ForgottenOriginMakesItsRepliesOrphans) {
  reply_table table;
  auto peer = std::make_shared<recording_endpoint>();
  table.expect_remote("req-1", peer);
  table.forget_origin(peer.get());
  EXPECT_EQ(table.deliver(reply_to("req-1")).error(), errc::orphan_response);
  EXPECT_TRUE(peer->pushed.empty());
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
        reply_table::waiter wait(table, 1);
        if (!wait.expect(id, 0, nullptr)) continue;
        std::thread responder([&] { (void)table.deliver(reply_to(id, "x", id)); });
        wait.wait_until(in(watchdog));
        responder.join();
        auto r = wait.take(0);
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

// Bug 4 of issue 6: a reply racing the caller's timeout is either in the caller's hands or
// counted as an orphan; `deliver` never says ok for a reply the caller will not see.
TEST(ReplyTable, ReplyRacingTheTimeoutIsDeliveredOrAnOrphanNeverBoth) {
  reply_table table;
  constexpr int calls = 20000;
  std::atomic<int> delivered_ok{0};
  int got = 0;
  int timed_out = 0;
  for (int i = 0; i < calls; ++i) {
    const std::string id = "race-" + std::to_string(i);
    reply_table::waiter wait(table, 1);
    ASSERT_TRUE(wait.expect(id, 0, nullptr));
    std::thread responder([&] {
      if (table.deliver(reply_to(id))) delivered_ok.fetch_add(1);
    });
    wait.wait_until(in(std::chrono::nanoseconds(i % 50 * 100)));
    auto r = wait.take(0);
    responder.join();
    (r ? got : timed_out) += 1;
  }
  EXPECT_EQ(delivered_ok.load(), got);
  EXPECT_EQ(table.orphans(), static_cast<std::uint64_t>(timed_out));
}

}  // namespace
}  // namespace beehive::detail
