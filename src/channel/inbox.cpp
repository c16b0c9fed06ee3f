// SPDX-License-Identifier: Apache-2.0
#include "channel/inbox.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "channel/message_ring.hpp"
#include "core/spin_wait.hpp"

namespace beehive::detail {

// Why two locks: producers append to `pending` under `pmu`; the consumer owns `batch` under
// `cmu` and, when it runs dry, swaps the whole pending ring into it with one acquisition of
// `pmu`. The producer lock is thus taken by the consumer once per batch, not once per message.
//
// Capacity is exact without a per-message shared counter: producers count `pending` plus
// `outstanding`, the batch size the consumer last published. The consumer publishes at each
// swap, and also every `publish_step` messages while some producer waits for room. The count
// can only overstate what is queued, so the capacity is never exceeded.
//
// Group deliveries that find the inbox full are parked (bounded by the capacity) instead of
// blocking the sender; any later message to this inbox queues behind the parked ones, and
// whoever frees room moves parked messages into `pending` first, so FIFO holds.
//
// `drop_oldest` inboxes hand out one message per lock acquisition (no private batch), so that
// the oldest message is always in `pending` where a producer can evict it.
struct inbox_state {
  explicit inbox_state(const inbox_options& o) { configure(o); }

  // Set by the constructor and by `reopen` (under both locks).
  void configure(const inbox_options& o) {
    opts = o;
    capacity = o.capacity == 0 ? 1 : o.capacity;
    park_capacity = capacity;
    publish_step = std::max<std::size_t>(1, capacity / 4);
    direct = o.overflow == overflow_policy::drop_oldest;
  }

  // Guarded by pmu (and cmu, where the consumer reads them).
  inbox_options opts;
  std::size_t capacity = 1;
  std::size_t park_capacity = 1;
  std::size_t publish_step = 1;
  bool direct = false;

  // Producer side, guarded by pmu.
  alignas(64) std::mutex pmu;
  std::condition_variable not_full;
  std::condition_variable not_empty;
  ring<message> pending;
  ring<message> parked;
  std::size_t outstanding = 0;
  std::size_t producer_sleepers = 0;
  std::size_t consumer_sleepers = 0;
  bool closed = false;
  std::uint64_t accepted = 0;
  std::uint64_t rejected_full = 0;
  std::uint64_t dropped_oldest = 0;
  std::uint64_t dropped_on_close = 0;

  // Read by spinning consumers without a lock; written rarely (once per batch).
  alignas(64) std::atomic<bool> has_pending{false};
  std::atomic<bool> closed_flag{false};
  // Read by spinning producers and by the consumer per message; written when producers block.
  alignas(64) std::atomic<std::uint64_t> room_seq{0};
  std::atomic<int> producers_blocked{0};

  // Consumer side, guarded by cmu.
  alignas(64) std::mutex cmu;
  ring<message> batch;
  std::size_t since_publish = 0;
  std::uint64_t received = 0;

  // --- helpers; the caller holds pmu ---
  [[nodiscard]] bool room() const noexcept { return pending.size() + outstanding < capacity; }

  void put_pending(message&& msg) {
    const bool was_empty = pending.empty();
    pending.push_back(std::move(msg));
    if (was_empty) has_pending.store(true, std::memory_order_release);
  }

  void refill() {
    while (!parked.empty() && room()) put_pending(parked.pop_front());
  }

  // Where a message may go now: 1 = pending, 2 = parked, 0 = nowhere (full).
  [[nodiscard]] int slot_for(bool group) {
    refill();
    if (parked.empty() && room()) return 1;
    if (!direct && parked.size() < park_capacity && (group || !parked.empty())) return 2;
    return 0;
  }

  void place(int where, message&& msg) {
    ++accepted;
    if (where == 1) {
      put_pending(std::move(msg));
    } else {
      parked.push_back(std::move(msg));
    }
  }

