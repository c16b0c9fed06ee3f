// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"
#include "channel/lane_queue.hpp"
#include "channel/message_ring.hpp"

namespace beehive::detail {

/// The lock-free inbox of a plain module (neither lanes nor coalescing) whose overflow policy
/// is `block` or `fail` and whose capacity is 2 to `max_capacity`: a bounded ring of
/// exactly `capacity` slots, many producers and consumers (Vyukov's bounded MPMC queue), with
/// a mutex only for the slow paths (full, parked group copies, sleeping, close, reopen).
///
/// Per message (steady state): a push is one CAS on the tail, a move into the slot and one
/// seq_cst store (publishing the slot), plus one load of "is a consumer asleep"; a pop is one
/// CAS on the head, a move out of the slot and one seq_cst store (freeing it), plus one load
/// of "does a producer need the consumer". No lock, no syscall, no allocation while the ring is
/// neither full nor empty (a producer that finds it full sleeps until a quarter is free; a
/// consumer that finds it empty spins briefly, then sleeps). The slots are
/// allocated once, at the first push (capacity x about 320 bytes, as Go's channel buffer).
/// Thread-safe.
class ring_queue {
 public:
  using clock = std::chrono::steady_clock;
  /// Larger inboxes use `plain_queue`, which grows with its depth instead.
  static constexpr std::size_t max_capacity = std::size_t{1} << 16;
  /// Whether `o` is served by a ring queue.
  [[nodiscard]] static bool fits(const inbox_options& o) noexcept {
    // A ring of one slot cannot tell "published" from "free for the next lap" (seq + 1).
    return !o.shaped() && o.overflow != overflow_policy::drop_oldest && o.capacity >= 2 &&
           o.capacity <= max_capacity;
  }

  /// `options` must fit; its capacity is the ring's for life (a reopen keeps it).
  explicit ring_queue(const inbox_options& options);
  ~ring_queue();
  ring_queue(const ring_queue&) = delete;
  ring_queue& operator=(const ring_queue&) = delete;

  /// As `plain_queue::push`.
  [[nodiscard]] expected<void> push(message&& msg, lane_push how,
                                    const std::atomic<bool>& cancelled);
  /// As `plain_queue::pop`.
  [[nodiscard]] expected<message> pop(bool bounded, clock::time_point deadline,
                                      const std::stop_token* stop);
  /// As `pop(true, now + timeout, stop)`, but the clock is read only when nothing is queued:
  /// a receive that finds a message waiting costs no clock read.
  [[nodiscard]] expected<message> pop_for(clock::duration timeout, const std::stop_token* stop);

  void close(std::vector<message>& dropped, bool drop_all);
  /// Closes and moves every queued message out, oldest first, uncounted (another queue
  /// serves the inbox now).
  void retire(std::vector<message>& out);
  /// Reopens with `options` (same capacity); `more` go behind the queued ones, uncounted.
  void reopen(const inbox_options& options, std::vector<message>& more);

  [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }
  [[nodiscard]] bool closed() const noexcept {
    return closed_flag_.load(std::memory_order_acquire);
  }
  /// Adds this queue's queued messages and counters to `st`.
  void add_stats(inbox_stats& st) const;
  [[nodiscard]] std::size_t waiting_senders() const;
  [[nodiscard]] std::size_t waiting_receivers() const;
  /// See `endpoint::when_writable`. Fires once a quarter of the capacity (at least one slot)
  /// is free, as sleeping senders are woken: a relay woken at the first free slot would push
  /// one message and wait again, a wake-up per message.
  [[nodiscard]] bool when_writable(std::function<void()> fn);
  [[nodiscard]] std::size_t room() const;
  /// Wakes senders waiting for room, so that they re-check the cancel flag.
  void wake_senders();

 private:
  struct alignas(64) slot {
    std::atomic<std::uint64_t> seq{0};
    message msg;
  };
  static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t slow_bit = std::uint64_t{1} << 62;
  static constexpr std::uint64_t flag_bits = closed_bit | slow_bit;
  // What `attention_` holds: who waits for a freed slot.
  static constexpr std::uint32_t want_sleepers = 1;
  static constexpr std::uint32_t want_parked = 2;
  static constexpr std::uint32_t want_writable = 4;

