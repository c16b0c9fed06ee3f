// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_batcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>

#include "bounded_wait.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;

// Counts its flushes.
struct counting final : nats_batched {
  std::atomic<int> flushes{0};
  std::function<void()> on_flush;
  void flush_batch() override {
    if (on_flush) on_flush();
    flushes.fetch_add(1);
  }
  bool wait_for(int n) {
    return test::eventually([&] { return flushes.load() >= n; });
  }
  int count() const { return flushes.load(); }
};

TEST(NatsBatcher, NotStartedItRefusesSoTheCallerFlushesItself) {
  nats_batcher b(100us);
  auto c = std::make_shared<counting>();
  EXPECT_FALSE(b.schedule(c));
  EXPECT_EQ(c->count(), 0);
}

TEST(NatsBatcher, AScheduledEndpointIsFlushedAtOnceWhenIdleAndAgainLater) {
  nats_batcher b(100us);
  b.start();
  auto c = std::make_shared<counting>();
  ASSERT_TRUE(b.schedule(c));
  ASSERT_TRUE(c->wait_for(1));
  ASSERT_TRUE(b.schedule(c));  // during or after the linger: flushed in the next round
  ASSERT_TRUE(c->wait_for(2));
  b.stop();
}

TEST(NatsBatcher, StopFlushesWhatIsScheduledThenRefuses) {
  nats_batcher b(std::chrono::microseconds(200'000));  // a long linger: the stop cuts it
  b.start();
  auto first = std::make_shared<counting>();
  ASSERT_TRUE(b.schedule(first));
  ASSERT_TRUE(first->wait_for(1));  // the thread now lingers 200 ms
  auto c = std::make_shared<counting>();
  ASSERT_TRUE(b.schedule(c));
  const auto t0 = std::chrono::steady_clock::now();
  b.stop();
  EXPECT_EQ(c->count(), 1) << "scheduled before the stop: flushed by it";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "the stop does not wait out the linger";
  EXPECT_FALSE(b.schedule(c));
  b.stop();  // idempotent
}

TEST(NatsBatcher, AFlushMaySchedule) {
  // A flush that schedules again (a destructor or a callback that sends) does not deadlock.
  nats_batcher b(100us);
  b.start();
  auto c = std::make_shared<counting>();
  std::atomic<int> again{3};
  c->on_flush = [&] {
    if (again.fetch_sub(1) > 0) {
      EXPECT_TRUE(b.schedule(c));
    }
  };
  ASSERT_TRUE(b.schedule(c));
  ASSERT_TRUE(c->wait_for(4));
  c->on_flush = nullptr;
  b.stop();
}

TEST(NatsBatcher, TheLastReferenceToAnEndpointMayGoOnTheBatchersThreadAndStopIt) {
  // The endpoint's destructor runs on the batcher's thread (its queue held the last
  // reference) and stops the batcher that runs it: no self-join, no crash.
  auto b = std::make_shared<nats_batcher>(100us);
  b->start();
  std::promise<void> destroyed;
  struct stopper final : nats_batched {
    std::shared_ptr<nats_batcher> owner;
    std::promise<void>* done = nullptr;
    void flush_batch() override {}
    ~stopper() {
      owner->stop();
      done->set_value();
    }
  };
  auto s = std::make_shared<stopper>();
  s->owner = b;
  s->done = &destroyed;
  ASSERT_TRUE(b->schedule(std::move(s)));
  ASSERT_EQ(destroyed.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(b->schedule(std::make_shared<counting>()));
}

}  // namespace
}  // namespace beehive::detail
