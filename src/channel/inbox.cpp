// SPDX-License-Identifier: Apache-2.0
#include "channel/inbox.hpp"

#include <atomic>
#include <mutex>
#include <optional>

#include "channel/lane_queue.hpp"
#include "channel/plain_queue.hpp"
#include "channel/ring_queue.hpp"
#include "core/deadline.hpp"

namespace beehive::detail {

// The inbox is a front for one of three queues, chosen by its options:
// - `ring_queue`, lock-free, for a plain module under `block` or `fail` (the common case);
// - `plain_queue`, two locks, for a plain module under `drop_oldest` or with a capacity above
//   `ring_queue::max_capacity`;
// - `lane_queue`, a lock per lane, for a module that asked for lanes or coalescing.
// `mode` says which serves now; the others, if they exist, stay closed. A reopen may switch
// them (messages move over, in order, uncounted), or, for a ring whose capacity changes, make
// a new ring. A queue, once made, lives as long as the inbox (a caller that read `mode` may
// still be using it); a push that raced a switch finds its queue closed and tries the new one
// once.
//
// Cancel: a stop callback (registered at construction) sets `cancelled` and wakes every
// producer waiting for room; a waiting producer then gives up with `cancelled`.
namespace {

enum kind : int { k_ring = 0, k_plain = 1, k_shaped = 2 };

int kind_of(const inbox_options& o) {
  if (o.shaped()) return k_shaped;
  return ring_queue::fits(o) ? k_ring : k_plain;
}

}  // namespace

struct inbox::state {
  state(const inbox_options& o, std::stop_token cancel) : opts(o) {
    const int k = kind_of(o);
    if (k == k_ring) {
      rings.push_back(std::make_unique<ring_queue>(o));
      ring.store(rings.back().get(), std::memory_order_relaxed);
    } else if (k == k_plain) {
      make_plain(o);
    } else {
      make_shaped(o);
    }
    mode.store(k, std::memory_order_release);
    if (cancel.stop_possible()) on_cancel.emplace(std::move(cancel), cancel_waker{this});
  }

  void make_plain(const inbox_options& o) {
    plain_owned = std::make_unique<plain_queue>(o);
    plain.store(plain_owned.get(), std::memory_order_release);
  }
  void make_shaped(const inbox_options& o) {
    shaped_owned = std::make_unique<lane_queue>(o);
    shaped.store(shaped_owned.get(), std::memory_order_release);
  }

  // Wakes producers waiting for room, so that they see `cancelled`.
  struct cancel_waker {
    state* s;
    void operator()() const noexcept {
      s->cancelled.store(true, std::memory_order_release);
      if (ring_queue* r = s->ring.load(std::memory_order_acquire)) r->wake_senders();
      if (plain_queue* p = s->plain.load(std::memory_order_acquire)) p->wake_senders();
      if (lane_queue* l = s->shaped.load(std::memory_order_acquire)) l->wake_all();
    }
  };

  // The queue serving now (read per call; written by the constructor and `reopen`).
  alignas(64) std::atomic<int> mode{k_ring};
  std::atomic<ring_queue*> ring{nullptr};
  std::atomic<plain_queue*> plain{nullptr};
  std::atomic<lane_queue*> shaped{nullptr};
  std::atomic<bool> cancelled{false};

