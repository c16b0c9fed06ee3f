// SPDX-License-Identifier: Apache-2.0
#include "channel/ring_queue.hpp"

#include <algorithm>
#include <optional>
#include <thread>

#include "core/deadline.hpp"
#include "core/spin_wait.hpp"

namespace beehive::detail {

// The ring: `cap_` slots, each with a sequence number (Vyukov's bounded MPMC queue). Slot
// `pos % cap_` is free for the producer at position `pos` when its seq is `pos`, holds a
// published message for the consumer at `pos` when it is `pos + 1`, and is freed for the next
// lap with `pos + cap_`. The capacity is exact: a producer admits itself by one CAS on `tail_`
// only when the slot is free, i.e. when fewer than `cap_` messages are queued or in hand.
//
// `tail_` also carries two flags, so that one CAS both admits a message and sees them:
// - closed_bit: set by close/retire; no push admits itself past it (the close's linearization
//   point); messages admitted before it are still drained (or dropped, by the close mode).
// - slow_bit: set while the slots are not allocated yet or group copies are parked: every
//   push then goes through `mu_`, so that nothing overtakes a parked message.
//
// Sleeping without a lost wake-up and without a syscall in steady state (an eventcount in two
// halves): a consumer that found nothing (after its brief spin) announces itself in
// `consumers_asleep_` under `mu_`, then re-checks the head before it waits; a producer
// publishes its slot, then reads `consumers_asleep_` and only when it is set takes `mu_` to
// notify. Producers waiting for room (sleeping, parked copies, a `when_writable` callback)
// announce themselves in `attention_` the same way; a consumer frees its slot, then reads
// `attention_`. All four operations are seq_cst, so of two racing threads at least one sees
// the other (store-load ordering). Spinning waiters announce nothing: they poll the ring.
//
// Counting: `tail_` and `head_` positions are the inbox's accepted and received counters,
// corrected for what came in or left uncounted (reopen), parked copies and drops on close;
// see `add_stats` (ring_queue_control.cpp, with close, reopen and the other control calls).
ring_queue::ring_queue(const inbox_options& options)
    : cap_(std::max<std::size_t>(1, options.capacity)), tail_(slow_bit), opts_(options) {
  pow2_ = (cap_ & (cap_ - 1)) == 0;
  mask_ = cap_ - 1;
  wake_step_ = std::max<std::size_t>(1, cap_ / 4);
}

ring_queue::~ring_queue() = default;

void ring_queue::ensure_slots_locked() {
  if (owned_) return;
  owned_ = std::make_unique<slot[]>(cap_);
  for (std::size_t i = 0; i < cap_; ++i) owned_[i].seq.store(i, std::memory_order_relaxed);
  slots_.store(owned_.get(), std::memory_order_release);
}

void ring_queue::update_flags_locked() {
  if (!owned_ || !parked_.empty()) {
    tail_.fetch_or(slow_bit, std::memory_order_seq_cst);
  } else {
    tail_.fetch_and(~slow_bit, std::memory_order_seq_cst);
  }
  const std::uint32_t want = (producer_sleepers_ > 0 ? want_sleepers : 0U) |
                             (parked_.empty() ? 0U : want_parked) |
                             (writable_ ? want_writable : 0U);
  attention_.store(want, std::memory_order_seq_cst);
}

int ring_queue::admit(message& msg, bool ignore_flags) {
  slot* const b = slots_.load(std::memory_order_acquire);
  if (b == nullptr) return ignore_flags ? 0 : -1;
  std::uint64_t t = tail_.load(std::memory_order_relaxed);
  for (;;) {
    if (!ignore_flags && (t & flag_bits) != 0) return -1;
    const std::uint64_t pos = t & ~flag_bits;
    slot& s = b[index(pos)];
    const std::uint64_t seq = s.seq.load(std::memory_order_acquire);
    if (seq == pos) {
      if (tail_.compare_exchange_weak(t, t + 1, std::memory_order_relaxed,
                                      std::memory_order_relaxed)) {
        s.msg = std::move(msg);
        s.seq.store(pos + 1, std::memory_order_seq_cst);
        return 1;
      }
    } else if (seq < pos) {
      return 0;  // the slot still holds the message of the previous lap: full
    } else {
      t = tail_.load(std::memory_order_relaxed);  // another producer got there first
    }
  }
}

ring_queue::slot* ring_queue::claim(std::uint64_t& pos) noexcept {
  slot* const b = slots_.load(std::memory_order_acquire);
  if (b == nullptr) return nullptr;
  std::uint64_t h = head_.load(std::memory_order_relaxed);
  for (;;) {
    slot& s = b[index(h)];
    const std::uint64_t seq = s.seq.load(std::memory_order_acquire);
    if (seq == h + 1) {
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_relaxed,
                                      std::memory_order_relaxed)) {
        pos = h;
        return &s;
      }
    } else if (seq < h + 1) {
      return nullptr;  // empty, or admitted and not yet published
    } else {
      h = head_.load(std::memory_order_relaxed);  // another consumer got there first
    }
  }
}

