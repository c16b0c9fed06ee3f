// SPDX-License-Identifier: Apache-2.0
#include "channel/inbox.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "channel/lane_queue.hpp"
#include "channel/message_ring.hpp"
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
// Group deliveries that find the inbox full are parked (bounded by the capacity) instead of
// blocking the sender; any later message to this inbox queues behind the parked ones, and
// whoever frees room moves parked messages into `pending` first, so FIFO holds.
//
// `drop_oldest` inboxes hand out one message per lock acquisition (no private batch), so that
// the oldest message is always in `pending` where a producer can evict it.
//
// Cancel: a stop callback (registered at construction) sets `cancelled` and wakes every
// producer waiting for room; a waiting producer then gives up with `cancelled`. Relay flow
// control: a `when_writable` callback counts as a blocked producer (so the consumer publishes
// its progress) and is fired by whoever frees room, after its locks.
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
  std::uint64_t rejected_cancelled = 0;
  std::uint64_t dropped_oldest = 0;
  std::uint64_t dropped_on_close = 0;

  // Read by spinning consumers without a lock; written rarely (once per batch).
  alignas(64) std::atomic<bool> has_pending{false};
  std::atomic<bool> closed_flag{false};
  // Read by spinning producers and by the consumer per message; written when producers block.
  alignas(64) std::atomic<std::uint64_t> room_seq{0};
  std::atomic<int> producers_blocked{0};
  std::atomic<bool> cancelled{false};
  std::function<void()> writable;  // guarded by pmu

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
  // A pending `when_writable` callback is moved into `fire`, for the caller to run unlocked.
  [[nodiscard]] bool room_freed(std::function<void()>& fire) {
    if (producers_blocked.load(std::memory_order_relaxed) == 0) return false;
    room_seq.fetch_add(1, std::memory_order_release);
    if (writable && parked.empty() && room()) take_writable(fire);
    return producer_sleepers > 0;
  }

  void take_writable(std::function<void()>& fire) {
    if (!writable) return;
    fire.swap(writable);
    writable = nullptr;
    producers_blocked.fetch_sub(1, std::memory_order_relaxed);
  }
};

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

struct inbox::state : inbox_state {
  state(const inbox_options& o, std::stop_token cancel) : inbox_state(o) {
    if (o.shaped()) {
      shaped = std::make_unique<lane_queue>(o);
      shaped_mode.store(true, std::memory_order_relaxed);
      closed = true;  // the plain part stays closed while the lane queue serves
      closed_flag.store(true, std::memory_order_relaxed);
    }
    if (cancel.stop_possible()) on_cancel.emplace(std::move(cancel), cancel_waker{this});
  }

  // Wakes producers waiting for room, so that they see `cancelled`.
  struct cancel_waker {
    state* s;
    void operator()() const noexcept {
      s->cancelled.store(true, std::memory_order_release);
      {
        std::lock_guard lk(s->pmu);
        s->room_seq.fetch_add(1, std::memory_order_release);
      }
      s->not_full.notify_all();
      if (s->shaped_mode.load(std::memory_order_acquire)) s->shaped->wake_all();
    }
  };

  // Created when the options first ask for lanes or coalescing; never destroyed before the
  // inbox (a caller that read `shaped_mode` may still use it).
  std::unique_ptr<lane_queue> shaped;
  std::atomic<bool> shaped_mode{false};
  // Last: unregistered first, before the state it wakes goes.
  std::optional<std::stop_callback<cancel_waker>> on_cancel;
};

namespace {

using clock = inbox::clock;

}  // namespace

bool valid_inbox_options(const inbox_options& o) noexcept {
  if (o.capacity == 0) return false;
  for (const auto& l : o.lanes.lanes) {
    if (l.capacity == 0) return false;
  }
  for (const auto& r : o.lanes.rules) {
    if (r.lane >= o.lanes.lanes.size()) return false;
  }
  return o.lanes.lanes.empty() || o.lanes.default_lane < o.lanes.lanes.size();
}

inbox::inbox(inbox_options options, std::stop_token cancel)
    : s_(std::make_unique<state>(options, std::move(cancel))) {}

inbox::~inbox() = default;

