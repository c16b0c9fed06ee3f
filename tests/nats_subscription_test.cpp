// SPDX-License-Identifier: Apache-2.0
// The subscription guard against a real nats-server: nats.c may enter a handler after the
// subscription closed (its delivery thread takes a message, unlocks, then calls), so the guard
// must outlive every owner of ours until nats.c's on-complete callback says delivery is over.
// Without that, a late delivery read freed memory (ASan, NatsFailover in a CI run).
#include "nats/nats_subscription.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nats/nats_connection.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;
using detail::nats_connection;
using detail::nats_subscription;

TEST(NatsSubscription, TheGuardLivesUntilNatsSaysDeliveryIsOver) {
  auto servers = nats_servers::single();
  auto conn = nats_connection::open(nats_test_config(servers.url(0), "sub"), "guard", false, {});
  ASSERT_TRUE(conn);
  std::atomic<int> delivered{0};
  auto sub = nats_subscription::open(**conn, "guard.subject", {}, [&](natsMsg* m, bool) {
    natsMsg_Destroy(m);
    delivered.fetch_add(1);
  });
  ASSERT_TRUE(sub);
  std::weak_ptr<nats_subscription> weak = *sub;
  ASSERT_TRUE((*conn)->publish("guard.subject", "one"));
  ASSERT_TRUE(eventually([&] { return delivered.load() == 1; }));
  // Our last reference goes while nats.c's delivery thread still runs: the guard stays.
  sub->reset();
  EXPECT_FALSE(weak.expired());
  // Closing the connection closes the subscription; nats.c then ends its delivery and the
  // on-complete callback lets the guard go.
  (*conn)->close();
  EXPECT_TRUE(eventually([&] { return weak.expired(); }));
}

TEST(NatsSubscription, AClosedGuardIgnoresLateMessagesAndIsFreedAfterwards) {
  auto servers = nats_servers::single();
  auto conn = nats_connection::open(nats_test_config(servers.url(0), "sub"), "guard", false, {});
  ASSERT_TRUE(conn);
  std::atomic<int> delivered{0};
  std::weak_ptr<nats_subscription> weak;
  {
    auto sub = nats_subscription::open(**conn, "late.subject", {}, [&](natsMsg* m, bool) {
      natsMsg_Destroy(m);
      delivered.fetch_add(1);
    });
    ASSERT_TRUE(sub);
    weak = *sub;
    for (int i = 0; i < 200; ++i) ASSERT_TRUE((*conn)->publish("late.subject", "x"));
    ASSERT_TRUE((*conn)->flush(5s));
    (*sub)->close();  // no handler runs after this returns; messages still queued are dropped
  }
  const int seen = delivered.load();
  EXPECT_LE(seen, 200);
  EXPECT_TRUE(eventually([&] { return weak.expired(); }));  // unsubscribed: delivery ends
  EXPECT_EQ(delivered.load(), seen);
}

// The handler's `more` says whether nats.c holds messages behind the one it gets (the dispatch
// relays a batch when it is false). nats.c is asked only when what it said was queued is used
// up: with 9 queued behind a blocked handler, the next 8 are told `more` without asking and
// the 9th asks again and hears nothing is left. Twice, so that the count starts over.
TEST(NatsSubscription, TheHandlerHearsWhetherMoreIsQueuedBehindEachMessage) {
  auto servers = nats_servers::single();
  auto conn = nats_connection::open(nats_test_config(servers.url(0), "sub"), "more", false, {});
  ASSERT_TRUE(conn);
  std::mutex mu;
  std::condition_variable cv;
  bool hold = true;
  bool entered = false;
  std::vector<bool> more_seen;
  auto sub = nats_subscription::open(**conn, "more.subject", {}, [&](natsMsg* m, bool more) {
    const bool first = natsMsg_GetData(m) == std::string_view("first");
    natsMsg_Destroy(m);
    std::unique_lock lk(mu);
    more_seen.push_back(more);
    if (!first) return;
    entered = true;
    cv.notify_all();
    cv.wait_for(lk, watchdog, [&] { return !hold; });
  });
  ASSERT_TRUE(sub);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    {
      std::lock_guard lk(mu);
      hold = true;
      entered = false;
      more_seen.clear();
    }
    ASSERT_TRUE((*conn)->publish("more.subject", "first"));
    {
      std::unique_lock lk(mu);
      ASSERT_TRUE(cv.wait_for(lk, watchdog, [&] { return entered; }));
    }
    for (int i = 0; i < 9; ++i) ASSERT_TRUE((*conn)->publish("more.subject", "next"));
    // The server sends the 9 before the flush's answer, and nats.c's reader queues them
    // before it reads that answer: all 9 wait behind the held handler now.
    ASSERT_TRUE((*conn)->flush(5s));
    {
      std::lock_guard lk(mu);
      hold = false;
    }
    cv.notify_all();
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lk(mu);
      return more_seen.size() == 10;
    }));
    std::lock_guard lk(mu);
    // The first was handed over before the others were published.
    const std::vector<bool> expected = {false, true, true, true, true,
                                        true,  true, true, true, false};
    EXPECT_EQ(more_seen, expected);
  }
  (*sub)->close();
}

}  // namespace
}  // namespace beehive::test
