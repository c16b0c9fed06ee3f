// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>

namespace beehive::detail {

/// `now + timeout`, saturated: a timeout too long to add (`duration::max()`, "wait for ever")
/// gives `time_point::max()` instead of overflowing into the past; a negative one (or a NaN
/// floating-point one) gives `now`.
///
/// Why one helper: every wait of the library computes its deadline here, so that no call
/// turns "for ever" into "already expired" (`send_sync(…, duration::max())` once returned
/// `timed_out` after 0.05 ms).
template <class Clock, class Rep, class Period>
[[nodiscard]] typename Clock::time_point saturating_deadline(
    typename Clock::time_point now, std::chrono::duration<Rep, Period> timeout) noexcept {
  using tp = typename Clock::time_point;
  // Written as "not positive" so that a NaN, which compares false to everything, counts as 0.
  if (!(timeout > decltype(timeout)::zero())) return now;
  // Compared in the clock's own unit, without converting `timeout` (which may overflow it).
  const auto room = tp::max() - now;
  if (std::chrono::duration_cast<std::chrono::duration<long double>>(timeout) >=
      std::chrono::duration_cast<std::chrono::duration<long double>>(room)) {
    return tp::max();
  }
  return now + std::chrono::duration_cast<typename Clock::duration>(timeout);
}

/// `saturating_deadline` from the clock's `now()`.
template <class Clock = std::chrono::steady_clock, class Rep, class Period>
[[nodiscard]] typename Clock::time_point deadline_after(
    std::chrono::duration<Rep, Period> timeout) noexcept {
  return saturating_deadline<Clock>(Clock::now(), timeout);
}

}  // namespace beehive::detail
