// SPDX-License-Identifier: Apache-2.0
#include "beehive/signal_waiter.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <future>
#include <thread>

#include "bounded_wait.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::get_bounded;
using test::watchdog;

void (*handler_of(int sig))(int) {
  struct sigaction sa {};
  EXPECT_EQ(::sigaction(sig, nullptr, &sa), 0);
  return sa.sa_handler;
}

TEST(SignalWaiter, StopWakesAWaitingThread) {
  signal_waiter w;
  std::promise<void> waiting;
  auto waiting_f = waiting.get_future();
  auto result = std::async(std::launch::async, [&] {
    waiting.set_value();
    return w.wait();
  });
  get_bounded(waiting_f);
  w.stop();
  EXPECT_EQ(get_bounded(result), 0);
}

TEST(SignalWaiter, StopWakesEveryWaitAndStaysSet) {
  signal_waiter w;
  auto a = std::async(std::launch::async, [&] { return w.wait(); });
  auto b = std::async(std::launch::async, [&] { return w.wait_for(1h); });
  w.stop();
  w.stop();  // idempotent
  EXPECT_EQ(get_bounded(a), 0);
  const auto rb = get_bounded(b);
  ASSERT_FALSE(rb);
  EXPECT_EQ(rb.error(), errc::cancelled);
  EXPECT_EQ(w.wait(), 0);  // later waits return at once
}

TEST(SignalWaiter, WaitForWithoutBoundWaitsForTheStop) {
  signal_waiter w;
  // duration::max() means "for ever": the wait ends by the stop, not by an overflowed deadline.
  auto r =
      std::async(std::launch::async, [&] { return w.wait_for(std::chrono::nanoseconds::max()); });
  w.stop();
  EXPECT_EQ(get_bounded(r).error(), errc::cancelled);
}

TEST(SignalWaiter, SigtermSentToTheProcessWakesWaitWithSigterm) {
  signal_waiter w;
  auto result = std::async(std::launch::async, [&] { return w.wait(); });
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  EXPECT_EQ(get_bounded(result), SIGTERM);
}

TEST(SignalWaiter, ReturnsEachSignalOnceInOrder) {
  signal_waiter w;
  ASSERT_EQ(std::raise(SIGHUP), 0);
  ASSERT_EQ(std::raise(SIGQUIT), 0);
  ASSERT_EQ(std::raise(SIGINT), 0);
  EXPECT_EQ(w.wait(), SIGHUP);
  EXPECT_EQ(w.wait_for(0s), SIGQUIT);
  EXPECT_EQ(w.wait_for(watchdog), SIGINT);
  const auto none = w.wait_for(0s);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), errc::timed_out);
}

TEST(SignalWaiter, WaitForTimesOutWithoutASignal) {
  signal_waiter w;
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = w.wait_for(20ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);  // never ends before its bound
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  const auto negative = w.wait_for(-1s);
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error(), errc::timed_out);
}

TEST(SignalWaiter, InstallsHandlersAndRestoresThemAfterDestruction) {
  const auto before_hup = handler_of(SIGHUP);
  const auto before_term = handler_of(SIGTERM);
  {
    signal_waiter w;
    EXPECT_NE(handler_of(SIGHUP), before_hup);
    EXPECT_NE(handler_of(SIGTERM), before_term);
    ASSERT_EQ(std::raise(SIGHUP), 0);
    EXPECT_EQ(w.wait(), SIGHUP);
  }
  EXPECT_EQ(handler_of(SIGHUP), before_hup);
  EXPECT_EQ(handler_of(SIGTERM), before_term);
}

TEST(SignalWaiter, NewestWaiterGetsTheSignalAndAnyDestructionOrderWorks) {
  const auto before = handler_of(SIGHUP);
  auto outer = std::make_unique<signal_waiter>();
  auto inner = std::make_unique<signal_waiter>();
  ASSERT_EQ(std::raise(SIGHUP), 0);
  EXPECT_EQ(inner->wait_for(0s), SIGHUP);
  EXPECT_EQ(outer->wait_for(0s).error(), errc::timed_out);
  // Destroyed out of order: the inner waiter still gets the signals, then nobody needs them.
  outer.reset();
  EXPECT_NE(handler_of(SIGHUP), before);
  ASSERT_EQ(std::raise(SIGHUP), 0);
  EXPECT_EQ(inner->wait_for(0s), SIGHUP);
  inner.reset();
  EXPECT_EQ(handler_of(SIGHUP), before);
}

TEST(SignalWaiter, SignalGoesToTheOlderWaiterOnceTheNewerIsGone) {
  signal_waiter outer;
  { signal_waiter inner; }
  ASSERT_EQ(std::raise(SIGQUIT), 0);
  EXPECT_EQ(outer.wait_for(0s), SIGQUIT);
}

}  // namespace
}  // namespace beehive
