// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/message.hpp"
#include "beehive/short_string.hpp"

namespace beehive::detail {

struct member_list;

/// What a tap watches.
enum class tap_scope {
  all,     ///< every message sent to any module or group
  module,  ///< messages sent to one module, directly or through one of its groups
  group,   ///< messages sent to one group
};

struct tap_filter {
  tap_scope scope = tap_scope::all;
  std::string name;  ///< the module or group (unused for `all`)
};

/// One observed message: a copy whose content is shared with the original (never deep-copied).
struct tapped_message {
  message msg;
  short_string<39> target;  ///< the module or group it was sent to (inline up to 39 bytes)
  bool to_group = false;
  std::chrono::system_clock::time_point at;
};

/// One observer's bounded queue. The sender offers a copy and never waits: when the queue is
/// full the copy is not made and the drop is counted. Thread-safe; one reader.
///
/// Why the reader polls: a sender never wakes it (a wake per message would cost a system call
/// per send); `take_for` sleeps in slices until something is queued, so a tap's latency is at
/// most one slice (`take_slice`).
class tap_subscription {
 public:
  static constexpr std::chrono::milliseconds take_slice{20};

  tap_subscription(tap_filter filter, std::size_t capacity);

  /// What is queued, waiting up to `timeout` (in slices) for the first message. Empty on
  /// timeout or once closed. The reference stays valid until the next call (one reader).
  [[nodiscard]] std::vector<tapped_message>& take_for(std::chrono::nanoseconds timeout);
  /// Wakes a waiting `take_for`; later offers are refused (not counted as drops).
  void close();
  [[nodiscard]] bool closed() const;

  [[nodiscard]] const tap_filter& filter() const noexcept { return filter_; }
  [[nodiscard]] std::uint64_t delivered() const noexcept {
    return delivered_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

 private:
  friend class tap_hub;
  [[nodiscard]] bool matches_module(std::string_view module) const noexcept;
  [[nodiscard]] bool matches_group(std::string_view group, const member_list& members) const;
  void offer(const message& msg, std::string_view target, bool to_group);

  const tap_filter filter_;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // close() only
  // Two buffers that keep their storage: senders fill `queue_`, the reader swaps it with
  // `taken_`; no allocation in steady state.
  std::vector<tapped_message> queue_;
  std::vector<tapped_message> taken_;
  std::atomic<std::size_t> size_{0};  // queue_.size(), read without the lock by a full check
  bool closed_ = false;
  std::atomic<std::uint64_t> delivered_{0};  // queued for the observer
  std::atomic<std::uint64_t> dropped_{0};    // not queued: the observer's queue was full
};

/// Counters of every tap a context has had.
struct tap_hub_stats {
  std::size_t attached = 0;     ///< taps attached now
  std::uint64_t delivered = 0;  ///< copies queued for observers
  std::uint64_t dropped = 0;    ///< copies refused by a full observer queue
};

/// The taps of one context (a member of `context::impl`, so it lives as long as the context and
/// a sender never reaches a freed hub).
///
/// Why a flag: with no tap attached, a send pays `active()`, one relaxed load, and nothing else.
/// With taps attached, a send takes the hub's lock and offers a copy of the message to each
/// matching subscription: a counted drop when its queue is full, else its lock and one message
/// copy (strings, content shared) into its queue.
class tap_hub {
 public:
  [[nodiscard]] bool active() const noexcept { return active_.load(std::memory_order_relaxed); }

  /// A message sent to `module` (send, send_sync, or delivered from another process).
  void observe(std::string_view module, const message& msg);
  /// A message sent to `group`, whose members are `members`.
  void observe_group(std::string_view group, const member_list& members, const message& msg);

  /// Attaches a tap with a queue of `capacity` messages (at least 1).
  [[nodiscard]] std::shared_ptr<tap_subscription> attach(tap_filter filter, std::size_t capacity);
  /// Detaches it and closes it. Idempotent.
  void detach(const std::shared_ptr<tap_subscription>& sub);

  [[nodiscard]] tap_hub_stats stats() const;

 private:
  using list = std::vector<std::shared_ptr<tap_subscription>>;

  std::atomic<bool> active_{false};
  mutable std::mutex mu_;
  std::shared_ptr<const list> subs_ = std::make_shared<const list>();
  // Counters of detached taps, so that the totals never go down.
  std::uint64_t detached_delivered_ = 0;
  std::uint64_t detached_dropped_ = 0;
};

}  // namespace beehive::detail
