// SPDX-License-Identifier: Apache-2.0
#include "channel/lane_queue.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <string_view>

#include "core/deadline.hpp"
#include "core/spin_wait.hpp"

namespace beehive::detail {

namespace {

// Takes `lk`'s mutex, spinning briefly first. Why: the lock is held for well under a
// microsecond at a time, but under a flood (two producers pushing flat out: `storm_both`) a
// thread that sleeps on it (futex) waits for the wake-up and then for a CPU. Measured before
// this: 15-23 heartbeat sends per run of `storm_both` took 0.05-4 ms, every one a voluntary
// context switch (asleep on this lock). Spinning a few microseconds gets the lock while its
// holder runs on the other CPU.
void lock_spinning(std::unique_lock<std::mutex>& lk) {
  for (int i = 0; i < 256; ++i) {
    if (lk.try_lock()) return;
    cpu_relax();
  }
  lk.lock();
}

constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

std::string_view field_of(const message& m, route_field f) {
  switch (f) {
    case route_field::operation:
      return m.route.operation;
    case route_field::resource:
      return m.route.resource;
    case route_field::group:
      return m.route.group;
    case route_field::source:
      return m.route.source;
  }
  return {};
}

}  // namespace

struct lane_queue::classifier {
  inbox_options opts;
};

// A queued message. `key` is kept while the entry is not in the index (parked); once indexed
// the key lives in the index node, which `idx` points at.
struct lane_queue::entry {
  message msg;
  std::string key;
  index_map::value_type* idx = nullptr;
};

struct lane_queue::lane {
  ring<entry> q;       // the lane, in order; q.at(i) has sequence number head_seq + i
  ring<entry> parked;  // group copies that found the lane full (bounded by the capacity)
  std::uint64_t head_seq = 0;
  lane_options opts;
  std::size_t capacity = 1;
  std::condition_variable not_full;
  std::size_t sleepers = 0;
  std::size_t passed = 0;  // messages taken from lanes above while this one held messages
  lane_stats st;
  std::uint64_t rejected_full = 0;
  std::uint64_t rejected_cancelled = 0;
  std::uint64_t dropped_oldest = 0;
  std::uint64_t dropped_on_close = 0;
};

lane_queue::lane_queue(const inbox_options& options) { configure_locked(options); }

lane_queue::~lane_queue() = default;

void lane_queue::configure_locked(const inbox_options& o) {
  opts_ = o;
  std::vector<lane_options> spec = o.lanes.lanes;
  if (spec.empty()) spec.push_back({o.capacity, o.overflow, o.block_timeout});
  while (lanes_.size() < spec.size()) lanes_.push_back(std::make_unique<lane>());
  for (std::size_t i = 0; i < spec.size(); ++i) {
    lanes_[i]->opts = spec[i];
    lanes_[i]->capacity = std::max<std::size_t>(1, spec[i].capacity);
    lanes_[i]->passed = 0;
  }
  active_ = spec.size();
  auto c = std::make_shared<classifier>();
  c->opts = o;
  std::lock_guard lk(cls_mu_);
  cls_ = std::move(c);
}

lane_ticket make_ticket(const inbox_options& o, const message& msg) {
  lane_ticket t;
  const std::size_t count = o.lanes.lanes.size();
  if (count > 1) {
    if (o.lanes.classify) {
      t.lane = o.lanes.classify(msg);
    } else {
      t.lane = o.lanes.default_lane;
      for (const auto& r : o.lanes.rules) {
        if (field_of(msg, r.field) == r.value) {
          t.lane = r.lane;
          break;
        }
      }
    }
    t.lane = std::min(t.lane, count - 1);
  }
  // A sync message never coalesces: its caller waits for that message's own reply.
  if (o.coalescing.enabled && !msg.header.sync) {
    if (o.coalescing.key) {
      t.key = o.coalescing.key(msg);
    } else {
      const std::string_view res = msg.route.resource;
      const std::string_view op = msg.route.operation;
      t.key.reserve(res.size() + op.size() + 1);
      t.key.append(res).push_back('\0');  // '\0' keeps ("a","bc") apart from ("ab","c")
      t.key.append(op);
    }
  }
  return t;
}

lane_ticket lane_queue::ticket(const message& msg) const {
  std::shared_ptr<const classifier> c;
  {
    std::lock_guard lk(cls_mu_);
    c = cls_;
  }
  return make_ticket(c->opts, msg);
}

lane_queue::entry& lane_queue::at_locked(lane& l, std::uint64_t seq) {
  const auto pos = static_cast<std::size_t>(seq - l.head_seq);
  return pos < l.q.size() ? l.q.at(pos) : l.parked.at(pos - l.q.size());
}

void lane_queue::index_locked(entry& e, std::size_t li, std::uint64_t seq) {
  if (e.key.empty()) return;
  auto [it, inserted] = index_.try_emplace(std::move(e.key), li, seq);
  if (!inserted) {
    // An older entry of this key in another lane stays queued; the index now points at the
    // newest one.
    at_locked(*lanes_[it->second.first], it->second.second).idx = nullptr;
    it->second = {li, seq};
  }
  e.key.clear();
  e.idx = &*it;
}

void lane_queue::unindex_locked(entry& e) {
  if (e.idx == nullptr) return;
  index_.erase(index_.find(e.idx->first));
  e.idx = nullptr;
}

// The lane and its parking are one sequence: parked entries follow the lane's, and keep their
// sequence number (and index entry) when they move in.
void lane_queue::place_locked(lane& l, std::size_t li, entry&& e, bool park) {
  queued_.fetch_add(1, std::memory_order_release);
  const std::uint64_t seq = l.head_seq + l.q.size() + l.parked.size();
  ring<entry>& to = park ? l.parked : l.q;
  to.push_back(std::move(e));
  index_locked(to.at(to.size() - 1), li, seq);
}

void lane_queue::refill_locked(lane& l) {
  while (!l.parked.empty() && l.q.size() < l.capacity) l.q.push_back(l.parked.pop_front());
}

// 1 = the lane, 2 = its parking, 0 = full.
int lane_queue::slot_locked(lane& l, lane_push how) {
  refill_locked(l);
  if (l.parked.empty() && l.q.size() < l.capacity) return 1;
  if (how != lane_push::relay && l.opts.overflow != overflow_policy::drop_oldest &&
      l.parked.size() < l.capacity && (how == lane_push::group || !l.parked.empty())) {
    return 2;
  }
  return 0;
}

expected<void> lane_queue::push(message&& msg, lane_ticket&& where, lane_push how,
                                const std::atomic<bool>& cancelled) {
  // Destroyed after the lock is released: a content's destructor is user code.
  message replaced;
  std::unique_lock lk(mu_, std::defer_lock);
  lock_spinning(lk);
  if (closed_) return unexpected(errc::channel_closed);
  const std::size_t li = std::min(where.lane, active_ - 1);
  lane& l = *lanes_[li];
  if (!where.key.empty()) {
    if (auto it = index_.find(where.key); it != index_.end() && it->second.first == li) {
      // Latest value wins, in the queued message's place; no room needed, never waits.
      entry& e = at_locked(l, it->second.second);
      replaced = std::move(e.msg);
      e.msg = std::move(msg);
      ++l.st.accepted;
      ++l.st.coalesced;
      return {};
    }
  }
  int slot = slot_locked(l, how);
  if (slot == 0) {
    // Relay: only where `block` would wait (fail and drop_oldest never wait).
    if (how == lane_push::relay && l.opts.overflow == overflow_policy::block) {
      return unexpected(errc::would_block);
    }
    switch (l.opts.overflow) {
      case overflow_policy::fail:
        ++l.st.rejected;
        ++l.rejected_full;
        return unexpected(errc::queue_full);
      case overflow_policy::drop_oldest:
        if (!l.q.empty()) {
          entry old = l.q.pop_front();
          ++l.head_seq;
          unindex_locked(old);
          replaced = std::move(old.msg);
          queued_.fetch_sub(1, std::memory_order_relaxed);
          ++l.st.dropped;
          ++l.dropped_oldest;
        }
        slot = 1;
        break;
      case overflow_policy::block: {
        if (cancelled.load(std::memory_order_acquire)) {
          ++l.st.rejected;
          ++l.rejected_cancelled;
          return unexpected(errc::cancelled);
        }
        const bool bounded = l.opts.block_timeout.count() > 0;
        const auto deadline = bounded ? deadline_after(l.opts.block_timeout) : clock::time_point{};
        const std::uint64_t gen = generation_;
        auto ready = [&] {
          return closed_ || generation_ != gen || (slot = slot_locked(l, how)) != 0 ||
                 cancelled.load(std::memory_order_acquire);
        };
        ++l.sleepers;
        ++producer_sleepers_;
        if (bounded) {
          (void)l.not_full.wait_until(lk, deadline, ready);
        } else {
          l.not_full.wait(lk, ready);
        }
        --l.sleepers;
        --producer_sleepers_;
        if (closed_ || generation_ != gen) return unexpected(errc::channel_closed);
        if (slot == 0) {
          ++l.st.rejected;
          if (cancelled.load(std::memory_order_acquire)) {
            ++l.rejected_cancelled;
            return unexpected(errc::cancelled);
          }
          ++l.rejected_full;
          return unexpected(errc::timed_out);
        }
        break;
      }
    }
  }
  ++l.st.accepted;
  place_locked(l, li, entry{std::move(msg), std::move(where.key), nullptr}, slot == 2);
  const bool wake = consumer_sleepers_ > 0;
  lk.unlock();
  if (wake) not_empty_.notify_one();
  return {};
}

std::size_t lane_queue::choose_locked() {
  const std::size_t bound = opts_.lanes.starvation_bound;
  if (bound > 0) {
    for (std::size_t i = 1; i < active_; ++i) {
      if (!lanes_[i]->q.empty() && lanes_[i]->passed >= bound) return i;
    }
  }
  for (std::size_t i = 0; i < active_; ++i) {
    if (!lanes_[i]->q.empty()) return i;
  }
  return none;
}

bool lane_queue::any_queued_locked() const {
  for (std::size_t i = 0; i < active_; ++i) {
    if (!lanes_[i]->q.empty()) return true;
  }
  return false;
}

std::function<void()> lane_queue::take_writable_locked() {
  std::function<void()> fn;
  fn.swap(writable_);
  return fn;
}

namespace {

// Wakes a sleeping consumer when its stop token is triggered.
struct consumer_waker {
  std::mutex* mu;
  std::condition_variable* cv;
  void operator()() const noexcept {
    { std::lock_guard lk(*mu); }
    cv->notify_all();
  }
};

}  // namespace

expected<message> lane_queue::pop(bool bounded, clock::time_point deadline,
                                  const std::stop_token* stop) {
  const auto stopped = [&] { return stop != nullptr && stop->stop_requested(); };
  std::unique_lock lk(mu_, std::defer_lock);
  lock_spinning(lk);
  for (;;) {
    if (const std::size_t p = choose_locked(); p != none) {
      lane& l = *lanes_[p];
      entry e = l.q.pop_front();
      ++l.head_seq;
      unindex_locked(e);
      queued_.fetch_sub(1, std::memory_order_relaxed);
      ++l.st.received;
      l.passed = 0;
      for (std::size_t j = p + 1; j < active_; ++j) {
        if (!lanes_[j]->q.empty()) ++lanes_[j]->passed;
      }
      refill_locked(l);
      // Senders waiting for room are woken once a quarter of the lane is free (or it is
      // empty), as the plain inbox publishes its progress: one wake-up per batch of room, not
      // a herd per message. The capacity stays exact: they re-check under the lock.
      const std::size_t used = l.q.size() + l.parked.size();
      const bool wake =
          l.sleepers > 0 && (used == 0 || l.capacity - std::min(used, l.capacity) >=
                                              std::max<std::size_t>(1, l.capacity / 4));
      auto fire = writable_ ? take_writable_locked() : std::function<void()>();
      lk.unlock();
      if (wake) l.not_full.notify_all();
      if (fire) fire();
      return expected<message>(std::move(e.msg));
    }
    if (closed_) return unexpected(errc::channel_closed);
    if (stopped()) return unexpected(errc::cancelled);
    if (bounded && clock::now() >= deadline) return unexpected(errc::timed_out);
    lk.unlock();
    (void)spin_until(
        [&] {
          return queued_.load(std::memory_order_acquire) > 0 ||
                 closed_flag_.load(std::memory_order_acquire) || stopped();
        },
        bounded ? deadline : clock::time_point::max());
    // Registered before the lock: a callback that runs at once (already stopped) takes it.
    std::optional<std::stop_callback<consumer_waker>> cb;
    if (stop != nullptr) cb.emplace(*stop, consumer_waker{&mu_, &not_empty_});
    lk.lock();
    auto ready = [&] { return any_queued_locked() || closed_ || stopped(); };
    if (ready()) continue;
    ++consumer_sleepers_;
    if (bounded) {
      (void)not_empty_.wait_until(lk, deadline, ready);
    } else {
      not_empty_.wait(lk, ready);
    }
    --consumer_sleepers_;
    if (!ready() && bounded && clock::now() >= deadline) return unexpected(errc::timed_out);
  }
}

void lane_queue::close(std::vector<message>& dropped, bool drop_all) {
  std::function<void()> fire;
  {
    std::lock_guard lk(mu_);
    const bool was_closed = closed_;
    closed_ = true;
    closed_flag_.store(true, std::memory_order_release);
    ++generation_;
    if ((!was_closed && opts_.close == close_mode::drop) || drop_all) {
      for (std::size_t i = 0; i < lanes_.size(); ++i) {
        lane& l = *lanes_[i];
        const std::size_t n = l.q.size() + l.parked.size();
        l.st.dropped += n;
        l.dropped_on_close += n;
        l.head_seq += n;
        while (!l.q.empty()) dropped.push_back(std::move(l.q.pop_front().msg));
        while (!l.parked.empty()) dropped.push_back(std::move(l.parked.pop_front().msg));
      }
      index_.clear();
      queued_.store(0, std::memory_order_relaxed);
    }
    fire = take_writable_locked();
  }
  wake_all();
  if (fire) fire();
}

void lane_queue::take_all(std::vector<message>& out) {
  std::lock_guard lk(mu_);
  for (auto& lp : lanes_) {
    lane& l = *lp;
    l.head_seq += l.q.size() + l.parked.size();
    while (!l.q.empty()) out.push_back(std::move(l.q.pop_front().msg));
    while (!l.parked.empty()) out.push_back(std::move(l.parked.pop_front().msg));
  }
  index_.clear();
  queued_.store(0, std::memory_order_relaxed);
}

void lane_queue::put_all(std::vector<message>& in) {
  // Classified outside the lock (user functions); the caller keeps the queue closed meanwhile.
  std::vector<lane_ticket> tickets;
  tickets.reserve(in.size());
  for (const auto& m : in) tickets.push_back(ticket(m));
  std::lock_guard lk(mu_);
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::size_t li = std::min(tickets[i].lane, active_ - 1);
    place_locked(*lanes_[li], li, entry{std::move(in[i]), std::move(tickets[i].key), nullptr},
                 false);
  }
  in.clear();
}

