// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"

namespace beehive::detail {

/// False for options no inbox can honour: a capacity of 0 (the inbox's, or a lane's), a lane
/// rule naming a lane that does not exist.
[[nodiscard]] bool valid_inbox_options(const inbox_options& o) noexcept;

/// A module's bounded inbox: many producers, one or more consumers.
///
/// Thread-safe. Producers block, fail or evict by `inbox_options::overflow`; `close` wakes every
/// blocked producer and consumer; a cancel (the `stop_token` given at construction) wakes every
/// blocked producer with `cancelled`. Per-producer FIFO holds for everything, group deliveries
/// included. Shared by the channel context and the socket context (remote modules' inboxes).
///
/// A module that asks for lanes or coalescing (`inbox_options::shaped()`) is served by a
/// `lane_queue` instead of the plain rings; every call below behaves the same way, lane by
/// lane. A plain module pays one predictable branch per call for this.
class inbox {
 public:
  using clock = std::chrono::steady_clock;

  /// `cancel`: when a stop is requested on it (the context's cancel), senders blocked for room
  /// wake with `errc::cancelled`, and later sends to a full `block` inbox fail so at once.
  explicit inbox(inbox_options options, std::stop_token cancel = {});
  ~inbox();
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;

  /// Puts `msg` in by the overflow policy. While group messages are parked, `msg` queues behind
  /// them (in the parking list, if it has room), so a sender's order holds.
  /// Errors: channel_closed, queue_full, timed_out, cancelled (the context was cancelled while
  /// the sender waited for room, or before). On failure `msg` is left intact, and a refusal
  /// (queue_full, timed_out, cancelled) is counted.
  [[nodiscard]] expected<void> push(message&& msg);
  /// Group delivery: never blocks the caller on a full inbox while room for parking remains
  /// (the message waits in the inbox's parking list, bounded by the capacity, still in FIFO
  /// order; the receiver moves parked messages in as it frees room); past that, as `push`.
  /// A `drop_oldest` inbox never parks: it evicts, as `push` does.
  [[nodiscard]] expected<void> push_group(message&& msg);
  /// A message relayed from outside (`delivery::relay`): never waits. Under `block`, a full
  /// inbox (or one with parked messages ahead) answers `would_block` and leaves `msg` intact,
  /// uncounted (it is not a loss: the caller keeps it and waits for `when_writable`); under
  /// `fail` and `drop_oldest` the policy applies as to `push` (neither waits).
  [[nodiscard]] expected<void> try_push(message&& msg);
  /// Takes the next message; blocks. Error: channel_closed once closed and drained.
  [[nodiscard]] expected<message> pop();
  /// As `pop`, until `deadline` (`time_point::max()` waits for ever); `timed_out` when
  /// nothing came.
  [[nodiscard]] expected<message> pop_until(clock::time_point deadline);
  /// As `pop`, also ending with `cancelled` when a stop is requested on `stop` while nothing is
  /// queued (queued messages are still handed out first: draining semantics). For
  /// `context::receive(…, std::stop_token)`.
  [[nodiscard]] expected<message> pop(std::stop_token stop);
  /// As `pop_until`, also ending with `cancelled` on a stop request (see above).
  [[nodiscard]] expected<message> pop_until(clock::time_point deadline, std::stop_token stop);
  /// As `pop_until(now + timeout)` (saturated), `stop` as above when given; the default ring
  /// inbox reads the clock only when nothing is queued.
  [[nodiscard]] expected<message> pop_for(clock::duration timeout,
                                          const std::stop_token* stop = nullptr);
  /// Flow control for `try_push` (see `endpoint::when_writable`): `fn` runs once, on the
  /// receiver's thread when room appears (in the default ring inbox: once a quarter of its
  /// capacity is free) or on the closer's, on close, outside the inbox's
  /// locks. Must not block, throw, or call into this inbox. Returns false, without keeping
  /// `fn`, when there is room now or the inbox is closed. A later call replaces an earlier `fn`.
  [[nodiscard]] bool when_writable(std::function<void()> fn);
  /// Messages the inbox can take now without waiting (with lanes: the smallest room of a lane).
  [[nodiscard]] std::size_t room() const;
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
  /// True when `cancel` (given at construction) was signalled.
  [[nodiscard]] bool cancelled() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace beehive::detail
