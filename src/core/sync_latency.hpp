// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

namespace beehive::detail {

/// Upper bounds (seconds) of the `send_sync` latency histogram's buckets, as Prometheus's
/// `le` labels; the last bucket (+Inf) is implicit.
inline constexpr std::array<double, 18> sync_latency_bounds = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,    0.025,    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    10.0};

/// A histogram's counts, read at one moment. `buckets[i]` counts calls at most
/// `sync_latency_bounds[i]` long (not cumulative); the last element counts the longer ones.
struct latency_histogram {
  std::array<std::uint64_t, sync_latency_bounds.size() + 1> buckets{};
  std::uint64_t count = 0;
  double sum_seconds = 0;
};

/// `send_sync` latencies per destination module, recorded only while enabled (by the admin
/// API). Thread-safe.
///
/// Why off by default: a disabled recorder costs `send_sync` one relaxed load (`enabled()`),
/// no clock read.
class sync_latency {
 public:
  [[nodiscard]] bool enabled() const noexcept { return enabled_.load(std::memory_order_relaxed); }
  void enable() noexcept { enabled_.store(true, std::memory_order_relaxed); }

  /// Records one call to `module` that took `elapsed`, whatever its outcome.
  void record(std::string_view module, std::chrono::nanoseconds elapsed);
  /// Every module's histogram, by name.
  [[nodiscard]] std::map<std::string, latency_histogram> snapshot() const;

  /// Measures one call from its construction to its destruction when the recorder is enabled.
  class timer {
   public:
    timer(sync_latency& owner, std::string_view module) noexcept
        : owner_(owner.enabled() ? &owner : nullptr), module_(module) {
      if (owner_ != nullptr) start_ = std::chrono::steady_clock::now();
    }
    ~timer() {
      if (owner_ != nullptr) owner_->record(module_, std::chrono::steady_clock::now() - start_);
    }
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;

   private:
    sync_latency* owner_;
    std::string_view module_;
    std::chrono::steady_clock::time_point start_{};
  };

 private:
  struct cells {
    std::array<std::atomic<std::uint64_t>, sync_latency_bounds.size() + 1> buckets{};
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> sum_ns{0};
  };

  std::atomic<bool> enabled_{false};
  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<cells>, std::less<>> by_module_;
};

}  // namespace beehive::detail