void ring_queue::release(slot* s, std::uint64_t pos) noexcept {
  s->seq.store(pos + cap_, std::memory_order_seq_cst);
}

std::size_t ring_queue::free_slots() const noexcept {
  const std::uint64_t h = head_.load(std::memory_order_seq_cst);  // first: h <= t
  const std::uint64_t used = (tail_.load(std::memory_order_seq_cst) & ~flag_bits) - h;
  return used >= cap_ ? 0 : cap_ - static_cast<std::size_t>(used);
}

bool ring_queue::room_visible() const noexcept {
  slot* const b = slots_.load(std::memory_order_acquire);
  if (b == nullptr) return true;
  const std::uint64_t pos = tail_.load(std::memory_order_seq_cst) & ~flag_bits;
  return b[index(pos)].seq.load(std::memory_order_seq_cst) >= pos;
}

bool ring_queue::head_ready() const noexcept {
  slot* const b = slots_.load(std::memory_order_acquire);
  if (b == nullptr) return false;
  const std::uint64_t h = head_.load(std::memory_order_seq_cst);
  return b[index(h)].seq.load(std::memory_order_seq_cst) >= h + 1;
}

void ring_queue::published() {
  if (consumers_asleep_.load(std::memory_order_seq_cst) == 0) [[likely]]
    return;
  // The consumer holds mu_ from its announcement until it waits: taking it here means the
  // notification cannot fall between its re-check and its wait.
  { std::lock_guard lk(mu_); }
  not_empty_.notify_one();
}

void ring_queue::hand_on() {
  std::function<void()> fire;  // run after unlocking: user code
  std::size_t wake = 0;
  bool wake_all = false;
  {
    std::lock_guard lk(mu_);
    refill_locked();
    // At most one producer woken per free slot.
    if (producer_sleepers_ > 0) {
      wake = free_slots();
      wake_all = wake >= producer_sleepers_;
    }
    if (writable_ && parked_.empty() && room_visible()) {
      fire.swap(writable_);
      writable_ = nullptr;
      update_flags_locked();
    }
  }
  // Notified after unlocking, so that a woken producer does not at once block on `mu_`. A
  // sleeper registered and re-checked under `mu_`, so it is waiting by now.
  if (wake_all) {
    not_full_.notify_all();
  } else {
    for (std::size_t i = 0; i < wake; ++i) not_full_.notify_one();
  }
  if (fire) fire();
}

// Moves parked messages into the ring while it has room (also once closed: they drain).
void ring_queue::refill_locked() {
  bool moved = false;
  while (!parked_.empty() && admit(parked_.front(), true) == 1) {
    parked_.drop_front();
    ++refilled_;
    moved = true;
  }
  if (!moved) return;
  update_flags_locked();
  if (consumer_sleepers_ > 0) not_empty_.notify_one();
}

expected<void> ring_queue::push(message&& msg, lane_push how, const std::atomic<bool>& cancelled) {
  if (admit(msg, false) == 1) [[likely]] {
    published();
    return {};
  }
  return push_slow(std::move(msg), how, cancelled);
}