  // Guarded by kinds_mu (reopen, stats, options).
  mutable std::mutex kinds_mu;
  inbox_options opts;
  std::vector<std::unique_ptr<ring_queue>> rings;  // the current one last
  std::unique_ptr<plain_queue> plain_owned;
  std::unique_ptr<lane_queue> shaped_owned;
  // Last: unregistered first, before the state it wakes goes.
  std::optional<std::stop_callback<cancel_waker>> on_cancel;
};

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

// Through whichever queue serves now. A push that raced a reopen switching queues finds the
// one it used closed: it tries the new one once.
template <class State>
expected<void> push_any(State& s, message&& msg, lane_push how) {
  for (int attempt = 0;; ++attempt) {
    const int k = s.mode.load(std::memory_order_acquire);
    const void* used = nullptr;
    expected<void> r;
    if (k == k_ring) {
      ring_queue* q = s.ring.load(std::memory_order_acquire);
      used = q;
      r = q->push(std::move(msg), how, s.cancelled);
    } else if (k == k_plain) {
      plain_queue* q = s.plain.load(std::memory_order_acquire);
      used = q;
      r = q->push(std::move(msg), how, s.cancelled);
    } else {
      lane_queue* q = s.shaped.load(std::memory_order_acquire);
      used = q;
      r = q->push(std::move(msg), q->ticket(msg), how, s.cancelled);
    }
    if (r || r.error() != errc::channel_closed || attempt > 0) return r;
    const int now = s.mode.load(std::memory_order_acquire);
    const void* serving = now == k_ring    ? static_cast<const void*>(s.ring.load())
                          : now == k_plain ? static_cast<const void*>(s.plain.load())
                                           : static_cast<const void*>(s.shaped.load());
    if (serving == used) return r;
  }
}

template <class State>
expected<message> pop_any(State& s, bool bounded, inbox::clock::time_point deadline,
                          const std::stop_token* stop) {
  const int k = s.mode.load(std::memory_order_acquire);
  if (k == k_ring) [[likely]] {
    return s.ring.load(std::memory_order_acquire)->pop(bounded, deadline, stop);
  }
  if (k == k_plain) return s.plain.load(std::memory_order_acquire)->pop(bounded, deadline, stop);
  return s.shaped.load(std::memory_order_acquire)->pop(bounded, deadline, stop);
}

}  // namespace

expected<void> inbox::push(message&& msg) {
  state& s = *s_;
  if (s.mode.load(std::memory_order_acquire) == k_ring) [[likely]] {
    auto r = s.ring.load(std::memory_order_acquire)
                 ->push(std::move(msg), lane_push::direct, s.cancelled);
    if (r || r.error() != errc::channel_closed) [[likely]]
      return r;
  }
  return push_any(s, std::move(msg), lane_push::direct);
}

expected<void> inbox::push_group(message&& msg) {
  return push_any(*s_, std::move(msg), lane_push::group);
}

expected<void> inbox::try_push(message&& msg) {
  return push_any(*s_, std::move(msg), lane_push::relay);
}

expected<message> inbox::pop() { return pop_any(*s_, false, {}, nullptr); }

expected<message> inbox::pop_until(clock::time_point deadline) {
  return pop_any(*s_, true, deadline, nullptr);
}

expected<message> inbox::pop_for(clock::duration timeout, const std::stop_token* stop) {
  state& s = *s_;
  if (s.mode.load(std::memory_order_acquire) == k_ring) [[likely]] {
    return s.ring.load(std::memory_order_acquire)->pop_for(timeout, stop);
  }
  return pop_any(s, true, deadline_after<clock>(timeout), stop);
}

expected<message> inbox::pop(std::stop_token stop) { return pop_any(*s_, false, {}, &stop); }

expected<message> inbox::pop_until(clock::time_point deadline, std::stop_token stop) {
  return pop_any(*s_, true, deadline, &stop);
}

namespace {

template <class State>
void close_all(State& s, std::vector<message>& dropped, bool drop_all) {
  if (ring_queue* r = s.ring.load(std::memory_order_acquire)) r->close(dropped, drop_all);
  if (plain_queue* p = s.plain.load(std::memory_order_acquire)) p->close(dropped, drop_all);
  if (lane_queue* l = s.shaped.load(std::memory_order_acquire)) l->close(dropped, drop_all);
}

}  // namespace

void inbox::close(std::vector<message>& dropped) { close_all(*s_, dropped, false); }

void inbox::discard(std::vector<message>& dropped) { close_all(*s_, dropped, true); }

