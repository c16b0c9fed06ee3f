// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
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
  all,     ///< every message sent to any module or group, and every reply
  module,  ///< messages sent to one module, directly or through one of its groups, and the
           ///< replies to its requests (a reply whose `route.source` is the module)
  group,   ///< messages sent to one group
};

struct tap_filter {
  tap_scope scope = tap_scope::all;
  std::string name;  ///< the module or group (unused for `all`)
};

/// One observed message: a copy whose content is shared with the original (never deep-copied).
struct tapped_message {
  message msg;
  /// The module or group it was sent to; for a reply, its requester (`route.source`). Inline
  /// up to 39 bytes.
  short_string<39> target;
  bool to_group = false;
  bool reply = false;  ///< given to `send_resp`
  std::chrono::system_clock::time_point at;
};

/// The sender's side of one tap: its filter, bounded queue and counters. The hub's snapshots
/// hold it (a sender may still reach it through a stale snapshot after the tap is detached:
/// it is closed then, refuses without counting, and holds no queue storage).
class tap_sink {
 public:
  tap_sink(tap_filter filter, std::size_t capacity);

  [[nodiscard]] bool matches_module(std::string_view module) const noexcept {
    return filter_.scope == tap_scope::all ||
           (filter_.scope == tap_scope::module && filter_.name == module);
  }
  [[nodiscard]] bool matches_group(std::string_view group, const member_list& members) const;
  /// Queues a copy of `msg`, or counts a drop when the queue is full. Never waits for the
  /// reader; runs no user code.
  void offer(const message& msg, std::string_view target, bool to_group, bool reply) {
    // Full: counted without the lock (the reader empties the queue at once when it takes). A
    // closed sink's size is 0, so a stale sender never counts a drop in it here.
    if (size_.load(std::memory_order_relaxed) >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue(msg, target, to_group, reply);
  }

  /// Swaps what is queued into `out` (empty, its storage reused), waiting up to `timeout`
  /// (in slices) for the first message, and not before `not_before` (bounded by `timeout`).
  /// Nothing on timeout or once closed.
  void take_into(std::vector<tapped_message>& out, std::chrono::nanoseconds timeout,
                 std::chrono::steady_clock::time_point not_before);
  /// Wakes a waiting `take_into`; later offers are refused (not counted). What was queued is
  /// released, outside the lock.
  void close();
  [[nodiscard]] bool closed() const;

  [[nodiscard]] const tap_filter& filter() const noexcept { return filter_; }
  [[nodiscard]] std::uint64_t delivered() const noexcept {
    return delivered_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

  static constexpr std::chrono::milliseconds take_slice{50};

 private:
  void queue(const message& msg, std::string_view target, bool to_group, bool reply);

  const tap_filter filter_;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // close() only
  std::vector<tapped_message> queue_;
  std::atomic<std::size_t> size_{0};  // queue_.size(), read without the lock by a full check
  bool closed_ = false;
  std::atomic<std::uint64_t> delivered_{0};  // queued for the observer
  std::atomic<std::uint64_t> dropped_{0};    // not queued: the observer's queue was full
};

/// One observer's tap (its reader's handle). The sender offers a copy and never waits: when
/// the queue is full the copy is not made and the drop is counted. One reader.
///
/// Why the reader polls: a sender never wakes it (a wake per message would cost a system call
/// per send); `take_for` sleeps in slices until something is queued, so a tap's latency is at
/// most one slice (`take_slice`).
///
/// Why at most one take per slice: under a flood a reader that took again at once would spin
/// (a core of a small machine) and make the senders copy every message it can drain. Taking at
/// most once per slice bounds both: a tap shows up to its capacity per slice (4096 per 50 ms,
/// ~80k messages/s by default, far more than a reader of JSON lines takes in); senders count
/// the rest as drops, without a lock. What a tap costs senders under a flood is so bounded by
/// what it shows: each copy queued is one clock read, one lock and one 320-byte copy into a
/// buffer the reader swapped away (cold in the sender's cache).
class tap_subscription {
 public:
  static constexpr std::chrono::milliseconds take_slice = tap_sink::take_slice;

  tap_subscription(tap_filter filter, std::size_t capacity);

  /// What is queued, waiting up to `timeout` (in slices) for the first message. Empty on
  /// timeout or once closed. The reference stays valid until the next call (one reader).
  [[nodiscard]] std::vector<tapped_message>& take_for(std::chrono::nanoseconds timeout);
  /// Wakes a waiting `take_for`; later offers are refused (not counted as drops).
  void close() { sink_->close(); }
  [[nodiscard]] bool closed() const { return sink_->closed(); }

  [[nodiscard]] const tap_filter& filter() const noexcept { return sink_->filter(); }
  [[nodiscard]] std::uint64_t delivered() const noexcept { return sink_->delivered(); }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return sink_->dropped(); }

 private:
  friend class tap_hub;
  std::shared_ptr<tap_sink> sink_;
  std::chrono::steady_clock::time_point last_take_{};
  // The reader's batch; its storage and the sink's queue are swapped, so that the steady
  // state allocates nothing.
  std::vector<tapped_message> taken_;
};

/// Counters of every tap a context has had.
struct tap_hub_stats {
  std::size_t attached = 0;     ///< taps attached now
  std::uint64_t delivered = 0;  ///< copies queued for observers
  std::uint64_t dropped = 0;    ///< copies refused by a full observer queue
};

/// The taps of one context (a member of `context_state`, so it lives as long as the context
/// and a sender never reaches a freed hub).
///
/// Why a flag: with no tap attached, a send pays `active()`, one relaxed load, and nothing else.
///
/// Why a thread-local snapshot: with taps attached, a send takes no lock of the hub. The hub
/// publishes an immutable list of sinks with a process-wide unique version; each thread keeps
/// the last list it used (one slot) and compares versions: one acquire load and one compare
/// per observed message, the hub's lock only when the list changed (or the thread last used
/// another hub). What a stale list keeps alive is bounded: per thread one list of at most the
/// hub's taps, each a closed sink without queue storage, released at the thread's next
/// observed message or its exit. Versions are unique across hubs, so a new hub at a freed
/// hub's address is never mistaken for it.
class tap_hub {
 public:
  tap_hub();
  ~tap_hub();
  tap_hub(const tap_hub&) = delete;
  tap_hub& operator=(const tap_hub&) = delete;

