// SPDX-License-Identifier: Apache-2.0
#include "channel/inbox.hpp"

#include <atomic>
#include <optional>

#include "channel/lane_queue.hpp"
#include "channel/plain_queue.hpp"

namespace beehive::detail {

// The inbox is a front for one of two queues: `plain_queue` for a plain module, `lane_queue`
// for one that asked for lanes or coalescing. `shaped_mode` says which serves now; the other
// stays closed. A reopen may switch them (messages move over, in order, uncounted); a push
// that raced the switch finds its queue closed and tries the other once.
//
// Cancel: a stop callback (registered at construction) sets `cancelled` and wakes every
// producer waiting for room in either queue; a waiting producer then gives up with
// `cancelled`.
struct inbox::state {
  state(const inbox_options& o, std::stop_token cancel) : plain(o) {
    if (o.shaped()) {
      shaped = std::make_unique<lane_queue>(o);
      shaped_mode.store(true, std::memory_order_relaxed);
      plain.mark_closed();  // the plain part stays closed while the lane queue serves
    }
    if (cancel.stop_possible()) on_cancel.emplace(std::move(cancel), cancel_waker{this});
  }

  // Wakes producers waiting for room, so that they see `cancelled`.
  struct cancel_waker {
    state* s;
    void operator()() const noexcept {
      s->cancelled.store(true, std::memory_order_release);
      s->plain.wake_senders();
      if (s->shaped_mode.load(std::memory_order_acquire)) s->shaped->wake_all();
    }
  };

  plain_queue plain;
  // Created when the options first ask for lanes or coalescing; never destroyed before the
  // inbox (a caller that read `shaped_mode` may still use it).
  std::unique_ptr<lane_queue> shaped;
  std::atomic<bool> shaped_mode{false};
  std::atomic<bool> cancelled{false};
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

// Through whichever queue serves now. A push that raced a reopen changing the inbox's kind
// finds the queue it used closed: it tries the other one once.
template <class State>
expected<void> push_any(State& s, message&& msg, lane_push how) {
  for (int attempt = 0;; ++attempt) {
    const bool shaped = s.shaped_mode.load(std::memory_order_acquire);
    expected<void> r;
    if (shaped) {
      r = s.shaped->push(std::move(msg), s.shaped->ticket(msg), how, s.cancelled);
    } else {
      r = s.plain.push(std::move(msg), how, s.cancelled);
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
    return push_any(*s_, std::move(msg), lane_push::direct);
  }
  auto r = s_->plain.push(std::move(msg), lane_push::direct, s_->cancelled);
  if (!r && r.error() == errc::channel_closed) [[unlikely]] {
    return push_any(*s_, std::move(msg), lane_push::direct);
  }
  return r;
}

expected<void> inbox::push_group(message&& msg) {
  return push_any(*s_, std::move(msg), lane_push::group);
}

expected<void> inbox::try_push(message&& msg) {
  return push_any(*s_, std::move(msg), lane_push::relay);
}

expected<message> inbox::pop() {
  if (s_->shaped_mode.load(std::memory_order_relaxed)) [[unlikely]] {
    return s_->shaped->pop(false, {}, nullptr);
  }
  return s_->plain.pop(false, {}, nullptr);
}

expected<message> inbox::pop_until(clock::time_point deadline) {
  if (s_->shaped_mode.load(std::memory_order_relaxed)) [[unlikely]] {
    return s_->shaped->pop(true, deadline, nullptr);
  }
  return s_->plain.pop(true, deadline, nullptr);
}

expected<message> inbox::pop(std::stop_token stop) {
  if (s_->shaped_mode.load(std::memory_order_relaxed)) [[unlikely]] {
    return s_->shaped->pop(false, {}, &stop);
  }
  return s_->plain.pop(false, {}, &stop);
}

expected<message> inbox::pop_until(clock::time_point deadline, std::stop_token stop) {
  if (s_->shaped_mode.load(std::memory_order_relaxed)) [[unlikely]] {
    return s_->shaped->pop(true, deadline, &stop);
  }
  return s_->plain.pop(true, deadline, &stop);
}

void inbox::close(std::vector<message>& dropped) {
  s_->plain.close(dropped, false);
  if (s_->shaped) s_->shaped->close(dropped, false);
}

void inbox::discard(std::vector<message>& dropped) {
  s_->plain.close(dropped, true);
  if (s_->shaped) s_->shaped->close(dropped, true);
}

// Reopening may change the inbox's kind (plain <-> lanes/coalescing): queued messages then
// move over, in order, uncounted (they stay "queued" in the totals; per-lane counters start
// from them). The inbox is closed meanwhile, so no push gets in between.
void inbox::reopen(const inbox_options& options) {
  state& s = *s_;
  std::vector<message> moved;
  if (options.shaped()) {
    s.plain.retire(options, moved);
    if (!s.shaped) s.shaped = std::make_unique<lane_queue>(options);
    s.shaped->reopen(options, moved);
    s.shaped_mode.store(true, std::memory_order_release);
    return;
  }
  if (s.shaped_mode.load(std::memory_order_relaxed)) s.shaped->take_all(moved);
  s.shaped_mode.store(false, std::memory_order_release);
  s.plain.reopen(options, moved);
}

inbox_options inbox::options() const { return s_->plain.options(); }

bool inbox::closed() const noexcept {
  if (s_->shaped_mode.load(std::memory_order_acquire)) return s_->shaped->closed();
  return s_->plain.closed();
}

bool inbox::cancelled() const noexcept { return s_->cancelled.load(std::memory_order_acquire); }

inbox_stats inbox::stats() const {
  inbox_stats st;
  s_->plain.stats(st);
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
  std::size_t n = s_->plain.waiting_senders();
  if (s_->shaped) n += s_->shaped->waiting_senders();
  return n;
}

std::size_t inbox::waiting_receivers() const {
  std::size_t n = s_->plain.waiting_receivers();
  if (s_->shaped) n += s_->shaped->waiting_receivers();
  return n;
}

bool inbox::when_writable(std::function<void()> fn) {
  if (s_->shaped_mode.load(std::memory_order_acquire)) {
    return s_->shaped->when_writable(std::move(fn));
  }
  return s_->plain.when_writable(std::move(fn));
}

std::size_t inbox::room() const {
  if (s_->shaped_mode.load(std::memory_order_acquire)) return s_->shaped->room();
  return s_->plain.room();
}

}  // namespace beehive::detail
