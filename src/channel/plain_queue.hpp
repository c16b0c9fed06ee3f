// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"
#include "channel/lane_queue.hpp"
#include "channel/message_ring.hpp"

namespace beehive::detail {

/// The bounded FIFO of a plain module (neither lanes nor coalescing) that the lock-free
/// `ring_queue` does not serve (`drop_oldest`, or a capacity above its bound): a producer lock
/// and a consumer lock (see the .cpp for why).
///
/// Per message (steady state): one producer-lock acquisition per push; the consumer takes the
/// producer lock once per batch (it swaps the whole pending ring into its private batch), and
/// its own lock per pop. The message is moved once into the ring and once out. No allocation
/// once the ring has grown to the queue's depth. Thread-safe.
class plain_queue {
 public:
  using clock = std::chrono::steady_clock;

  explicit plain_queue(const inbox_options& options);
  plain_queue(const plain_queue&) = delete;
  plain_queue& operator=(const plain_queue&) = delete;

  /// Puts `msg` in by the overflow policy (`lane_push` as for a lane: group parks, relay never
  /// waits). Errors: channel_closed, queue_full, timed_out, cancelled, would_block (relay).
  /// On failure `msg` is intact.
  [[nodiscard]] expected<void> push(message&& msg, lane_push how,
                                    const std::atomic<bool>& cancelled);
  /// Takes the next message; waits (until `deadline` when `bounded`). Errors: channel_closed
  /// once closed and drained, timed_out, cancelled (`stop` requested while nothing is queued).
  [[nodiscard]] expected<message> pop(bool bounded, clock::time_point deadline,
                                      const std::stop_token* stop);

  void close(std::vector<message>& dropped, bool drop_all);
  /// Closes (if open), takes `options` and moves every queued message out, oldest first,
  /// uncounted: the inbox changes kind and another queue serves it.
  void retire(const inbox_options& options, std::vector<message>& out);
  /// Reopens with `options`; `more` (messages migrated from another queue) go behind the
  /// queued ones, uncounted.
  void reopen(const inbox_options& options, std::vector<message>& more);

  [[nodiscard]] bool closed() const noexcept { return closed_flag.load(std::memory_order_acquire); }
  /// Adds this queue's queued messages and counters to `st`.
  void add_stats(inbox_stats& st) const;
  [[nodiscard]] std::size_t waiting_senders() const;
  [[nodiscard]] std::size_t waiting_receivers() const;
  /// See `endpoint::when_writable`.
  [[nodiscard]] bool when_writable(std::function<void()> fn);
  [[nodiscard]] std::size_t room() const;
  /// Wakes senders waiting for room, so that they re-check the cancel flag.
  void wake_senders();

 private:
  void configure(const inbox_options& o);
  // Helpers; the caller holds pmu.
  [[nodiscard]] bool has_room() const noexcept { return pending.size() + outstanding < capacity; }
  void put_pending(message&& msg);
  void refill();
  [[nodiscard]] int slot_for(bool group);
  void place(int where, message&& msg);
  [[nodiscard]] bool room_freed(std::function<void()>& fire);
  void take_writable(std::function<void()>& fire);
  // The caller holds cmu and pmu.
  [[nodiscard]] bool take_pending(std::function<void()>& fire);
  void take_all_locked(std::vector<message>& out);
  // The caller holds cmu.
  void publish_progress(std::function<void()>& fire);

  // Guarded by pmu (and cmu, where the consumer reads them).
  inbox_options opts;
  std::size_t capacity = 1;
  std::size_t park_capacity = 1;
  std::size_t publish_step = 1;
  bool direct = false;

  // Producer side, guarded by pmu.
  alignas(64) mutable std::mutex pmu;
  std::condition_variable not_full;
  std::condition_variable not_empty;
  ring<message> pending;
  ring<message> parked;
  std::size_t outstanding = 0;
  std::size_t producer_sleepers = 0;
  std::size_t consumer_sleepers = 0;
  bool closed_ = false;
  std::uint64_t accepted = 0;
  std::uint64_t rejected_full = 0;
  std::uint64_t rejected_cancelled = 0;
  std::uint64_t dropped_oldest = 0;
  std::uint64_t dropped_on_close = 0;

  // Read by spinning consumers without a lock; written rarely (once per batch).
  alignas(64) std::atomic<bool> has_pending{false};
  std::atomic<bool> closed_flag{false};
  // Read by spinning producers and by the consumer per message; written when producers block.
  alignas(64) std::atomic<std::uint64_t> room_seq{0};
  std::atomic<int> producers_blocked{0};
  std::function<void()> writable;  // guarded by pmu

  // Consumer side, guarded by cmu.
  alignas(64) mutable std::mutex cmu;
  ring<message> batch;
  std::size_t since_publish = 0;
  std::uint64_t received = 0;
};

}  // namespace beehive::detail
