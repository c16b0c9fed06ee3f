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
#include <string>
#include <unordered_map>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"
#include "channel/message_ring.hpp"

namespace beehive::detail {

/// How a message asks to enter a `lane_queue` (the inbox's `delivery`, narrowed).
enum class lane_push {
  direct,  ///< the lane's overflow policy applies as it is
  group,   ///< parks instead of blocking while the lane's parking has room
  relay,   ///< never waits: a full lane answers `would_block`
};

/// Where a message goes, worked out from the message by the sender, outside every lock.
struct lane_ticket {
  std::size_t lane = 0;
  std::string key;  ///< empty: never coalesces (coalescing off, a sync message, an empty key)
};

/// The lane and coalescing key of `msg` under `options` (lane 0 without lanes; an empty key
/// without coalescing, or for a sync message). Runs the user's functions, if any: call it
/// outside every lock. Shared by the inbox and a socket connection's outbound queue.
[[nodiscard]] lane_ticket make_ticket(const inbox_options& options, const message& msg);

/// The inbox of a module that asked for priority lanes or coalescing (issue 15): a few
/// bounded FIFO lanes under one mutex, and an index of queued messages by key.
///
/// Why one mutex and not the plain inbox's lock split: a module opts into this; what it needs
/// is the lanes' exactness (each lane's capacity, the starvation bound, the accounting
/// identity), which one lock gives simply. A plain module never comes here.
///
/// Per message (steady state): `ticket` (a classification; with coalescing, the key string),
/// one lock, with coalescing one hash lookup (and a map node for a new key). A replaced message
/// is destroyed by the caller, outside the lock. Thread-safe.
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

 private:
  struct entry;
  struct lane;
  using index_map = std::unordered_map<std::string, std::pair<std::size_t, std::uint64_t>>;

  void configure_locked(const inbox_options& o);
  [[nodiscard]] std::size_t lane_of(const message& msg) const;
  [[nodiscard]] entry& at_locked(lane& l, std::uint64_t seq);
  void refill_locked(lane& l);
  void index_locked(entry& e, std::size_t li, std::uint64_t seq);
  void unindex_locked(entry& e);
  void place_locked(lane& l, std::size_t li, entry&& e, bool park);
  [[nodiscard]] int slot_locked(lane& l, lane_push how);
  [[nodiscard]] std::size_t choose_locked();
  [[nodiscard]] bool any_queued_locked() const;
  std::function<void()> take_writable_locked();

  // What `ticket` reads, swapped whole by `reopen` (user functions run outside `mu_`).
  struct classifier;
  mutable std::mutex cls_mu_;
  std::shared_ptr<const classifier> cls_;

  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  inbox_options opts_;
  std::size_t active_ = 1;  // lanes in use; lanes_ only grows (blocked senders hold a lane)
  std::vector<std::unique_ptr<lane>> lanes_;
  index_map index_;
  std::function<void()> writable_;
  std::uint64_t generation_ = 0;  // bumped by close: a sender blocked across it gives up
  std::size_t consumer_sleepers_ = 0;
  std::size_t producer_sleepers_ = 0;
  bool closed_ = false;
  std::atomic<bool> closed_flag_{false};
  std::atomic<std::size_t> queued_{0};  // read by spinning consumers
};

}  // namespace beehive::detail
