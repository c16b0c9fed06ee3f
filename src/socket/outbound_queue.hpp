// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"
#include "channel/lane_queue.hpp"

namespace beehive::detail {

struct socket_counters;

/// How far a write got: `records` written whole, then `offset` bytes of the next one.
struct write_progress {
  std::size_t records = 0;
  std::size_t offset = 0;
};

/// Where an outbound queue writes: a connected socket (`transport`), or a fake in tests.
class record_sink {
 public:
  virtual ~record_sink() = default;
  /// Writes `records` (wire-ready bytes) in order, the first one from byte `offset`. With `wait`
  /// false it stops where the socket is full; with `wait` true it blocks until all are written.
  /// An error (`not_connected`) means the connection is broken.
  [[nodiscard]] virtual expected<write_progress> write(std::span<std::string> records,
                                                       std::size_t offset, bool wait) = 0;

 protected:
  record_sink() = default;
  record_sink(const record_sink&) = default;
  record_sink& operator=(const record_sink&) = default;
};

/// What a record may do when it finds the queue full.
enum class admission {
  wait,  ///< a plain send or reply: the overflow policy applies as it is (`block` waits)
  /// A group member's copy or a sync request: never waits for room. It is queued past the
  /// capacity (up to twice the capacity, as an inbox parks group messages) and, past that,
  /// refused with `queue_full` (`drop_oldest` evicts instead, as for `wait`).
  park,
};

/// The bounded queue of records waiting to be written to one connection, and the writer that
/// drains it.
///
/// Why: a peer that stops reading fills its socket; a sender writing to that socket itself
/// would block without bound, and with it every caller behind it (a group send, a `send_sync`
/// past its timeout). Here a caller never blocks on the socket: it writes without waiting when
/// the link is idle (the latency path), else queues; the queue follows the peer's
/// `inbox_options` (capacity, overflow policy, block timeout) as a module's inbox does; a writer
/// thread per connection, started on first need and joined by the destructor, does the
/// blocking writes. Only the writer of a stuck peer waits.
///
/// Batching: sends that follow each other closely (a burst) are queued; the sender that fills a
/// batch writes it in one syscall (without waiting), and the writer writes a partial batch
/// once it is a few tens of microseconds old, so that one fast sender pays one syscall per
/// batch and nothing waits long.
///
/// Capacity counts the records queued and those being written. Order is kept: records are
/// written in the order they were accepted. Thread-safe.
///
/// Lanes and coalescing (issue 15) follow the module's inbox options as its inbox does, by the
/// message each record was made from (`push`'s `meta`): a record of a higher lane is queued
/// ahead of lower-lane records (never ahead of a record partly on the wire, and never ahead of
/// one it would overtake a `starvation_bound`-th time), and a record whose key is queued in its
/// lane replaces it in place (counted in `coalesced`). Each lane has its own capacity and
/// overflow policy; records being written count in no lane. Cost, on such modules only: a
/// classification, a scan of the queue for the key (by hash) and for the insertion point.
class outbound_queue {
 public:
  using clock = std::chrono::steady_clock;

  /// `sink` must outlive the queue. `counters` (optional) receives records_out and the
  /// outbound_* counts.
  outbound_queue(record_sink& sink, inbox_options options, socket_counters* counters = nullptr);
  /// Closes and joins the writer.
  ~outbound_queue();
  outbound_queue(const outbound_queue&) = delete;
  outbound_queue& operator=(const outbound_queue&) = delete;

  /// Hands one wire-ready record over. Errors: `not_connected` (closed, or the write failed:
  /// the connection is broken), `queue_full` (`fail` policy, or a full `park`), `timed_out`
  /// (`block` with a block timeout that expired). Refusals and evictions are counted.
  /// `meta`: the message the record was encoded from, for lanes and coalescing (ignored when
  /// the options ask for neither).
  [[nodiscard]] expected<void> push(std::string&& record, admission how,
                                    const message* meta = nullptr);

  /// Ends the queue: blocked senders wake with `not_connected`, later pushes fail, records not
  /// yet written are dropped (counted as unsent). Does not wait for a write in progress (shut
  /// the socket down to end it). Idempotent.
  void close() noexcept;

