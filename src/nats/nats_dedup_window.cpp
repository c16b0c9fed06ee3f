// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_dedup_window.hpp"

#include <algorithm>

namespace beehive::detail {

nats_dedup_window::nats_dedup_window(std::size_t span)
    : bits_((std::max<std::size_t>(span, 1) + 63) / 64, 0),
      span_(static_cast<std::uint64_t>(bits_.size()) * 64) {}

bool nats_dedup_window::test(std::uint64_t seq) const noexcept {
  const std::uint64_t i = seq % span_;
  return ((bits_[i / 64] >> (i % 64)) & 1U) != 0;
}

void nats_dedup_window::set(std::uint64_t seq) noexcept {
  const std::uint64_t i = seq % span_;
  bits_[i / 64] |= std::uint64_t{1} << (i % 64);
}

void nats_dedup_window::reset(std::uint64_t seq) noexcept {
  const std::uint64_t i = seq % span_;
  bits_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
}

bool nats_dedup_window::accept(std::uint64_t stream, std::uint64_t seq) {
  if (stream != stream_) {
    if (stream < stream_) return true;  // an older life of the sender's endpoint: not tracked
    stream_ = stream;
    floor_ = 0;
    highest_ = 0;
    std::fill(bits_.begin(), bits_.end(), 0);
  }
  if (seq <= floor_) return false;
  if (seq > floor_ + span_) {
    // Slide: the numbers passed unseen are given up.
    const std::uint64_t target = seq - span_;
    if (target - floor_ >= span_) {
      // Past the whole bitmap: every number in it is passed.
      std::uint64_t seen = 0;
      for (const auto w : bits_) seen += static_cast<std::uint64_t>(__builtin_popcountll(w));
      skipped_ += (target - floor_) - seen;
      std::fill(bits_.begin(), bits_.end(), 0);
      floor_ = target;
    } else {
      while (floor_ < target) {
        ++floor_;
        if (test(floor_)) {
          reset(floor_);
        } else {
          ++skipped_;
        }
      }
    }
  }
  if (test(seq)) return false;
  set(seq);
  highest_ = std::max(highest_, seq);
  while (test(floor_ + 1)) {
    ++floor_;
    reset(floor_);
  }
  return true;
}

}  // namespace beehive::detail