  [[nodiscard]] std::size_t index(std::uint64_t pos) const noexcept {
    return pow2_ ? static_cast<std::size_t>(pos & mask_) : static_cast<std::size_t>(pos % cap_);
  }
  // One attempt to admit through the tail: 1 = placed, 0 = full, -1 = a flag is set (only
  // when `ignore_flags` is false).
  int admit(message& msg, bool ignore_flags);
  // Claims the slot at the head when its message is published (the caller moves the message
  // out, then calls `release`); nullptr when empty or not yet published.
  [[nodiscard]] slot* claim(std::uint64_t& pos) noexcept;
  void release(slot* s, std::uint64_t pos) noexcept;
  [[nodiscard]] bool room_visible() const noexcept;
  [[nodiscard]] bool head_ready() const noexcept;
  // After a push: wakes a sleeping consumer, if any (rare: a load per push otherwise).
  void published();
  // After a pop: hands the freed slot on when a producer needs it (a load per pop otherwise).
  // Sleeping producers and a `when_writable` callback (a relay: it pushes a batch when woken)
  // are woken once `wake_step_` slots are free (a batch of room, not one wake-up per slot);
  // parked copies at once.
  void freed() {
    const std::uint32_t a = attention_.load(std::memory_order_seq_cst);
    if (a == 0) [[likely]]
      return;
    if ((a & want_parked) == 0 && free_slots() < wake_step_) return;
    hand_on();
  }
  [[nodiscard]] std::size_t free_slots() const noexcept;
  void hand_on();
  expected<void> push_slow(message&& msg, lane_push how, const std::atomic<bool>& cancelled);
  expected<message> pop_slow(bool bounded, clock::time_point deadline, const std::stop_token* stop);
  /// `pop` and `pop_for`: the ready message, else `pop_slow` with `deadline()` (read only then).
  template <class Deadline>
  expected<message> pop_ready_or(bool bounded, const Deadline& deadline,
                                 const std::stop_token* stop);
  // The caller holds mu_.
  void ensure_slots_locked();
  void refill_locked();
  void update_flags_locked();
  // Close and retire: marks the ring closed (no push admits itself past it) and takes the
  // `when_writable` callback; then, unlocked, every waiter is woken and the callback run.
  [[nodiscard]] std::function<void()> shut_locked();
  void wake_shut(const std::function<void()>& fire);
  void take_all_locked(std::vector<message>& out, std::uint64_t& counter);

  // Read-mostly: set before the ring serves, or once, under mu_.
  std::size_t cap_ = 1;
  std::uint64_t mask_ = 0;
  std::size_t wake_step_ = 1;
  bool pow2_ = false;
  std::atomic<slot*> slots_{nullptr};
  std::unique_ptr<slot[]> owned_;

  // Written by producers (every push).
  alignas(64) std::atomic<std::uint64_t> tail_;
  // Written by consumers (every pop).
  alignas(64) std::atomic<std::uint64_t> head_{0};
  // Written by a consumer going to sleep; read by every push.
  alignas(64) std::atomic<std::uint32_t> consumers_asleep_{0};
  // Written when a producer sleeps, a group copy parks or a `when_writable` waits; read by
  // every pop: whoever frees a slot then takes mu_ to hand it on.
  alignas(64) std::atomic<std::uint32_t> attention_{0};
  std::atomic<bool> closed_flag_{false};

  // Slow paths, guarded by mu_.
  alignas(64) mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  inbox_options opts_;
  ring<message> parked_;
  std::function<void()> writable_;
  std::size_t producer_sleepers_ = 0;
  std::size_t consumer_sleepers_ = 0;
  bool closed_ = false;
  // Counters (see `add_stats` for how the positions become the inbox's counters).
  std::uint64_t parked_accepted_ = 0;
  std::uint64_t refilled_ = 0;
  std::uint64_t uncounted_in_ = 0;
  std::uint64_t uncounted_out_ = 0;
  std::uint64_t dropped_close_ring_ = 0;
  std::uint64_t dropped_close_parked_ = 0;
  std::uint64_t rejected_full_ = 0;
  std::uint64_t rejected_cancelled_ = 0;
};

}  // namespace beehive::detail