  // Tells spinning and sleeping producers that room appeared; returns whether to notify.
  [[nodiscard]] bool room_freed() {
    if (producers_blocked.load(std::memory_order_relaxed) == 0) return false;
    room_seq.fetch_add(1, std::memory_order_release);
    return producer_sleepers > 0;
  }
};

struct inbox::state : inbox_state {
  using inbox_state::inbox_state;
};

namespace {

using clock = inbox::clock;

}  // namespace

inbox::inbox(inbox_options options) : s_(std::make_unique<state>(options)) {}

inbox::~inbox() = default;

namespace {

expected<void> push_impl(inbox_state& s, message&& msg, bool group);

}  // namespace

expected<void> inbox::push(message&& msg) { return push_impl(*s_, std::move(msg), false); }

expected<void> inbox::push_group(message&& msg) { return push_impl(*s_, std::move(msg), true); }

namespace {

expected<void> push_impl(inbox_state& s, message&& msg, bool group) {
  // Declared before the lock, so that an evicted message is destroyed after unlocking: its
  // content's destructor is user code, which may call into this inbox.
  message evicted;
  std::unique_lock lk(s.pmu);
  if (s.closed) return unexpected(errc::channel_closed);
  int where = s.slot_for(group);
  if (where == 0 && !s.direct) {
    // Looks full, but the count may be stale: learn how far the consumer got in its batch.
    lk.unlock();
    {
      std::lock_guard ck(s.cmu);
      lk.lock();
      s.outstanding = s.batch.size();
    }
    if (s.closed) return unexpected(errc::channel_closed);
    where = s.slot_for(group);
  }
  if (where == 0) {
    const inbox_options& opts = s.opts;
    switch (opts.overflow) {
      case overflow_policy::fail:
        ++s.rejected_full;
        return unexpected(errc::queue_full);
      case overflow_policy::drop_oldest:
        // Direct mode: the oldest message is the front of `pending`.
        if (!s.pending.empty()) {
          evicted = s.pending.pop_front();
          ++s.dropped_oldest;
        }
        where = 1;
        break;
      case overflow_policy::block: {
        const bool bounded = opts.block_timeout.count() > 0;
        const auto deadline = bounded ? clock::now() + opts.block_timeout : clock::time_point{};
        s.producers_blocked.fetch_add(1, std::memory_order_relaxed);
        // A brief spin first: the consumer usually frees room within microseconds.
        const auto seq = s.room_seq.load(std::memory_order_acquire);
        lk.unlock();
        (void)spin_until(
            [&] {
              return s.room_seq.load(std::memory_order_acquire) != seq ||
                     s.closed_flag.load(std::memory_order_acquire);
            },
            bounded ? deadline : clock::time_point::max());
        lk.lock();
        auto ready = [&] { return s.closed || (where = s.slot_for(group)) != 0; };
        bool ok = ready();
        if (!ok) {
          ++s.producer_sleepers;
          if (bounded) {
            ok = s.not_full.wait_until(lk, deadline, ready);
          } else {
            s.not_full.wait(lk, ready);
            ok = true;
          }
          --s.producer_sleepers;
        }
        s.producers_blocked.fetch_sub(1, std::memory_order_relaxed);
        if (!ok) {
          ++s.rejected_full;
          return unexpected(errc::timed_out);
        }
        if (s.closed) return unexpected(errc::channel_closed);
        break;
      }
    }
  }
  s.place(where, std::move(msg));
  const bool wake = s.consumer_sleepers > 0;
  lk.unlock();
  if (wake) s.not_empty.notify_one();
  return {};
}

}  // namespace

namespace {

// Moves what producers queued into the consumer's batch (all of it, or one message in direct
// mode). The caller holds cmu and pmu, and the batch is empty. Returns whether to wake
// producers.
bool take_pending(inbox_state& s) {
  s.outstanding = 0;
  s.refill();
  if (s.direct) {
    if (!s.pending.empty()) s.batch.push_back(s.pending.pop_front());
  } else {
    s.batch.swap(s.pending);
    s.outstanding = s.batch.size();
    s.refill();
  }
  s.has_pending.store(!s.pending.empty(), std::memory_order_relaxed);
  s.since_publish = 0;
  return s.room_freed();
}

// Tells producers how far the consumer got in its batch, so that waiting producers get room
// before the batch runs dry. The caller holds cmu.
void publish_progress(inbox_state& s) {
  bool wake = false;
  {
    std::lock_guard lk(s.pmu);
    s.outstanding = s.batch.size();
    s.refill();
    wake = s.room_freed();
  }
  s.since_publish = 0;
  if (wake) s.not_full.notify_all();
}

expected<message> pop_impl(inbox_state& s, bool bounded, clock::time_point deadline) {
  std::unique_lock ck(s.cmu);
  for (;;) {
    if (!s.batch.empty()) {
      // Moved once, straight from the ring into the result.
      expected<message> out(std::move(s.batch.front()));
      s.batch.drop_front();
      ++s.received;
      if (!s.direct && s.producers_blocked.load(std::memory_order_relaxed) > 0 &&
          ++s.since_publish >= s.publish_step) {
        publish_progress(s);
      }
      return out;
    }
    bool wake = false;
    bool closed = false;
    {
      std::lock_guard lk(s.pmu);
      wake = take_pending(s);
      closed = s.closed;
    }
    if (wake) s.not_full.notify_all();
    if (!s.batch.empty()) continue;
    if (closed) return unexpected(errc::channel_closed);
    if (bounded && clock::now() >= deadline) return unexpected(errc::timed_out);

    // Nothing queued: spin briefly, then sleep. cmu is released meanwhile so that `close`,
    // `stats` and other consumers never wait on a sleeping consumer.
    ck.unlock();
    const bool came = spin_until(
        [&] {
          return s.has_pending.load(std::memory_order_acquire) ||
                 s.closed_flag.load(std::memory_order_acquire);
        },
        bounded ? deadline : clock::time_point::max());
    if (!came) {
      std::unique_lock lk(s.pmu);
      auto ready = [&] { return !s.pending.empty() || !s.parked.empty() || s.closed; };
      if (!ready()) {
        ++s.consumer_sleepers;
        if (bounded) {
          (void)s.not_empty.wait_until(lk, deadline, ready);
        } else {
          s.not_empty.wait(lk, ready);
        }
        --s.consumer_sleepers;
      }
    }
    ck.lock();
  }
}

}  // namespace

expected<message> inbox::pop() { return pop_impl(*s_, false, {}); }

expected<message> inbox::pop_until(clock::time_point deadline) {
  return pop_impl(*s_, true, deadline);
}

namespace {

void move_all_ring(ring<message>& from, ring<message>& to) {
  while (!from.empty()) to.push_back(from.pop_front());
}

void move_all(ring<message>& from, std::vector<message>& to) {
  while (!from.empty()) to.push_back(from.pop_front());
}

// Closes; with `drop_all`, drops whatever is queued whatever the close mode.
void close_impl(inbox_state& s, std::vector<message>& dropped, bool drop_all) {
  {
    std::lock_guard ck(s.cmu);
    std::lock_guard lk(s.pmu);
    const bool was_closed = s.closed;
    s.closed = true;
    s.closed_flag.store(true, std::memory_order_release);
    if ((!was_closed && s.opts.close == close_mode::drop) || drop_all) {
      s.dropped_on_close += s.pending.size() + s.parked.size() + s.batch.size();
      // Oldest first: the batch, then pending, then parked.
      move_all(s.batch, dropped);
      move_all(s.pending, dropped);
      move_all(s.parked, dropped);
      s.outstanding = 0;
      s.has_pending.store(false, std::memory_order_relaxed);
    }
    if (was_closed) return;
    // Wake spinning producers too.
    s.room_seq.fetch_add(1, std::memory_order_release);
  }
  s.not_full.notify_all();
  s.not_empty.notify_all();
}

}  // namespace

void inbox::close(std::vector<message>& dropped) { close_impl(*s_, dropped, false); }

void inbox::discard(std::vector<message>& dropped) { close_impl(*s_, dropped, true); }

void inbox::reopen(const inbox_options& options) {
  std::lock_guard ck(s_->cmu);
  std::lock_guard lk(s_->pmu);
  const bool was_direct = s_->direct;
  s_->configure(options);
  if (was_direct != s_->direct && !s_->batch.empty()) {
    // The consumer's private batch goes back in front of pending, so that a direct inbox
    // finds the oldest message where producers evict from.
    ring<message> all;
    move_all_ring(s_->batch, all);
    move_all_ring(s_->pending, all);
    s_->pending.swap(all);
    s_->outstanding = 0;
    s_->has_pending.store(!s_->pending.empty(), std::memory_order_relaxed);
  }
  s_->closed = false;
  s_->closed_flag.store(false, std::memory_order_release);
}

inbox_options inbox::options() const {
  std::lock_guard lk(s_->pmu);
  return s_->opts;
}

bool inbox::closed() const noexcept { return s_->closed_flag.load(std::memory_order_acquire); }

inbox_stats inbox::stats() const {
  std::lock_guard ck(s_->cmu);
  std::lock_guard lk(s_->pmu);
  inbox_stats st;
  st.capacity = s_->opts.capacity;
  st.queued = s_->pending.size() + s_->parked.size() + s_->batch.size();
  st.accepted = s_->accepted;
  st.received = s_->received;
  st.rejected_full = s_->rejected_full;
  st.dropped_oldest = s_->dropped_oldest;
  st.dropped_on_close = s_->dropped_on_close;
  st.closed = s_->closed;
  return st;
}

std::size_t inbox::waiting_senders() const {
  std::lock_guard lk(s_->pmu);
  return s_->producer_sleepers;
}

std::size_t inbox::waiting_receivers() const {
  std::lock_guard lk(s_->pmu);
  return s_->consumer_sleepers;
}

}  // namespace beehive::detail
