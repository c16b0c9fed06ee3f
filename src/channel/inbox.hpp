// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"

namespace beehive::detail {

/// A module's bounded inbox: many producers, one or more consumers.
///
/// Thread-safe. Producers block, fail or evict by `inbox_options::overflow`; `close` wakes every
/// blocked producer and consumer. Per-producer FIFO holds for everything, group deliveries
/// included. Shared by the channel context and the socket context (remote modules' inboxes).
class inbox {
 public:
  using clock = std::chrono::steady_clock;

  explicit inbox(inbox_options options);
  ~inbox();
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;

  /// Puts `msg` in by the overflow policy. While group messages are parked, `msg` queues behind
  /// them (in the parking list, if it has room), so a sender's order holds.
  /// Errors: channel_closed, queue_full, timed_out.
  [[nodiscard]] expected<void> push(message&& msg);
  /// Group delivery: never blocks the caller on a full inbox while room for parking remains
  /// (the message waits in the inbox's parking list, bounded by the capacity, still in FIFO
  /// order; the receiver moves parked messages in as it frees room); past that, as `push`.
  /// A `drop_oldest` inbox never parks: it evicts, as `push` does.
  [[nodiscard]] expected<void> push_group(message&& msg);
  /// Takes the next message; blocks. Error: channel_closed once closed and drained.
  [[nodiscard]] expected<message> pop();
  /// As `pop`, until `deadline`; `timed_out` when nothing came.
  [[nodiscard]] expected<message> pop_until(clock::time_point deadline);
  /// Closes: later pushes fail with channel_closed; queued messages are kept (drain) or dropped
  /// and counted (drop) per the close mode. Dropped messages are moved into `dropped`, for the
  /// caller to destroy outside every lock. Idempotent.
  void close(std::vector<message>& dropped);
  /// Closes and drops every queued message whatever the close mode (counted as dropped on
  /// close, moved into `dropped`).
  void discard(std::vector<message>& dropped);
  /// Opens a closed inbox again with `options`: messages still queued stay (they reach the new
  /// receiver first) and the counters carry on.
  void reopen(const inbox_options& options);
  [[nodiscard]] bool closed() const noexcept;
  [[nodiscard]] inbox_stats stats() const;
  /// Threads now asleep in a push, waiting for room (after their brief spin); for tests and
  /// monitoring.
  [[nodiscard]] std::size_t waiting_senders() const;
  /// Threads now asleep in a pop, waiting for a message (after their brief spin).
  [[nodiscard]] std::size_t waiting_receivers() const;
  [[nodiscard]] inbox_options options() const;

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace beehive::detail
