// SPDX-License-Identifier: Apache-2.0
// The ring queue's control calls: close, retire, reopen, statistics, flow control. The message
// path (push, pop, sleeping and waking) is in ring_queue.cpp, with the design.
#include <thread>
#include <utility>

#include "channel/ring_queue.hpp"

namespace beehive::detail {

// Moves every message of the ring out, oldest first, waiting for pushes admitted but not yet
// published (the closed bit keeps new ones out). The caller holds mu_.
void ring_queue::take_all_locked(std::vector<message>& out, std::uint64_t& counter) {
  if (slots_.load(std::memory_order_acquire) == nullptr) return;
  for (;;) {
    std::uint64_t pos = 0;
    if (slot* s = claim(pos)) {
      out.push_back(std::move(s->msg));
      release(s, pos);
      ++counter;
      continue;
    }
    const std::uint64_t t = tail_.load(std::memory_order_seq_cst) & ~flag_bits;
    if (head_.load(std::memory_order_seq_cst) >= t) return;
    std::this_thread::yield();
  }
}

std::function<void()> ring_queue::shut_locked() {
  closed_ = true;
  closed_flag_.store(true, std::memory_order_release);
  tail_.fetch_or(closed_bit, std::memory_order_seq_cst);
  return std::exchange(writable_, nullptr);
}

void ring_queue::wake_shut(const std::function<void()>& fire) {
  not_full_.notify_all();
  not_empty_.notify_all();
  if (fire) fire();
}

void ring_queue::close(std::vector<message>& dropped, bool drop_all) {
  std::function<void()> fire;
  {
    std::lock_guard lk(mu_);
    const bool was_closed = closed_;
    fire = shut_locked();
    if ((!was_closed && opts_.close == close_mode::drop) || drop_all) {
      take_all_locked(dropped, dropped_close_ring_);
      dropped_close_parked_ += parked_.size();
      while (!parked_.empty()) dropped.push_back(parked_.pop_front());
    }
    update_flags_locked();
  }
  wake_shut(fire);
}

void ring_queue::retire(std::vector<message>& out) {
  std::function<void()> fire;
  {
    std::lock_guard lk(mu_);
    fire = shut_locked();
    take_all_locked(out, uncounted_out_);
    while (!parked_.empty()) out.push_back(parked_.pop_front());  // accepted, not received
    update_flags_locked();
  }
  wake_shut(fire);
}

void ring_queue::reopen(const inbox_options& options, std::vector<message>& more) {
  {
    std::lock_guard lk(mu_);
    opts_ = options;
    ensure_slots_locked();
    for (auto& m : more) {
      if (parked_.empty() && admit(m, true) == 1) {
        ++uncounted_in_;
      } else {
        parked_.push_back(std::move(m));  // uncounted, past the parking bound if need be
      }
    }
    closed_ = false;
    closed_flag_.store(false, std::memory_order_release);
    tail_.fetch_and(~closed_bit, std::memory_order_seq_cst);
    update_flags_locked();
  }
  not_empty_.notify_all();
}

// accepted = tail - refilled - uncounted_in + parked_accepted: every admission through the
// tail, except parked copies moving in (counted when parked) and messages migrated in.
// received = head - uncounted_out - dropped_close_ring. queued = tail - head + parked.
void ring_queue::add_stats(inbox_stats& st) const {
  std::lock_guard lk(mu_);
  const std::uint64_t h = head_.load(std::memory_order_seq_cst);  // first: h <= t
  const std::uint64_t t = tail_.load(std::memory_order_seq_cst) & ~flag_bits;
  st.queued += static_cast<std::size_t>(t - h) + parked_.size();
  st.accepted += t - refilled_ - uncounted_in_ + parked_accepted_;
  st.received += h - uncounted_out_ - dropped_close_ring_;
  st.rejected_full += rejected_full_;
  st.rejected_cancelled += rejected_cancelled_;
  st.dropped_on_close += dropped_close_ring_ + dropped_close_parked_;
}

std::size_t ring_queue::waiting_senders() const {
  std::lock_guard lk(mu_);
  return producer_sleepers_;
}

std::size_t ring_queue::waiting_receivers() const {
  std::lock_guard lk(mu_);
  return consumer_sleepers_;
}

bool ring_queue::when_writable(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  if (closed_) return false;
  refill_locked();
  if (parked_.empty() && room_visible()) return false;
  writable_ = std::move(fn);
  update_flags_locked();
  // A slot freed before the consumer saw `attention_` set: there is room after all.
  if (parked_.empty() && room_visible()) {
    writable_ = nullptr;
    update_flags_locked();
    return false;
  }
  return true;
}

std::size_t ring_queue::room() const {
  std::lock_guard lk(mu_);
  if (closed_ || !parked_.empty()) return 0;
  const std::uint64_t h = head_.load(std::memory_order_seq_cst);
  const std::uint64_t used = (tail_.load(std::memory_order_seq_cst) & ~flag_bits) - h;
  return used >= cap_ ? 0 : cap_ - static_cast<std::size_t>(used);
}

void ring_queue::wake_senders() {
  { std::lock_guard lk(mu_); }
  not_full_.notify_all();
}

}  // namespace beehive::detail
