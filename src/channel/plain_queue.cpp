// SPDX-License-Identifier: Apache-2.0
#include "channel/plain_queue.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "core/deadline.hpp"
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
// Group deliveries that find the queue full are parked (bounded by the capacity) instead of
// blocking the sender; any later message queues behind the parked ones, and whoever frees
// room moves parked messages into `pending` first, so FIFO holds.
//
// `drop_oldest` queues hand out one message per lock acquisition (no private batch), so that
// the oldest message is always in `pending` where a producer can evict it.
//
// Cancel: the inbox's cancel flag is read by waiting producers; `wake_senders` wakes them to
// see it. Relay flow control: a `when_writable` callback counts as a blocked producer (so the
// consumer publishes its progress) and is fired by whoever frees room, after its locks.

namespace {

// Runs a `when_writable` callback when it goes out of scope: declared before the locks, so
// that it runs after they are released.
struct deferred_call {
  std::function<void()> fn;
  deferred_call() = default;
  deferred_call(const deferred_call&) = delete;
  deferred_call& operator=(const deferred_call&) = delete;
  ~deferred_call() {
    if (fn) fn();
  }
};

void move_all(ring<message>& from, std::vector<message>& to) {
  while (!from.empty()) to.push_back(from.pop_front());
}

void move_all_ring(ring<message>& from, ring<message>& to) {
  while (!from.empty()) to.push_back(from.pop_front());
}

}  // namespace

plain_queue::plain_queue(const inbox_options& options) { configure(options); }

// Set by the constructor and by `reopen`/`retire` (under both locks).
void plain_queue::configure(const inbox_options& o) {
  opts = o;
  capacity = o.capacity == 0 ? 1 : o.capacity;
  park_capacity = capacity;
  publish_step = std::max<std::size_t>(1, capacity / 4);
  direct = o.overflow == overflow_policy::drop_oldest;
}

void plain_queue::put_pending(message&& msg) {
  const bool was_empty = pending.empty();
  pending.push_back(std::move(msg));
  if (was_empty) has_pending.store(true, std::memory_order_release);
}

void plain_queue::refill() {
  while (!parked.empty() && has_room()) put_pending(parked.pop_front());
}

// Where a message may go now: 1 = pending, 2 = parked, 0 = nowhere (full).
int plain_queue::slot_for(bool group) {
  refill();
  if (parked.empty() && has_room()) return 1;
  if (!direct && parked.size() < park_capacity && (group || !parked.empty())) return 2;
  return 0;
}

void plain_queue::place(int where, message&& msg) {
  ++accepted;
  if (where == 1) {
    put_pending(std::move(msg));
  } else {
    parked.push_back(std::move(msg));
  }
}

// Tells spinning and sleeping producers that room appeared; returns whether to notify.
// A pending `when_writable` callback is moved into `fire`, for the caller to run unlocked.
bool plain_queue::room_freed(std::function<void()>& fire) {
  if (producers_blocked.load(std::memory_order_relaxed) == 0) return false;
  room_seq.fetch_add(1, std::memory_order_release);
  if (writable && parked.empty() && has_room()) take_writable(fire);
  return producer_sleepers > 0;
}

void plain_queue::take_writable(std::function<void()>& fire) {
  if (!writable) return;
  fire.swap(writable);
  writable = nullptr;
  producers_blocked.fetch_sub(1, std::memory_order_relaxed);
}