namespace {

enum class push_kind { direct, group, relay };

expected<void> push_impl(inbox_state& s, message&& msg, push_kind how);

// Through the lane queue. A push that raced a reopen changing the inbox's kind finds the part
// it used closed: it tries the other part once.
template <class State>
expected<void> push_any(State& s, message&& msg, push_kind how) {
  for (int attempt = 0;; ++attempt) {
    const bool shaped = s.shaped_mode.load(std::memory_order_acquire);
    expected<void> r;
    if (shaped) {
      const lane_push lp = how == push_kind::direct  ? lane_push::direct
                           : how == push_kind::group ? lane_push::group
                                                     : lane_push::relay;
      r = s.shaped->push(std::move(msg), s.shaped->ticket(msg), lp, s.cancelled);
    } else {
      r = push_impl(s, std::move(msg), how);
    }
    if (r || r.error() != errc::channel_closed || attempt > 0 ||
        s.shaped_mode.load(std::memory_order_acquire) == shaped) {
      return r;
    }
  }
}

}  // namespace

expected<void> inbox::push(message&& msg) {
  if (s_->shaped_mode.load(std::memory_order_relaxed)) [[unlikely]] {
    return push_any(*s_, std::move(msg), push_kind::direct);
  }
  auto r = push_impl(*s_, std::move(msg), push_kind::direct);
  if (!r && r.error() == errc::channel_closed) [[unlikely]] {
    return push_any(*s_, std::move(msg), push_kind::direct);
  }
  return r;
}

expected<void> inbox::push_group(message&& msg) {
  return push_any(*s_, std::move(msg), push_kind::group);
}

expected<void> inbox::try_push(message&& msg) {
  return push_any(*s_, std::move(msg), push_kind::relay);
}

