// SPDX-License-Identifier: Apache-2.0
#include "channel/lane_queue.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include "core/spin_wait.hpp"

namespace beehive::detail {

namespace {

constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

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

lane_queue::lane_queue(const inbox_options& options) {
  std::lock_guard lk(cmu_);
  configure_locked(options);
}

lane_queue::~lane_queue() = default;

void lane_queue::configure_locked(const inbox_options& o) {
  std::vector<lane_options> spec = o.lanes.lanes;
  if (spec.empty()) spec.push_back({o.capacity, o.overflow, o.block_timeout});
  while (lanes_.size() < spec.size()) lanes_.push_back(std::make_unique<lane>());
  auto c = std::make_unique<config>();
  c->opts = o;
  c->epoch = configs_.empty() ? 1 : configs_.back()->epoch + 1;
  // Every lane takes the new epoch, those left unused too: a sender that chose one from an
  // older configuration finds the epoch changed and chooses again.
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    lanes_[i]->configure(spec[std::min(i, spec.size() - 1)], c->epoch);
    if (i < spec.size()) c->lanes.push_back(lanes_[i].get());
  }
  passed_.assign(lanes_.size(), 0);
  configs_.push_back(std::move(c));
  cfg_.store(configs_.back().get(), std::memory_order_release);
}

lane_ticket lane_queue::ticket(const message& msg) const {
  return make_ticket(current().opts, msg);
}

expected<void> lane_queue::push(message&& msg, lane_ticket&& where, lane_push how,
                                const std::atomic<bool>& cancelled) {
  // Destroyed after every lock is released: a content's destructor is user code.
  message out;
  for (;;) {
    const config& c = current();
    lane& l = *c.lanes[std::min(where.lane, c.lanes.size() - 1)];
    bool is_stale = false;
    auto r = l.push(std::move(msg), std::move(where.key), how, cancelled, c.epoch, out, is_stale);
    if (r) {
      wake_consumer();
      return r;
    }
    if (!is_stale) return r;
    where = ticket(msg);  // reconfigured meanwhile (a reopen): choose again
  }
}

void lane_queue::wake_consumer() {
  // The sender's half of the eventcount: its lane's count was stored (seq_cst) before this
  // load; a consumer announces itself before it re-checks the counts (see `pop`).
  if (consumer_sleepers_.load(std::memory_order_seq_cst) == 0) return;
  { std::lock_guard lk(wait_mu_); }
  not_empty_.notify_one();
}

std::size_t lane_queue::choose_locked(const config& c) {
  const std::size_t n = c.lanes.size();
  const std::size_t bound = c.opts.lanes.starvation_bound;
  if (bound > 0) {
    for (std::size_t i = 1; i < n; ++i) {
      if (passed_[i] >= bound && c.lanes[i]->ready() > 0) return i;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (c.lanes[i]->ready() > 0) return i;
  }
  return none;
}

bool lane_queue::any_ready() const noexcept {
  for (const lane* l : current().lanes) {
    if (l->ready() > 0) return true;
  }
  return false;
}

void lane_queue::fire_writable() {
  std::function<void()> fn;
  {
    std::lock_guard lk(wmu_);
    fn.swap(writable_);
    writable_armed_.store(false, std::memory_order_relaxed);
  }
  if (fn) fn();
}

expected<message> lane_queue::pop(bool bounded, clock::time_point deadline,
                                  const std::stop_token* stop) {
  const auto stopped = [&] { return stop != nullptr && stop->stop_requested(); };
  for (;;) {
    std::optional<message> got;
    bool was_closed = false;
    {
      std::lock_guard lk(cmu_);
      // Read before the lanes: a close publishes it after closing every lane, so a message
      // pushed before the close is seen below.
      was_closed = closed_flag_.load(std::memory_order_acquire);
      const config& c = current();
      for (std::size_t p = choose_locked(c); p != none; p = choose_locked(c)) {
        got = c.lanes[p]->take();
        if (!got) continue;  // emptied meanwhile by a close that drops
        passed_[p] = 0;
        for (std::size_t j = p + 1; j < c.lanes.size(); ++j) {
          if (c.lanes[j]->ready() > 0) ++passed_[j];
        }
        break;
      }
    }
    if (got) {
      // Room was freed: a relay waiting for it hears so before this pop returns (and so before
      // this consumer can sleep).
      if (writable_armed_.load(std::memory_order_seq_cst)) fire_writable();
      return expected<message>(std::move(*got));
    }
    if (was_closed) return unexpected(errc::channel_closed);
    if (stopped()) return unexpected(errc::cancelled);
    if (bounded && clock::now() >= deadline) return unexpected(errc::timed_out);
    const auto ready = [&] {
      return any_ready() || closed_flag_.load(std::memory_order_acquire) || stopped();
    };
    if (spin_until(ready, bounded ? deadline : clock::time_point::max())) continue;
    // Registered before the lock: a callback that runs at once (already stopped) takes it.
    std::optional<std::stop_callback<consumer_waker>> cb;
    if (stop != nullptr) cb.emplace(*stop, consumer_waker{&wait_mu_, &not_empty_});
    std::unique_lock wl(wait_mu_);
    consumer_sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (bounded) {
      (void)not_empty_.wait_until(wl, deadline, ready);
    } else {
      not_empty_.wait(wl, ready);
    }
    consumer_sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void lane_queue::close(std::vector<message>& dropped, bool drop_all) {
  {
    std::lock_guard lk(cmu_);
    const bool was_closed = closed_flag_.load(std::memory_order_relaxed);
    const bool drop = (!was_closed && current().opts.close == close_mode::drop) || drop_all;
    for (auto& l : lanes_) l->close(drop, dropped);
    closed_flag_.store(true, std::memory_order_release);
  }
  wake_all();
  fire_writable();
}

void lane_queue::take_all(std::vector<message>& out) {
  std::lock_guard lk(cmu_);
  for (lane* l : current().lanes) l->take_all(out);
}

void lane_queue::put_all(std::vector<message>& in) {
  // Classified outside the locks (user functions); the caller keeps the queue closed meanwhile.
  std::vector<lane_ticket> tickets;
  tickets.reserve(in.size());
  for (const auto& m : in) tickets.push_back(ticket(m));
  {
    std::lock_guard lk(cmu_);
    const config& c = current();
    for (std::size_t i = 0; i < in.size(); ++i) {
      c.lanes[std::min(tickets[i].lane, c.lanes.size() - 1)]->put(std::move(in[i]),
                                                                  std::move(tickets[i].key));
    }
  }
  in.clear();
  wake_consumer();
}

void lane_queue::reopen(const inbox_options& options, std::vector<message>& more) {
  std::vector<message> held;
  take_all(held);  // still closed: no push gets in meanwhile
  for (auto& m : more) held.push_back(std::move(m));
  more.clear();
  {
    std::lock_guard lk(cmu_);
    configure_locked(options);
  }
  put_all(held);
  std::lock_guard lk(cmu_);
  for (auto& l : lanes_) l->open();
  closed_flag_.store(false, std::memory_order_release);
}

void lane_queue::add_stats(inbox_stats& st) const {
  std::lock_guard lk(cmu_);
  const config& c = current();
  const bool per_lane = !c.opts.lanes.lanes.empty();
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    lanes_[i]->add_stats(st, per_lane && i < c.lanes.size());
  }
}

std::size_t lane_queue::waiting_senders() const {
  std::lock_guard lk(cmu_);
  std::size_t n = 0;
  for (const auto& l : lanes_) n += l->waiting_senders();
  return n;
}

std::size_t lane_queue::waiting_receivers() const {
  return consumer_sleepers_.load(std::memory_order_acquire);
}

std::size_t lane_queue::room() const {
  std::size_t r = none;
  for (const lane* l : current().lanes) r = std::min(r, l->room());
  return r;
}

bool lane_queue::when_writable(std::function<void()> fn) {
  // Held throughout: a consumer that sees the flag set below waits here for `fn`. A close
  // sets `closed_flag_` before it takes `writable_` under this lock: either this sees it, or
  // the close fires `fn`.
  std::lock_guard lk(wmu_);
  if (closed_flag_.load(std::memory_order_acquire)) return false;
  for (lane* l : current().lanes) {
    if (l->mark_if_full(writable_armed_)) {
      writable_ = std::move(fn);
      return true;
    }
  }
  return false;
}

void lane_queue::wake_all() {
  {
    // `lanes_` may grow meanwhile (reopen).
    std::lock_guard lk(cmu_);
    for (auto& l : lanes_) l->wake_senders();
  }
  { std::lock_guard lk(wait_mu_); }
  not_empty_.notify_all();
}

std::unique_lock<std::mutex> lane_queue::hold_lane(std::size_t i) {
  return current().lanes.at(i)->hold();
}

}  // namespace beehive::detail