expected<void> plain_queue::push(message&& msg, lane_push how, const std::atomic<bool>& cancelled) {
  const bool group = how == lane_push::group;
  // Declared before the lock, so that an evicted message is destroyed after unlocking: its
  // content's destructor is user code, which may call into this inbox.
  message evicted;
  std::unique_lock lk(pmu);
  if (closed_) return unexpected(errc::channel_closed);
  int where = slot_for(group);
  if (where == 0 && !direct) {
    // Looks full, but the count may be stale: learn how far the consumer got in its batch.
    lk.unlock();
    {
      std::lock_guard ck(cmu);
      lk.lock();
      outstanding = batch.size();
    }
    if (closed_) return unexpected(errc::channel_closed);
    where = slot_for(group);
  }
  if (how == lane_push::relay && where != 1 && opts.overflow == overflow_policy::block) {
    // Where `block` would wait: never waits, never parks; the caller keeps the message (not a
    // loss, not counted). Under `fail` and `drop_oldest` the policy applies as to any push:
    // neither waits.
    return unexpected(errc::would_block);
  }
  if (where == 0) {
    switch (opts.overflow) {
      case overflow_policy::fail:
        ++rejected_full;
        return unexpected(errc::queue_full);
      case overflow_policy::drop_oldest:
        // Direct mode: the oldest message is the front of `pending`.
        if (!pending.empty()) {
          evicted = pending.pop_front();
          ++dropped_oldest;
        }
        where = 1;
        break;
      case overflow_policy::block: {
        if (cancelled.load(std::memory_order_acquire)) {
          ++rejected_cancelled;
          return unexpected(errc::cancelled);
        }
        const bool bounded = opts.block_timeout.count() > 0;
        const auto deadline = bounded ? deadline_after(opts.block_timeout) : clock::time_point{};
        producers_blocked.fetch_add(1, std::memory_order_relaxed);
        // A brief spin first: the consumer usually frees room within microseconds.
        const auto seq = room_seq.load(std::memory_order_acquire);
        lk.unlock();
        (void)spin_until(
            [&] {
              return room_seq.load(std::memory_order_acquire) != seq ||
                     closed_flag.load(std::memory_order_acquire) ||
                     cancelled.load(std::memory_order_acquire);
            },
            bounded ? deadline : clock::time_point::max());
        lk.lock();
        auto ready = [&] {
          return closed_ || (where = slot_for(group)) != 0 ||
                 cancelled.load(std::memory_order_acquire);
        };
        bool ok = ready();
        if (!ok) {
          ++producer_sleepers;
          if (bounded) {
            ok = not_full.wait_until(lk, deadline, ready);
          } else {
            not_full.wait(lk, ready);
            ok = true;
          }
          --producer_sleepers;
        }
        producers_blocked.fetch_sub(1, std::memory_order_relaxed);
        if (closed_) return unexpected(errc::channel_closed);
        if (where == 0) {
          if (ok) {
            // Woken by the cancel: the message goes back to the caller, counted as refused.
            ++rejected_cancelled;
            return unexpected(errc::cancelled);
          }
          ++rejected_full;
          return unexpected(errc::timed_out);
        }
        break;
      }
    }
  }
  place(where, std::move(msg));
  const bool wake = consumer_sleepers > 0;
  lk.unlock();
  if (wake) not_empty.notify_one();
  return {};
}

// Moves what producers queued into the consumer's batch (all of it, or one message in direct
// mode). The caller holds cmu and pmu, and the batch is empty. Returns whether to wake
// producers.
bool plain_queue::take_pending(std::function<void()>& fire) {
  outstanding = 0;
  refill();
  if (direct) {
    if (!pending.empty()) batch.push_back(pending.pop_front());
  } else {
    batch.swap(pending);
    outstanding = batch.size();
    refill();
  }
  has_pending.store(!pending.empty(), std::memory_order_relaxed);
  since_publish = 0;
  return room_freed(fire);
}

// Tells producers how far the consumer got in its batch, so that waiting producers get room
// before the batch runs dry. The caller holds cmu.
void plain_queue::publish_progress(std::function<void()>& fire) {
  bool wake = false;
  {
    std::lock_guard lk(pmu);
    outstanding = batch.size();
    refill();
    wake = room_freed(fire);
  }
  since_publish = 0;
  if (wake) not_full.notify_all();
}

expected<message> plain_queue::pop(bool bounded, clock::time_point deadline,
                                   const std::stop_token* stop) {
  deferred_call fire;  // before the locks: runs after they are released
  std::unique_lock ck(cmu);
  for (;;) {
    if (!batch.empty()) {
      // Moved once, straight from the ring into the result.
      expected<message> out(std::move(batch.front()));
      batch.drop_front();
      ++received;
      if (!direct && producers_blocked.load(std::memory_order_relaxed) > 0 &&
          ++since_publish >= publish_step) {
        publish_progress(fire.fn);
      }
      return out;
    }
    bool wake = false;
    bool is_closed = false;
    {
      std::lock_guard lk(pmu);
      wake = take_pending(fire.fn);
      is_closed = closed_;
    }
    if (wake) not_full.notify_all();
    if (!batch.empty()) continue;
    if (is_closed) return unexpected(errc::channel_closed);
    const auto stopped = [stop] { return stop != nullptr && stop->stop_requested(); };
    if (stopped()) return unexpected(errc::cancelled);
    if (bounded && clock::now() >= deadline) return unexpected(errc::timed_out);

    // Nothing queued: spin briefly, then sleep. cmu is released meanwhile so that `close`,
    // `stats` and other consumers never wait on a sleeping consumer.
    ck.unlock();
    // A `when_writable` callback taken above runs now, not when this pop returns: its relay
    // may hold the very message this consumer is about to wait for.
    if (fire.fn) std::exchange(fire.fn, nullptr)();
    const bool came = spin_until(
        [&] {
          return has_pending.load(std::memory_order_acquire) ||
                 closed_flag.load(std::memory_order_acquire) || stopped();
        },
        bounded ? deadline : clock::time_point::max());
    if (!came) {
      // Wakes this consumer when a stop is requested. Registered before the lock: a callback
      // that runs at once (already stopped) takes it.
      auto wake_me = [this]() noexcept {
        { std::lock_guard lk(pmu); }
        not_empty.notify_all();
      };
      std::optional<std::stop_callback<decltype(wake_me)>> cb;
      if (stop != nullptr) cb.emplace(*stop, wake_me);
      std::unique_lock lk(pmu);
      auto ready = [&] { return !pending.empty() || !parked.empty() || closed_ || stopped(); };
      if (!ready()) {
        ++consumer_sleepers;
        if (bounded) {
          (void)not_empty.wait_until(lk, deadline, ready);
        } else {
          not_empty.wait(lk, ready);
        }
        --consumer_sleepers;
      }
    }
    ck.lock();
  }
}