namespace {

expected<void> push_impl(inbox_state& s, message&& msg, push_kind how) {
  const bool group = how == push_kind::group;
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
  if (how == push_kind::relay && where != 1 && s.opts.overflow == overflow_policy::block) {
    // Where `block` would wait: never waits, never parks; the caller keeps the message (not a
    // loss, not counted). Under `fail` and `drop_oldest` the policy applies as to any push:
    // neither waits.
    return unexpected(errc::would_block);
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
        if (s.cancelled.load(std::memory_order_acquire)) {
          ++s.rejected_cancelled;
          return unexpected(errc::cancelled);
        }
        const bool bounded = opts.block_timeout.count() > 0;
        const auto deadline = bounded ? deadline_after(opts.block_timeout) : clock::time_point{};
        s.producers_blocked.fetch_add(1, std::memory_order_relaxed);
        // A brief spin first: the consumer usually frees room within microseconds.
        const auto seq = s.room_seq.load(std::memory_order_acquire);
        lk.unlock();
        (void)spin_until(
            [&] {
              return s.room_seq.load(std::memory_order_acquire) != seq ||
                     s.closed_flag.load(std::memory_order_acquire) ||
                     s.cancelled.load(std::memory_order_acquire);
            },
            bounded ? deadline : clock::time_point::max());
        lk.lock();
        auto ready = [&] {
          return s.closed || (where = s.slot_for(group)) != 0 ||
                 s.cancelled.load(std::memory_order_acquire);
        };
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
        if (s.closed) return unexpected(errc::channel_closed);
        if (where == 0) {
          if (ok) {
            // Woken by the cancel: the message goes back to the caller, counted as refused.
            ++s.rejected_cancelled;
            return unexpected(errc::cancelled);
          }
          ++s.rejected_full;
          return unexpected(errc::timed_out);
        }
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
bool take_pending(inbox_state& s, std::function<void()>& fire) {
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
  return s.room_freed(fire);
}

// Tells producers how far the consumer got in its batch, so that waiting producers get room
// before the batch runs dry. The caller holds cmu.
void publish_progress(inbox_state& s, std::function<void()>& fire) {
  bool wake = false;
  {
    std::lock_guard lk(s.pmu);
    s.outstanding = s.batch.size();
    s.refill();
    wake = s.room_freed(fire);
  }
  s.since_publish = 0;
  if (wake) s.not_full.notify_all();
}

// Wakes a consumer asleep in a pop that takes a stop token, when a stop is requested.
struct consumer_waker {
  inbox_state* s;
  void operator()() const noexcept {
    { std::lock_guard lk(s->pmu); }
    s->not_empty.notify_all();
  }
};

expected<message> pop_impl(inbox_state& s, bool bounded, clock::time_point deadline,
                           const std::stop_token* stop) {
  deferred_call fire;  // before the locks: runs after they are released
  std::unique_lock ck(s.cmu);
  for (;;) {
    if (!s.batch.empty()) {
      // Moved once, straight from the ring into the result.
      expected<message> out(std::move(s.batch.front()));
      s.batch.drop_front();
      ++s.received;
      if (!s.direct && s.producers_blocked.load(std::memory_order_relaxed) > 0 &&
          ++s.since_publish >= s.publish_step) {
        publish_progress(s, fire.fn);
      }
      return out;
    }
    bool wake = false;
    bool closed = false;
    {
      std::lock_guard lk(s.pmu);
      wake = take_pending(s, fire.fn);
      closed = s.closed;
    }
    if (wake) s.not_full.notify_all();
    if (!s.batch.empty()) continue;
    if (closed) return unexpected(errc::channel_closed);
    const auto stopped = [stop] { return stop != nullptr && stop->stop_requested(); };
    if (stopped()) return unexpected(errc::cancelled);
    if (bounded && clock::now() >= deadline) return unexpected(errc::timed_out);

    // Nothing queued: spin briefly, then sleep. cmu is released meanwhile so that `close`,
    // `stats` and other consumers never wait on a sleeping consumer.
    ck.unlock();
    const bool came = spin_until(
        [&] {
          return s.has_pending.load(std::memory_order_acquire) ||
                 s.closed_flag.load(std::memory_order_acquire) || stopped();
        },
        bounded ? deadline : clock::time_point::max());
    if (!came) {
      // Registered before the lock: a callback that runs at once (already stopped) takes it.
      std::optional<std::stop_callback<consumer_waker>> cb;
      if (stop != nullptr) cb.emplace(*stop, consumer_waker{&s});
      std::unique_lock lk(s.pmu);
      auto ready = [&] { return !s.pending.empty() || !s.parked.empty() || s.closed || stopped(); };
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

expected<message> inbox::pop() {
  if (s_->shaped_mode.load(std::memory_order_relaxed)) [[unlikely]] {
    return s_->shaped->pop(false, {}, nullptr);
  }
  return pop_impl(*s_, false, {}, nullptr);
}

expected<message> inbox::pop_until(clock::time_point deadline) {
  if (s_->shaped_mode.load(std::memory_order_relaxed)) [[unlikely]] {
    return s_->shaped->pop(true, deadline, nullptr);
  }
  return pop_impl(*s_, true, deadline, nullptr);
}

expected<message> inbox::pop(std::stop_token stop) {
  if (s_->shaped_mode.load(std::memory_order_relaxed)) [[unlikely]] {
    return s_->shaped->pop(false, {}, &stop);
  }
  return pop_impl(*s_, false, {}, &stop);
}

expected<message> inbox::pop_until(clock::time_point deadline, std::stop_token stop) {
  if (s_->shaped_mode.load(std::memory_order_relaxed)) [[unlikely]] {
    return s_->shaped->pop(true, deadline, &stop);
  }
  return pop_impl(*s_, true, deadline, &stop);
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
  deferred_call fire;
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
    s.take_writable(fire.fn);
    if (was_closed) return;
    // Wake spinning producers too.
    s.room_seq.fetch_add(1, std::memory_order_release);
  }
  s.not_full.notify_all();
  s.not_empty.notify_all();
}

}  // namespace

void inbox::close(std::vector<message>& dropped) {
  close_impl(*s_, dropped, false);
  if (s_->shaped) s_->shaped->close(dropped, false);
}

void inbox::discard(std::vector<message>& dropped) {
  close_impl(*s_, dropped, true);
  if (s_->shaped) s_->shaped->close(dropped, true);
}

namespace {

// Moves every message of the plain part out (oldest first), uncounted; the part stays closed.
void take_all_plain(inbox_state& s, std::vector<message>& out) {
  move_all(s.batch, out);
  move_all(s.pending, out);
  move_all(s.parked, out);
  s.outstanding = 0;
  s.has_pending.store(false, std::memory_order_relaxed);
}

}  // namespace

// Reopening may change the inbox's kind (plain <-> lanes/coalescing): queued messages then
// move over, in order, uncounted (they stay "queued" in the totals; per-lane counters start
// from them). The inbox is closed meanwhile, so no push gets in between.
void inbox::reopen(const inbox_options& options) {
  state& s = *s_;
  const bool want = options.shaped();
  const bool was = s.shaped_mode.load(std::memory_order_relaxed);
  if (want) {
    std::vector<message> moved;
    {
      std::lock_guard ck(s.cmu);
      std::lock_guard lk(s.pmu);
      s.configure(options);
      take_all_plain(s, moved);
      if (!s.shaped) s.shaped = std::make_unique<lane_queue>(options);
    }
    s.shaped->reopen(options, moved);
    s.shaped_mode.store(true, std::memory_order_release);
    return;
  }
  std::vector<message> moved;
  if (was) s.shaped->take_all(moved);
  std::lock_guard ck(s.cmu);
  std::lock_guard lk(s.pmu);
  const bool was_direct = s.direct;
  s.configure(options);
  if ((was_direct != s.direct && !s.batch.empty()) || !moved.empty()) {
    // The consumer's private batch goes back in front of pending, so that a direct inbox
    // finds the oldest message where producers evict from.
    ring<message> all;
    move_all_ring(s.batch, all);
    for (auto& m : moved) all.push_back(std::move(m));
    move_all_ring(s.pending, all);
    s.pending.swap(all);
    s.outstanding = 0;
    s.has_pending.store(!s.pending.empty(), std::memory_order_relaxed);
  }
  s.shaped_mode.store(false, std::memory_order_release);
  s.closed = false;
  s.closed_flag.store(false, std::memory_order_release);
}

inbox_options inbox::options() const {
  std::lock_guard lk(s_->pmu);
  return s_->opts;
}

bool inbox::closed() const noexcept {
  if (s_->shaped_mode.load(std::memory_order_acquire)) return s_->shaped->closed();
  return s_->closed_flag.load(std::memory_order_acquire);
}

bool inbox::cancelled() const noexcept { return s_->cancelled.load(std::memory_order_acquire); }

inbox_stats inbox::stats() const {
  inbox_stats st;
  {
    std::lock_guard ck(s_->cmu);
    std::lock_guard lk(s_->pmu);
    st.capacity = s_->opts.capacity;
    st.queued = s_->pending.size() + s_->parked.size() + s_->batch.size();
    st.accepted = s_->accepted;
    st.received = s_->received;
    st.rejected_full = s_->rejected_full;
    st.rejected_cancelled = s_->rejected_cancelled;
    st.dropped_oldest = s_->dropped_oldest;
    st.dropped_on_close = s_->dropped_on_close;
    st.closed = s_->closed;
  }
  if (s_->shaped) {
    s_->shaped->add_stats(st);
    if (s_->shaped_mode.load(std::memory_order_acquire)) {
      st.closed = s_->shaped->closed();
      if (!st.lanes.empty()) {
        st.capacity = 0;
        for (const auto& l : st.lanes) st.capacity += l.capacity;
      }
    }
  }
  return st;
}

std::size_t inbox::waiting_senders() const {
  std::size_t n = 0;
  {
    std::lock_guard lk(s_->pmu);
    n = s_->producer_sleepers;
  }
  if (s_->shaped) n += s_->shaped->waiting_senders();
  return n;
}

std::size_t inbox::waiting_receivers() const {
  std::size_t n = 0;
  {
    std::lock_guard lk(s_->pmu);
    n = s_->consumer_sleepers;
  }
  if (s_->shaped) n += s_->shaped->waiting_receivers();
  return n;
}

bool inbox::when_writable(std::function<void()> fn) {
  state& s = *s_;
  if (s.shaped_mode.load(std::memory_order_acquire)) return s.shaped->when_writable(std::move(fn));
  std::lock_guard lk(s.pmu);
  if (s.closed) return false;
  s.refill();
  if (s.parked.empty() && s.room()) return false;
  // Counts as a blocked producer, so that the consumer publishes its progress (room_freed).
  if (!s.writable) s.producers_blocked.fetch_add(1, std::memory_order_relaxed);
  s.writable = std::move(fn);
  return true;
}

std::size_t inbox::room() const {
  state& s = *s_;
  if (s.shaped_mode.load(std::memory_order_acquire)) return s.shaped->room();
  std::lock_guard lk(s.pmu);
  if (s.closed || !s.parked.empty()) return 0;
  const std::size_t used = s.pending.size() + s.outstanding;
  return used >= s.capacity ? 0 : s.capacity - used;
}

}  // namespace beehive::detail