  /// Closes (as `close`), waits for a write in progress to return (shut the socket down first,
  /// so that it returns at once) and joins the writer: afterwards nothing writes to the sink
  /// again. Not from the writer's own thread. Idempotent.
  void close_and_join() noexcept;

  /// Records accepted and not yet written.
  [[nodiscard]] std::size_t pending() const;
  /// Senders now waiting for room (`block`); for tests and monitoring.
  [[nodiscard]] std::size_t waiting_senders() const;
  /// True once the writer thread runs (it is started on first need only).
  [[nodiscard]] bool writer_started() const;
  /// Queued records replaced by a newer one of their key (coalescing).
  [[nodiscard]] std::uint64_t coalesced() const;
  /// Records queued now in lane `lane` (not counting those being written).
  [[nodiscard]] std::size_t lane_pending(std::size_t lane) const;

 private:
  [[nodiscard]] std::size_t pending_locked() const noexcept { return queue_.size() + inflight_; }
  // What a queued record is, for lanes and coalescing.
  struct record_meta {
    std::size_t lane = 0;
    std::size_t hash = 0;
    std::string key;         // empty: never coalesces
    std::size_t passed = 0;  // higher-lane records queued ahead of it since it was queued
  };

  // Records counted against `lane`'s capacity: the lane's own, or all (no lanes).
  [[nodiscard]] std::size_t used_locked(std::size_t lane) const noexcept {
    return shaped_ ? lane_count_[lane] : pending_locked();
  }
  // Applies `lane`'s capacity and overflow policy (waits under `block`).
  [[nodiscard]] expected<void> admit_locked(std::unique_lock<std::mutex>& lock, admission how,
                                            std::size_t lane);
  // Replaces a queued record of the same lane and key; false when there is none.
  [[nodiscard]] bool coalesce_locked(std::string& record, const record_meta& m);
  // Queues `record` where its lane puts it.
  void enqueue_locked(std::string&& record, record_meta&& m);
  void evict_oldest_locked();
  void evict_oldest_of_lane_locked(std::size_t lane);
  // Writes `records` (taken out of the queue by the caller, who holds `lock`), then puts back at
  // the head of the queue what did not go. `not_connected` when the write failed.
  [[nodiscard]] expected<void> write_locked(std::unique_lock<std::mutex>& lock,
                                            std::span<std::string> records, std::size_t offset,
                                            bool wait);
  // A sender's turn: writes what is queued, without waiting.
  [[nodiscard]] expected<void> write_queued_locked(std::unique_lock<std::mutex>& lock);
  // Moves up to `max` records from the head of the queue into batch_.
  std::size_t take_locked(std::size_t max);
  void wake_writer_locked();
  void fail_locked();
  void wrote_locked(std::size_t n);
  void run_writer();

  record_sink& sink_;
  const inbox_options opts_;
  const std::size_t capacity_;
  socket_counters* const counters_;
  const bool shaped_;                // lanes or coalescing asked for
  std::vector<lane_options> lanes_;  // the effective lanes (one without lanes)

  mutable std::mutex mu_;
  std::condition_variable room_cv_;  // room appeared, or closed
  std::condition_variable work_cv_;  // work for the writer, or closed
  std::deque<std::string> queue_;
  std::vector<std::string> batch_;       // the records of the write in progress (whoever writes)
  std::deque<record_meta> meta_;         // shaped only: one per record of queue_
  std::vector<record_meta> batch_meta_;  // shaped only: one per record of batch_
  std::vector<std::size_t> lane_count_;  // shaped only: records of each lane in queue_
  std::uint64_t coalesced_ = 0;
  std::size_t front_offset_ = 0;  // bytes of queue_.front() already written (streams)
  std::size_t inflight_ = 0;      // records taken out of queue_ by a write in progress
  std::size_t room_waiters_ = 0;
  bool writing_ = false;  // a write is in progress (one at a time: that keeps the order)
  bool closed_ = false;
  bool urgent_ = false;  // the socket was full: the writer writes without waiting for a batch
  clock::time_point last_push_{};
  clock::time_point batch_start_{};
  unsigned streak_ = 0;
  std::thread writer_;
};

}  // namespace beehive::detail
