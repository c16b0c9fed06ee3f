// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"
#include "channel/lane_ticket.hpp"
#include "channel/message_ring.hpp"

namespace beehive::detail {

/// One priority lane of a `lane_queue`: a bounded FIFO with its own lock, its own parking for
/// group copies, its own coalescing index, its own overflow policy and counters.
///
/// Why a lock per lane: a flood in one lane (two producers pushing ~3M messages/s into the
/// update lane of `storm_both`) keeps that lane's lock busy all the time; a heartbeat's sender
/// that needed the same lock slept on it (a `sched_switch` trace put every one of its slow
/// sends in `pthread_mutex_lock`). With a lock per lane, a sender touches only its own lane's
/// lock, and the consumer finds the highest non-empty lane by reading each lane's `ready`
/// count without a lock.
///
/// Per message (steady state): one lock of this lane per push and per take; with coalescing
/// one hash lookup (and a map node for a new key); the message moved once in and once out. A
/// replaced or evicted message is handed back to the caller, to destroy outside the lock.
/// Thread-safe; the `lane_queue` that owns it serialises the configuration calls.
class lane {
 public:
  lane() = default;
  lane(const lane&) = delete;
  lane& operator=(const lane&) = delete;

  /// Puts `msg` in (see `lane_push`); a message whose key is queued here replaces that one in
  /// place (counted as coalesced) and never waits. The message pushed out (replaced, or
  /// evicted by `drop_oldest`) goes into `out`, for the caller to destroy unlocked. Errors:
  /// channel_closed, queue_full, timed_out, cancelled, would_block (relay). When the lane was
  /// reconfigured since the caller chose it (its epoch is not `epoch`), fails with
  /// channel_closed and sets `is_stale`: the caller chooses again. On failure `msg` is intact.
  [[nodiscard]] expected<void> push(message&& msg, std::string&& key, lane_push how,
                                    const std::atomic<bool>& cancelled, std::uint64_t epoch,
                                    message& out, bool& is_stale);
  /// The front message, or nothing when the lane is empty. Wakes senders waiting for room
  /// once a quarter of the lane is free.
  [[nodiscard]] std::optional<message> take();
  /// Messages the consumer can take now (the FIFO, parking excluded). Lock-free; the
  /// seq_cst store behind it pairs with the consumer's sleep (see `lane_queue::pop`).
  [[nodiscard]] std::size_t ready() const noexcept {
    return ready_.load(std::memory_order_seq_cst);
  }

  /// New options, under a new epoch; keeps what is queued and the counters.
  void configure(const lane_options& o, std::uint64_t epoch);
  /// Closes (later pushes fail with channel_closed; blocked senders give up with it); with
  /// `drop`, moves every queued message into `dropped`, counted as dropped on close.
  void close(bool drop, std::vector<message>& dropped);
  void open();
  /// Moves every queued message out, in order, uncounted (migration).
  void take_all(std::vector<message>& out);
  /// Puts a migrated message at the back, past the capacity if need be, uncounted.
  void put(message&& msg, std::string&& key);

  /// Adds this lane's queued messages and counters to `st`; with `per_lane`, its line too.
  void add_stats(inbox_stats& st, bool per_lane) const;
  [[nodiscard]] std::size_t room() const;
  [[nodiscard]] std::size_t waiting_senders() const;
  /// When the lane is full, sets `flag` under the lane's lock and returns true: a `take`
  /// after that sees the flag (the `when_writable` hand-off).
  [[nodiscard]] bool mark_if_full(std::atomic<bool>& flag);
  /// Wakes senders waiting for room, so that they re-check the cancel flag.
  void wake_senders();

  /// Tests only: holds this lane's lock, to prove that other lanes never need it.
  [[nodiscard]] std::unique_lock<std::mutex> hold() { return std::unique_lock(mu_); }

 private:
  using index_map = std::unordered_map<std::string, std::uint64_t>;
  // A queued message. `key` is kept while the entry is not indexed; once indexed the key
  // lives in the index node, which `idx` points at.
  struct entry {
    message msg;
    std::string key;
    index_map::value_type* idx = nullptr;
  };

  // The caller holds mu_.
  [[nodiscard]] entry& at(std::uint64_t seq);
  void index(entry& e, std::uint64_t seq);
  void unindex(entry& e);
  void place(entry&& e, bool park);
  void refill();
  [[nodiscard]] int slot(lane_push how);
  void publish() { ready_.store(q_.size(), std::memory_order_seq_cst); }

  mutable std::mutex mu_;
  std::condition_variable not_full_;
  ring<entry> q_;       // the lane, in order; q_.at(i) has sequence number head_seq_ + i
  ring<entry> parked_;  // group copies that found the lane full (bounded by the capacity)
  std::uint64_t head_seq_ = 0;
  index_map index_;
  lane_options opts_;
  std::size_t capacity_ = 1;
  std::uint64_t epoch_ = 0;
  std::uint64_t generation_ = 0;  // bumped by close: a sender blocked across it gives up
  bool closed_ = false;
  std::size_t sleepers_ = 0;
  lane_stats st_;
  std::uint64_t rejected_full_ = 0;
  std::uint64_t rejected_cancelled_ = 0;
  std::uint64_t dropped_oldest_ = 0;
  std::uint64_t dropped_on_close_ = 0;
  // Written under mu_, read by the consumer without it.
  alignas(64) std::atomic<std::size_t> ready_{0};
};

}  // namespace beehive::detail