// Reopening may change the queue (see the top): queued messages then move over, in order,
// uncounted (they stay "queued" in the totals; per-lane counters start from them). The inbox
// is closed meanwhile, so no push gets in between.
void inbox::reopen(const inbox_options& options) {
  state& s = *s_;
  std::lock_guard g(s.kinds_mu);
  s.opts = options;
  const int cur = s.mode.load(std::memory_order_relaxed);
  const int want = kind_of(options);
  ring_queue* r = s.ring.load(std::memory_order_relaxed);
  const bool same_ring = r != nullptr && r->capacity() == options.capacity;
  std::vector<message> moved;
  if (want == cur && (want != k_ring || same_ring)) {
    if (want == k_ring) r->reopen(options, moved);
    if (want == k_plain) s.plain_owned->reopen(options, moved);
    if (want == k_shaped) s.shaped_owned->reopen(options, moved);
    return;
  }
  if (cur == k_ring) r->retire(moved);
  if (cur == k_plain) s.plain_owned->retire(options, moved);
  if (cur == k_shaped) s.shaped_owned->take_all(moved);
  if (want == k_ring) {
    if (!same_ring) {
      s.rings.push_back(std::make_unique<ring_queue>(options));
      r = s.rings.back().get();
    }
    r->reopen(options, moved);
    s.ring.store(r, std::memory_order_release);
  } else if (want == k_plain) {
    if (!s.plain_owned) s.make_plain(options);
    s.plain_owned->reopen(options, moved);
  } else {
    if (!s.shaped_owned) s.make_shaped(options);
    s.shaped_owned->reopen(options, moved);
  }
  s.mode.store(want, std::memory_order_release);
}

inbox_options inbox::options() const {
  std::lock_guard g(s_->kinds_mu);
  return s_->opts;
}

bool inbox::closed() const noexcept {
  const state& s = *s_;
  const int k = s.mode.load(std::memory_order_acquire);
  if (k == k_ring) return s.ring.load(std::memory_order_acquire)->closed();
  if (k == k_plain) return s.plain.load(std::memory_order_acquire)->closed();
  return s.shaped.load(std::memory_order_acquire)->closed();
}

bool inbox::cancelled() const noexcept { return s_->cancelled.load(std::memory_order_acquire); }

inbox_stats inbox::stats() const {
  const state& s = *s_;
  inbox_stats st;
  std::lock_guard g(s.kinds_mu);
  for (const auto& r : s.rings) r->add_stats(st);
  if (s.plain_owned) s.plain_owned->add_stats(st);
  if (s.shaped_owned) s.shaped_owned->add_stats(st);
  st.capacity = s.opts.capacity;
  if (!st.lanes.empty()) {
    st.capacity = 0;
    for (const auto& l : st.lanes) st.capacity += l.capacity;
  }
  st.closed = closed();
  return st;
}

std::size_t inbox::waiting_senders() const {
  const state& s = *s_;
  std::lock_guard g(s.kinds_mu);
  std::size_t n = 0;
  for (const auto& r : s.rings) n += r->waiting_senders();
  if (s.plain_owned) n += s.plain_owned->waiting_senders();
  if (s.shaped_owned) n += s.shaped_owned->waiting_senders();
  return n;
}

std::size_t inbox::waiting_receivers() const {
  const state& s = *s_;
  std::lock_guard g(s.kinds_mu);
  std::size_t n = 0;
  for (const auto& r : s.rings) n += r->waiting_receivers();
  if (s.plain_owned) n += s.plain_owned->waiting_receivers();
  if (s.shaped_owned) n += s.shaped_owned->waiting_receivers();
  return n;
}

bool inbox::when_writable(std::function<void()> fn) {
  state& s = *s_;
  const int k = s.mode.load(std::memory_order_acquire);
  if (k == k_ring) return s.ring.load(std::memory_order_acquire)->when_writable(std::move(fn));
  if (k == k_plain) return s.plain.load(std::memory_order_acquire)->when_writable(std::move(fn));
  return s.shaped.load(std::memory_order_acquire)->when_writable(std::move(fn));
}

std::size_t inbox::room() const {
  const state& s = *s_;
  const int k = s.mode.load(std::memory_order_acquire);
  if (k == k_ring) return s.ring.load(std::memory_order_acquire)->room();
  if (k == k_plain) return s.plain.load(std::memory_order_acquire)->room();
  return s.shaped.load(std::memory_order_acquire)->room();
}

}  // namespace beehive::detail
