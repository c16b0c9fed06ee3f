// SPDX-License-Identifier: Apache-2.0
// Per recorded call: a shared lock and one map lookup (an exclusive lock and one allocation the
// first time a module is seen), then three relaxed atomic increments.
#include "core/sync_latency.hpp"

#include <algorithm>
#include <mutex>

namespace beehive::detail {

void sync_latency::record(std::string_view module, std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(sync_latency_bounds.begin(), sync_latency_bounds.end(), seconds) -
      sync_latency_bounds.begin());
  const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(elapsed.count(), 0));
  cells* c = nullptr;
  {
    std::shared_lock lock(mu_);
    if (auto it = by_module_.find(module); it != by_module_.end()) c = it->second.get();
  }
  if (c == nullptr) {
    std::unique_lock lock(mu_);
    auto& slot = by_module_[std::string(module)];
    if (!slot) slot = std::make_unique<cells>();
    c = slot.get();
  }
  // Cells are never removed: the pointer stays valid after the lock.
  c->buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  c->sum_ns.fetch_add(ns, std::memory_order_relaxed);
  c->count.fetch_add(1, std::memory_order_relaxed);
}

std::map<std::string, latency_histogram> sync_latency::snapshot() const {
  std::map<std::string, latency_histogram> out;
  std::shared_lock lock(mu_);
  for (const auto& [name, c] : by_module_) {
    auto& h = out[name];
    // Count read last: a reader may see a bucket ahead of the count, never behind it, and the
    // count is then taken as the sum of the buckets, so that the histogram stays consistent.
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < h.buckets.size(); ++i) {
      h.buckets[i] = c->buckets[i].load(std::memory_order_relaxed);
      total += h.buckets[i];
    }
    h.count = total;
    h.sum_seconds = static_cast<double>(c->sum_ns.load(std::memory_order_relaxed)) / 1e9;
  }
  return out;
}

}  // namespace beehive::detail
