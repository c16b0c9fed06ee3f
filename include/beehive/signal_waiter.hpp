// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <memory>

#include "beehive/errc.hpp"

namespace beehive {

/// Waits for a termination signal (SIGINT, SIGHUP, SIGTERM, SIGQUIT), or for `stop()`.
///
/// The first live waiter installs handlers for the four signals and the last one destroyed
/// restores the handlers found before, so a signal that arrives between construction and `wait`
/// is not lost. While several waiters live, the one constructed last receives the signals; they
/// may be destroyed in any order. `wait`, `wait_for` and `stop` are thread-safe; construction and
/// destruction are serialized across waiters.
///
/// Limits: the handlers are process-wide, so a handler installed for these signals by someone
/// else while a waiter lives takes the signals away from it (and is replaced when the last
/// waiter restores the earlier ones); a signal blocked in every thread is never delivered, so
/// never seen; signals that arrive faster than they are waited for are queued, up to the pipe's
/// capacity (tens of thousands), beyond which the extras are dropped.
///
/// @code
/// beehive::signal_waiter waiter;             // before starting anything that may be signalled
/// std::jthread watchdog([&] { if (fatal_condition()) waiter.stop(); });
/// const int sig = waiter.wait();             // SIGTERM, SIGINT, ... or 0 after stop()
/// @endcode
class signal_waiter {
 public:
  signal_waiter();
  /// Restores the handlers (when it is the last waiter). Must not run while a `wait` or
  /// `wait_for` of this waiter is blocked: call `stop()` and join the waiting thread first.
  ~signal_waiter();
  signal_waiter(const signal_waiter&) = delete;
  signal_waiter& operator=(const signal_waiter&) = delete;

  /// Blocks until one of the signals arrives or `stop()` is called. Returns the signal's number
  /// (each signal wakes one waiting call); 0 once `stop()` was called (from then on at once), or
  /// when the waiter could not be set up (logged).
  int wait();
  /// As `wait`, bounded by `timeout`: the signal's number; `errc::cancelled` once `stop()` was
  /// called or when the waiter could not be set up; `errc::timed_out` when `timeout` passes
  /// first (a timeout <= 0 only takes a signal already pending).
  [[nodiscard]] expected<int> wait_for(std::chrono::nanoseconds timeout);
  /// Wakes every current and later `wait` (which returns 0) and `wait_for` (`cancelled`).
  /// Thread-safe, idempotent, async-signal-safe (it writes to an eventfd), never blocks.
  void stop() noexcept;

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace beehive