void lane_queue::reopen(const inbox_options& options, std::vector<message>& more) {
  std::vector<message> held;
  take_all(held);  // still closed: no push gets in meanwhile
  for (auto& m : more) held.push_back(std::move(m));
  more.clear();
  {
    std::lock_guard lk(mu_);
    configure_locked(options);
  }
  put_all(held);
  std::lock_guard lk(mu_);
  closed_ = false;
  closed_flag_.store(false, std::memory_order_release);
}

void lane_queue::add_stats(inbox_stats& st) const {
  std::lock_guard lk(mu_);
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const lane& l = *lanes_[i];
    st.queued += l.q.size() + l.parked.size();
    st.accepted += l.st.accepted;
    st.received += l.st.received;
    st.coalesced += l.st.coalesced;
    st.rejected_full += l.rejected_full;
    st.rejected_cancelled += l.rejected_cancelled;
    st.dropped_oldest += l.dropped_oldest;
    st.dropped_on_close += l.dropped_on_close;
    if (i < active_ && !opts_.lanes.lanes.empty()) {
      lane_stats ls = l.st;
      ls.capacity = l.capacity;
      ls.queued = l.q.size() + l.parked.size();
      st.lanes.push_back(ls);
    }
  }
}

std::size_t lane_queue::waiting_senders() const {
  std::lock_guard lk(mu_);
  return producer_sleepers_;
}

std::size_t lane_queue::waiting_receivers() const {
  std::lock_guard lk(mu_);
  return consumer_sleepers_;
}

std::size_t lane_queue::room() const {
  std::lock_guard lk(mu_);
  std::size_t r = none;
  for (std::size_t i = 0; i < active_; ++i) {
    const lane& l = *lanes_[i];
    const std::size_t used = l.q.size() + l.parked.size();
    r = std::min(r, used >= l.capacity ? 0 : l.capacity - used);
  }
  return r;
}

bool lane_queue::when_writable(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  if (closed_) return false;
  for (std::size_t i = 0; i < active_; ++i) {
    const lane& l = *lanes_[i];
    if (l.q.size() + l.parked.size() >= l.capacity) {
      writable_ = std::move(fn);
      return true;
    }
  }
  return false;
}

void lane_queue::wake_all() {
  // Under the lock: `lanes_` may grow meanwhile (reopen), and a waiter between its check and
  // its sleep must not miss this.
  std::lock_guard lk(mu_);
  for (auto& l : lanes_) l->not_full.notify_all();
  not_empty_.notify_all();
}

}  // namespace beehive::detail