// Closes; with `drop_all`, drops whatever is queued whatever the close mode.
void plain_queue::close(std::vector<message>& dropped, bool drop_all) {
  deferred_call fire;
  {
    std::lock_guard ck(cmu);
    std::lock_guard lk(pmu);
    const bool was_closed = closed_;
    closed_ = true;
    closed_flag.store(true, std::memory_order_release);
    if ((!was_closed && opts.close == close_mode::drop) || drop_all) {
      dropped_on_close += pending.size() + parked.size() + batch.size();
      take_all_locked(dropped);
    }
    take_writable(fire.fn);
    if (was_closed) return;
    // Wake spinning producers too.
    room_seq.fetch_add(1, std::memory_order_release);
  }
  not_full.notify_all();
  not_empty.notify_all();
}

// Moves every message out (oldest first: the batch, then pending, then parked), uncounted.
void plain_queue::take_all_locked(std::vector<message>& out) {
  move_all(batch, out);
  move_all(pending, out);
  move_all(parked, out);
  outstanding = 0;
  has_pending.store(false, std::memory_order_relaxed);
}

void plain_queue::retire(const inbox_options& options, std::vector<message>& out) {
  std::lock_guard ck(cmu);
  std::lock_guard lk(pmu);
  configure(options);
  take_all_locked(out);
  closed_ = true;  // another queue serves the inbox now
  closed_flag.store(true, std::memory_order_release);
}

void plain_queue::reopen(const inbox_options& options, std::vector<message>& more) {
  std::lock_guard ck(cmu);
  std::lock_guard lk(pmu);
  const bool was_direct = direct;
  configure(options);
  if ((was_direct != direct && !batch.empty()) || !more.empty()) {
    // The consumer's private batch goes back in front of pending, so that a direct queue
    // finds the oldest message where producers evict from.
    ring<message> all;
    move_all_ring(batch, all);
    for (auto& m : more) all.push_back(std::move(m));
    move_all_ring(pending, all);
    pending.swap(all);
    outstanding = 0;
    has_pending.store(!pending.empty(), std::memory_order_relaxed);
  }
  closed_ = false;
  closed_flag.store(false, std::memory_order_release);
}

void plain_queue::add_stats(inbox_stats& st) const {
  std::lock_guard ck(cmu);
  std::lock_guard lk(pmu);
  st.queued += pending.size() + parked.size() + batch.size();
  st.accepted += accepted;
  st.received += received;
  st.rejected_full += rejected_full;
  st.rejected_cancelled += rejected_cancelled;
  st.dropped_oldest += dropped_oldest;
  st.dropped_on_close += dropped_on_close;
}

std::size_t plain_queue::waiting_senders() const {
  std::lock_guard lk(pmu);
  return producer_sleepers;
}

std::size_t plain_queue::waiting_receivers() const {
  std::lock_guard lk(pmu);
  return consumer_sleepers;
}

bool plain_queue::when_writable(std::function<void()> fn) {
  std::lock_guard lk(pmu);
  if (closed_) return false;
  refill();
  if (parked.empty() && has_room()) return false;
  // Counts as a blocked producer, so that the consumer publishes its progress (room_freed).
  if (!writable) producers_blocked.fetch_add(1, std::memory_order_relaxed);
  writable = std::move(fn);
  return true;
}

std::size_t plain_queue::room() const {
  std::lock_guard lk(pmu);
  if (closed_ || !parked.empty()) return 0;
  const std::size_t used = pending.size() + outstanding;
  return used >= capacity ? 0 : capacity - used;
}

void plain_queue::wake_senders() {
  {
    std::lock_guard lk(pmu);
    room_seq.fetch_add(1, std::memory_order_release);
  }
  not_full.notify_all();
}

}  // namespace beehive::detail
