// SPDX-License-Identifier: Apache-2.0
// The subscription guard against a real nats-server: nats.c may enter a handler after the
// subscription closed (its delivery thread takes a message, unlocks, then calls), so the guard
// must outlive every owner of ours until nats.c's on-complete callback says delivery is over.
// Without that, a late delivery read freed memory (ASan, NatsFailover in a CI run).
#include "nats/nats_subscription.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

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

}  // namespace
}  // namespace beehive::test
