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
  std::string target;  ///< the module or group it was sent to
  bool to_group = false;
  std::chrono::system_clock::time_point at;
};

/// One observer's bounded queue. The sender offers a copy and never waits: when the queue is
/// full the copy is not made and the drop is counted. Thread-safe.
class tap_subscription {
 public:
  tap_subscription(tap_filter filter, std::size_t capacity);

  /// Takes what is queued (at most `max`), waiting up to `timeout` for the first one. Empty on
  /// timeout or once closed.
  [[nodiscard]] std::vector<tapped_message> take_for(std::chrono::nanoseconds timeout,
                                                     std::size_t max);
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
  std::condition_variable cv_;
  std::deque<tapped_message> queue_;
  bool closed_ = false;
  bool waiting_ = false;
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
/// With taps attached, a send takes the hub's lock to copy the list of subscriptions (a
/// shared_ptr copy), then offers a copy of the message to each matching one: the subscription's
/// lock, one message copy (strings, content shared) into its queue, or a counted drop.
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
  [[nodiscard]] std::shared_ptr<const list> current() const;

  std::atomic<bool> active_{false};
  mutable std::mutex mu_;
  std::shared_ptr<const list> subs_ = std::make_shared<const list>();
  // Counters of detached taps, so that the totals never go down.
  std::uint64_t detached_delivered_ = 0;
  std::uint64_t detached_dropped_ = 0;
};

}  // namespace beehive::detail