expected<void> ring_queue::push_slow(message&& msg, lane_push how,
                                     const std::atomic<bool>& cancelled) {
  const bool group = how == lane_push::group;
  std::unique_lock lk(mu_);
  const bool bounded = opts_.block_timeout.count() > 0;
  const auto deadline = bounded ? deadline_after(opts_.block_timeout) : clock::time_point::max();
  for (;;) {
    if (closed_) return unexpected(errc::channel_closed);
    ensure_slots_locked();
    refill_locked();
    if (parked_.empty() && admit(msg, true) == 1) {
      update_flags_locked();
      if (consumer_sleepers_ > 0) not_empty_.notify_one();
      return {};
    }
    // Full, or parked messages ahead.
    if (how == lane_push::relay && opts_.overflow == overflow_policy::block) {
      // Where `block` would wait: never waits, never parks; the caller keeps the message.
      update_flags_locked();
      return unexpected(errc::would_block);
    }
    if ((group || !parked_.empty()) && parked_.size() < cap_) {
      parked_.push_back(std::move(msg));
      ++parked_accepted_;
      update_flags_locked();
      // A slot freed before the consumer saw `attention_` set: hand it on ourselves.
      refill_locked();
      return {};
    }
    if (opts_.overflow == overflow_policy::fail) {
      ++rejected_full_;
      return unexpected(errc::queue_full);
    }
    if (cancelled.load(std::memory_order_acquire)) {
      ++rejected_cancelled_;
      return unexpected(errc::cancelled);
    }
    if (bounded && clock::now() >= deadline) {
      ++rejected_full_;
      return unexpected(errc::timed_out);
    }
    // No spin: a producer that finds the ring full sleeps until a batch of room is free, so
    // that blocked producers leave the CPUs to the consumer (see docs/benchmarks.md, storm).
    ++producer_sleepers_;
    update_flags_locked();  // seq_cst, then the re-check: see the header comment
    if (!room_visible() && !cancelled.load(std::memory_order_acquire)) {
      if (bounded) {
        (void)not_full_.wait_until(lk, deadline);
      } else {
        not_full_.wait(lk);
      }
    }
    --producer_sleepers_;
    update_flags_locked();
  }
}

template <class Deadline>
expected<message> ring_queue::pop_ready_or(bool bounded, const Deadline& deadline,
                                           const std::stop_token* stop) {
  std::uint64_t pos = 0;
  if (slot* s = claim(pos)) [[likely]] {
    // Moved once, straight from the slot into the result.
    expected<message> out(std::move(s->msg));
    release(s, pos);
    freed();
    return out;
  }
  return pop_slow(bounded, deadline(), stop);
}

expected<message> ring_queue::pop(bool bounded, clock::time_point deadline,
                                  const std::stop_token* stop) {
  return pop_ready_or(
      bounded, [deadline] { return deadline; }, stop);
}

expected<message> ring_queue::pop_for(clock::duration timeout, const std::stop_token* stop) {
  return pop_ready_or(
      true, [timeout] { return deadline_after<clock>(timeout); }, stop);
}

expected<message> ring_queue::pop_slow(bool bounded, clock::time_point deadline,
                                       const std::stop_token* stop) {
  const auto stopped = [stop] { return stop != nullptr && stop->stop_requested(); };
  const auto until = bounded ? deadline : clock::time_point::max();
  for (;;) {
    std::uint64_t pos = 0;
    if (slot* s = claim(pos)) {
      expected<message> out(std::move(s->msg));
      release(s, pos);
      freed();
      return out;
    }
    if (closed_flag_.load(std::memory_order_acquire)) {
      std::unique_lock lk(mu_);
      refill_locked();
      if (head_ready()) continue;
      const std::uint64_t h = head_.load(std::memory_order_seq_cst);
      if (parked_.empty() && h >= (tail_.load(std::memory_order_seq_cst) & ~flag_bits)) {
        return unexpected(errc::channel_closed);
      }
      // A push admitted before the close is still moving its message in.
      lk.unlock();
      std::this_thread::yield();
      continue;
    }
    if (stopped()) return unexpected(errc::cancelled);
    if (bounded && clock::now() >= deadline) return unexpected(errc::timed_out);
    const bool came = spin_until(
        [&] { return head_ready() || closed_flag_.load(std::memory_order_acquire) || stopped(); },
        until);
    if (came) continue;
    // Wakes this consumer when a stop is requested. Registered before the lock: a callback
    // that runs at once (already stopped) takes it.
    auto wake_me = [this]() noexcept {
      { std::lock_guard lk(mu_); }
      not_empty_.notify_all();
    };
    std::optional<std::stop_callback<decltype(wake_me)>> cb;
    if (stop != nullptr) cb.emplace(*stop, wake_me);
    std::unique_lock lk(mu_);
    refill_locked();  // parked messages, if the ring has room now
    ++consumer_sleepers_;
    consumers_asleep_.store(static_cast<std::uint32_t>(consumer_sleepers_),
                            std::memory_order_seq_cst);
    if (!head_ready() && parked_.empty() && !closed_ && !stopped()) {
      if (bounded) {
        (void)not_empty_.wait_until(lk, deadline);
      } else {
        not_empty_.wait(lk);
      }
    }
    --consumer_sleepers_;
    consumers_asleep_.store(static_cast<std::uint32_t>(consumer_sleepers_),
                            std::memory_order_seq_cst);
  }
}

}  // namespace beehive::detail
