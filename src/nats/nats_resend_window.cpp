// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_resend_window.hpp"

#include <algorithm>
#include <utility>

namespace beehive::detail {

nats_resend_window::nats_resend_window(std::size_t limit)
    : limit_(std::max<std::size_t>(1, limit)) {}

void nats_resend_window::grow() {
  const std::size_t cap = ring_.empty() ? 64 : ring_.size() * 2;
  std::vector<entry> bigger(cap);
  for (std::size_t i = 0; i < size_; ++i) {
    bigger[i] = std::move(ring_[(head_ + i) & (ring_.size() - 1)]);
  }
  ring_ = std::move(bigger);
  head_ = 0;
}

message nats_resend_window::keep(message&& msg, std::size_t bytes) {
  if (size_ == ring_.size()) grow();
  auto& e = ring_[(head_ + size_) & (ring_.size() - 1)];
  e.seq = next_++;
  e.bytes = bytes;
  bytes_ += bytes;
  ++size_;
  return std::exchange(e.msg, std::move(msg));
}

void nats_resend_window::acknowledge(std::uint64_t seq) {
  // Never past what was sent (a hostile or confused acknowledgement).
  seq = std::min(seq, next_ - 1);
  if (seq <= acked_) return;
  acked_ = seq;
  // The acknowledged messages stay in their slots until `keep` reuses them: handed back there
  // to the sending thread that made them, not freed here (under the sender's lock, on the
  // thread that reads the grants: each ack would free half a window at once while the sender
  // waits, and a content's destructor is user code that may call the library).
  while (size_ != 0 && ring_[head_].seq <= seq) {
    bytes_ -= ring_[head_].bytes;
    head_ = (head_ + 1) & (ring_.size() - 1);
    --size_;
  }
}

std::size_t nats_resend_window::clear(std::vector<message>& out) {
  const std::size_t n = size_;
  for (auto& e : ring_) {
    if (!e.msg.content.is_null()) out.push_back(std::move(e.msg));  // acknowledged ones too
    e.msg = message{};
  }
  head_ = 0;
  size_ = 0;
  bytes_ = 0;
  acked_ = next_ - 1;
  return n;
}

}  // namespace beehive::detail
