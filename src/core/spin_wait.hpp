// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>

namespace beehive::detail {

/// One CPU relax hint for a spin loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// How long a waiter spins before it blocks.
///
/// Why spin at all: waking a thread that sleeps on another CPU costs tens of microseconds,
/// far more than a message round trip between two running threads. A waiter that expects an
/// answer soon polls for a short, bounded time first; past that it blocks, so an idle process
/// does not burn CPU.
inline constexpr std::chrono::microseconds spin_budget{40};

/// Spins until `ready()` is true, the spin budget is spent or `deadline` passes; returns the
/// last `ready()`. Yields the CPU now and then so that a spinning thread does not starve the
/// one it waits for when threads outnumber cores.
template <class Ready>
bool spin_until(Ready&& ready, std::chrono::steady_clock::time_point deadline =
                                   std::chrono::steady_clock::time_point::max()) {
  using clock = std::chrono::steady_clock;
  if (ready()) return true;
  const auto until = std::min(clock::now() + spin_budget, deadline);
  for (std::uint32_t i = 1;; ++i) {
    if (ready()) return true;
    if ((i & 7U) == 0) {
      if (clock::now() >= until) return ready();
      // The awaited thread may be waiting for this very CPU (more threads than cores, or a
      // busy machine): offer it. Measured: without this, round trips on a loaded machine
      // take several times longer.
      std::this_thread::yield();
    } else {
      cpu_relax();
    }
  }
}

}  // namespace beehive::detail
