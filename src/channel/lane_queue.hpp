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
#include "channel/lane.hpp"
#include "channel/lane_ticket.hpp"

namespace beehive::detail {

/// The inbox of a module that asked for priority lanes or coalescing (issue 15): a few
/// `lane`s, each with its own lock, capacity, overflow policy and coalescing index.
///
/// Why a lock per lane and not one for the queue: a flood in a low lane keeps its lock busy;
/// a heartbeat's sender must not wait for it (see `lane`). A sender takes only its lane's
/// lock. The consumer side has a lock of its own (`cmu_`: the starvation counters, and one
/// consumer at a time), finds the highest non-empty lane from the lanes' lock-free `ready`
/// counts and takes only that lane's lock. Sleeping is an eventcount: a consumer announces
/// itself (`consumer_sleepers_`, seq_cst) and re-checks the counts before it sleeps; a sender
/// publishes its lane's count (seq_cst) and then reads the announcement, so one of the two
/// sees the other and no wake-up is lost. Configuration (close, reopen, stats) takes `cmu_`
/// and then the lanes' locks, one at a time, in order; a sender never holds two locks.
///
/// Per message (steady state): `ticket` (a classification; with coalescing, the key string),
/// one lock of the message's lane, with coalescing one hash lookup (and a map node for a new
/// key), a seq_cst store of the lane's count and a load of the sleepers' count; the consumer:
/// `cmu_`, one load per lane, one lock of the lane taken. A replaced message is destroyed by
/// the caller, outside every lock. Thread-safe.
class lane_queue {
 public:
  using clock = std::chrono::steady_clock;

  explicit lane_queue(const inbox_options& options);
  ~lane_queue();
  lane_queue(const lane_queue&) = delete;
  lane_queue& operator=(const lane_queue&) = delete;

  /// The lane and key of `msg` under the current options. Runs user functions: call it
  /// outside every lock.
  [[nodiscard]] lane_ticket ticket(const message& msg) const;

  /// Puts `msg` in its lane (see `lane_push`). A message whose key is queued in the same lane
  /// replaces that one in place (counted as coalesced) and never waits. Errors:
  /// channel_closed, queue_full, timed_out, cancelled (`cancelled` set while waiting, or
  /// already set when the lane is full), would_block (relay). On failure `msg` is intact.
  [[nodiscard]] expected<void> push(message&& msg, lane_ticket&& where, lane_push how,
                                    const std::atomic<bool>& cancelled);
  /// Takes the next message by priority and the starvation bound; waits (until `deadline`
  /// when `bounded`). Errors: channel_closed once closed and drained, timed_out, cancelled
  /// (`stop` requested while nothing is queued).
  [[nodiscard]] expected<message> pop(bool bounded, clock::time_point deadline,
                                      const std::stop_token* stop);

  void close(std::vector<message>& dropped, bool drop_all);
  /// Reopens with `options` (lanes may change: queued messages are reclassified in order),
  /// then puts `more` (messages migrated from a plain inbox) behind them, uncounted.
  void reopen(const inbox_options& options, std::vector<message>& more);
  /// Moves every queued message out, in service order, uncounted (the inbox changes kind).
  void take_all(std::vector<message>& out);
  /// Puts migrated messages in, past the capacity if need be, uncounted.
  void put_all(std::vector<message>& in);

  [[nodiscard]] bool closed() const noexcept {
    return closed_flag_.load(std::memory_order_acquire);
  }
  void add_stats(inbox_stats& st) const;
  [[nodiscard]] std::size_t waiting_senders() const;
  [[nodiscard]] std::size_t waiting_receivers() const;
  /// See `endpoint::when_writable`: fires when any lane frees room, or on close.
  [[nodiscard]] bool when_writable(std::function<void()> fn);
  /// Messages every lane can still take (the smallest room of a lane).
  [[nodiscard]] std::size_t room() const;
  /// Wakes every waiter so that it re-checks its conditions (cancel, a stop request).
  void wake_all();

  /// Tests only: holds lane `i`'s lock (of the lanes in use), to prove that a push to
  /// another lane, and a pop from it, never need it.
  [[nodiscard]] std::unique_lock<std::mutex> hold_lane(std::size_t i);

 private:
  // The lanes in use and the options they came from, immutable once published; a reopen
  // publishes a new one (the old ones live as long as the queue: a sender may still read
  // one). `epoch` tells a sender that chose a lane from an older one to choose again.
  struct config {
    inbox_options opts;
    std::vector<lane*> lanes;
    std::uint64_t epoch = 0;
  };

  void configure_locked(const inbox_options& o);  // the caller holds cmu_
  [[nodiscard]] const config& current() const noexcept {
    return *cfg_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::size_t choose_locked(const config& c);  // the caller holds cmu_
  [[nodiscard]] bool any_ready() const noexcept;
  void wake_consumer();
  void fire_writable();

  // Consumer side and configuration.
  mutable std::mutex cmu_;
  std::vector<std::unique_ptr<lane>> lanes_;      // only grows (a sender may hold a lane)
  std::vector<std::unique_ptr<config>> configs_;  // the current one last
  std::vector<std::size_t> passed_;  // per lane: messages taken from lanes above while it held some
  std::atomic<const config*> cfg_{nullptr};
  std::atomic<bool> closed_flag_{false};

  // Sleeping consumers (the eventcount's lock and condition).
  alignas(64) std::mutex wait_mu_;
  std::condition_variable not_empty_;
  std::atomic<std::size_t> consumer_sleepers_{0};

  // Relay flow control: `writable_` is set under `wmu_`; `writable_armed_` is set under the
  // full lane's lock (see `lane::mark_if_full`), and read after every take.
  std::mutex wmu_;
  std::function<void()> writable_;
  std::atomic<bool> writable_armed_{false};
};

}  // namespace beehive::detail
