// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: waits with a bound. Every wait of a test is bounded by `watchdog`, so that a bug
// fails the test instead of hanging it; and no test sleeps to wait for something: it waits for a
// future (`get_bounded`) or polls a condition (`eventually`).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>

namespace beehive::test {

/// Bound of every wait in the tests: far above what a passing wait takes, even with sanitizers
/// on a loaded machine.
inline constexpr std::chrono::seconds watchdog{20};

/// The value of `f` once it is ready. If it is not ready within `watchdog`, fails the test and
/// aborts the test binary (ctest reports it) rather than hang: the thread that owes the value
/// may still use the test's locals.
template <class T>
T get_bounded(std::future<T>& f) {
  if (f.wait_for(watchdog) != std::future_status::ready) {
    std::fputs("watchdog expired: timed out waiting for a future\n", stderr);
    ADD_FAILURE() << "watchdog expired";
    std::abort();
  }
  return f.get();
}

/// Polls `pred`, yielding (never sleeping) between two polls, until it holds; false if
/// `watchdog` expires first.
template <class Pred>
bool eventually(Pred pred) {
  const auto until = std::chrono::steady_clock::now() + watchdog;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace beehive::test