  [[nodiscard]] bool active() const noexcept { return active_.load(std::memory_order_relaxed); }

  /// A message sent to `module` (send, send_sync, or delivered from another process).
  void observe(std::string_view module, const message& msg);
  /// A message sent to `group`, whose members are `members`.
  void observe_group(std::string_view group, const member_list& members, const message& msg);
  /// A reply given to `send_resp`.
  void observe_reply(const message& resp);

  /// Attaches a tap with a queue of `capacity` messages (at least 1).
  [[nodiscard]] std::shared_ptr<tap_subscription> attach(tap_filter filter, std::size_t capacity);
  /// Detaches it and closes it. Idempotent.
  void detach(const std::shared_ptr<tap_subscription>& sub);

  [[nodiscard]] tap_hub_stats stats() const;

  /// The published list of sinks.
  struct snapshot {
    std::uint64_t version = 0;
    std::vector<std::shared_ptr<tap_sink>> sinks;
  };

 private:
  // Calls fn(tap_sink&) for each sink of this thread's list of the hub's taps.
  template <class Fn>
  void each_sink(Fn&& fn);
  [[nodiscard]] std::shared_ptr<const snapshot> refresh();
  void publish(std::vector<std::shared_ptr<tap_sink>> sinks);  // mu_ held
  void fold_retired();                                         // mu_ held

  std::atomic<bool> active_{false};
  std::atomic<std::uint64_t> version_{0};  // of subs_
  mutable std::mutex mu_;
  std::shared_ptr<const snapshot> subs_;
  // Detached sinks a stale snapshot may still count a drop in: folded into the totals once
  // nothing else holds them (so that the totals never go down and miss nothing).
  std::vector<std::shared_ptr<tap_sink>> retired_;
  std::uint64_t detached_delivered_ = 0;
  std::uint64_t detached_dropped_ = 0;
};

}  // namespace beehive::detail
