// SPDX-License-Identifier: Apache-2.0
// Per observed message, taps attached (counted for a send to one module):
// - the hub: one acquire load of its version and one compare with the thread's cached list
//   (a trivially destructible thread-local: no TLS guard); no lock, no shared write, no
//   allocation. The hub's lock and one shared_ptr copy only when the list changed since this
//   thread last looked.
// - per sink: the filter's compare (a name compare for a module or group tap); if it matches,
//   one relaxed load of its size, then either a counted drop (queue full: one atomic add, no
//   lock) or one clock read, its lock and one message copy (strings inline, content shared,
//   no deep copy) into its preallocated queue: no allocation. At most a tap's capacity per
//   `take_slice` is queued (the reader takes at most once per slice); the rest are drops.
// The sender never waits on an observer: the sink's lock is held for a few instructions, and
// nobody is woken.
#include "core/tap.hpp"

#include <algorithm>
#include <utility>

#include "core/registry.hpp"

namespace beehive::detail {

namespace {

// Versions are unique in the process: a thread's cached list names its hub and version, and a
// hub created at a destroyed hub's address never matches the old one's lists.
std::atomic<std::uint64_t> next_version{1};

// The list of sinks this thread used last (one slot; another hub replaces it). Two parts, so
// that the per-message check reads a trivially destructible thread-local (no TLS init guard):
// `cache_key` names the hub and the list; `cache_owner` keeps the list alive. Once the
// thread's destructors destroyed the owner (a later destructor of the thread may still send),
// the key is cleared and the thread takes the hub's list without caching it.
struct tap_cache_key {
  const tap_hub* hub = nullptr;
  const tap_hub::snapshot* list = nullptr;
  bool gone = false;  // cache_owner destroyed
};
thread_local tap_cache_key cache_key;
struct tap_cache_owner {
  std::shared_ptr<const tap_hub::snapshot> list;
  tap_cache_owner() = default;
  tap_cache_owner(const tap_cache_owner&) = delete;
  tap_cache_owner& operator=(const tap_cache_owner&) = delete;
  ~tap_cache_owner() { cache_key = {nullptr, nullptr, true}; }
};
thread_local tap_cache_owner cache_owner;

}  // namespace

tap_sink::tap_sink(tap_filter filter, std::size_t capacity)
    : filter_(std::move(filter)), capacity_(std::max<std::size_t>(capacity, 1)) {
  // Storage for the usual queue up front; a very large capacity grows as needed.
  queue_.reserve(std::min<std::size_t>(capacity_, 4096));
}

bool tap_sink::matches_group(std::string_view group, const member_list& members) const {
  switch (filter_.scope) {
    case tap_scope::all:
      return true;
    case tap_scope::group:
      return filter_.name == group;
    case tap_scope::module:
      return std::any_of(members.members.begin(), members.members.end(),
                         [&](const auto& ep) { return ep->name() == filter_.name; });
  }
  return false;
}

void tap_sink::queue(const message& msg, std::string_view target, bool to_group, bool reply) {
  const auto now = std::chrono::system_clock::now();
  std::lock_guard lock(mu_);
  if (closed_) return;
  if (queue_.size() >= capacity_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  queue_.push_back(tapped_message{msg, short_string<39>(target), to_group, reply, now});
  size_.store(queue_.size(), std::memory_order_relaxed);
  delivered_.fetch_add(1, std::memory_order_relaxed);
}

void tap_sink::take_into(std::vector<tapped_message>& out, std::chrono::nanoseconds timeout,
                         std::chrono::steady_clock::time_point not_before) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  if (not_before > std::chrono::steady_clock::now()) {
    cv_.wait_until(lock, std::min(not_before, until), [&] { return closed_; });
  }
  for (;;) {
    if (!queue_.empty() || closed_) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) break;
    const auto slice = std::min<std::chrono::nanoseconds>(until - now, take_slice);
    cv_.wait_for(lock, slice, [&] { return closed_; });
  }
  if (closed_) return;
  out.swap(queue_);
  size_.store(0, std::memory_order_relaxed);
}

void tap_sink::close() {
  std::vector<tapped_message> gone;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    gone.swap(queue_);  // the storage goes too: a stale snapshot keeps an empty sink
    size_.store(0, std::memory_order_relaxed);
  }
  cv_.notify_all();
  // `gone` (message destructors) dies here, outside the lock.
}

bool tap_sink::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

tap_subscription::tap_subscription(tap_filter filter, std::size_t capacity)
    : sink_(std::make_shared<tap_sink>(std::move(filter), capacity)) {
  taken_.reserve(std::min<std::size_t>(std::max<std::size_t>(capacity, 1), 4096));
}

std::vector<tapped_message>& tap_subscription::take_for(std::chrono::nanoseconds timeout) {
  taken_.clear();  // the last batch's messages die here, outside the sink's lock
  sink_->take_into(taken_, timeout, last_take_ + take_slice);
  if (!taken_.empty()) last_take_ = std::chrono::steady_clock::now();
  if (taken_.empty() && sink_->closed()) taken_ = {};  // closed: its storage goes
  return taken_;
}

tap_hub::tap_hub() {
  auto first = std::make_shared<snapshot>();
  first->version = next_version.fetch_add(1, std::memory_order_relaxed);
  version_.store(first->version, std::memory_order_relaxed);
  subs_ = std::move(first);
}

tap_hub::~tap_hub() = default;

// The thread's list, refreshed under the hub's lock when the hub's version moved on. The old
// list is released after the lock; releasing it may destroy closed sinks (no user code: they
// hold no messages).
std::shared_ptr<const tap_hub::snapshot> tap_hub::refresh() {
  std::shared_ptr<const snapshot> fresh;
  {
    std::lock_guard lock(mu_);
    fresh = subs_;
  }
  if (!cache_key.gone) {
    auto old = std::exchange(cache_owner.list, fresh);
    cache_key.hub = this;
    cache_key.list = fresh.get();
  }
  return fresh;
}

// `offer` runs no user code (a message copy shares its content, and no message dies there),
// so nothing re-enters while the thread's list is walked.
template <class Fn>
void tap_hub::each_sink(Fn&& fn) {
  const auto& k = cache_key;
  if (k.hub == this && k.list->version == version_.load(std::memory_order_acquire)) [[likely]] {
    for (const auto& s : k.list->sinks) fn(*s);
    return;
  }
  const auto list = refresh();
  for (const auto& s : list->sinks) fn(*s);
}

void tap_hub::observe(std::string_view module, const message& msg) {
  each_sink([&](tap_sink& s) {
    if (s.matches_module(module)) s.offer(msg, module, false, false);
  });
}

void tap_hub::observe_group(std::string_view group, const member_list& members,
                            const message& msg) {
  each_sink([&](tap_sink& s) {
    if (s.matches_group(group, members)) s.offer(msg, group, true, false);
  });
}

void tap_hub::observe_reply(const message& resp) {
  const std::string_view requester = resp.route.source;
  each_sink([&](tap_sink& s) {
    if (s.matches_module(requester)) s.offer(resp, requester, false, true);
  });
}

void tap_hub::publish(std::vector<std::shared_ptr<tap_sink>> sinks) {
  auto next = std::make_shared<snapshot>();
  next->version = next_version.fetch_add(1, std::memory_order_relaxed);
  next->sinks = std::move(sinks);
  active_.store(!next->sinks.empty(), std::memory_order_relaxed);
  const auto v = next->version;
  subs_ = std::move(next);
  version_.store(v, std::memory_order_release);
}

// A retired sink only the hub holds can no longer count anything: its counters are final.
void tap_hub::fold_retired() {
  std::erase_if(retired_, [&](const std::shared_ptr<tap_sink>& s) {
    if (s.use_count() != 1) return false;
    detached_delivered_ += s->delivered();
    detached_dropped_ += s->dropped();
    return true;
  });
}

std::shared_ptr<tap_subscription> tap_hub::attach(tap_filter filter, std::size_t capacity) {
  auto sub = std::make_shared<tap_subscription>(std::move(filter), capacity);
  std::shared_ptr<const snapshot> old;
  {
    std::lock_guard lock(mu_);
    auto sinks = subs_->sinks;
    sinks.push_back(sub->sink_);
    old = subs_;
    publish(std::move(sinks));
    fold_retired();
  }
  return sub;
}

void tap_hub::detach(const std::shared_ptr<tap_subscription>& sub) {
  if (!sub) return;
  std::shared_ptr<const snapshot> old;
  {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<tap_sink>> sinks;
    for (const auto& s : subs_->sinks) {
      if (s != sub->sink_) sinks.push_back(s);
    }
    if (sinks.size() == subs_->sinks.size()) return;  // not attached (any more)
    old = subs_;
    publish(std::move(sinks));
    retired_.push_back(sub->sink_);
  }
  // Closed outside the hub's lock: the queued messages die here, and their destructors may
  // call the context. A sender holding a stale list may still offer to it: refused, not
  // counted (a drop it counts meanwhile stays in the totals: the sink is retired, not folded).
  sub->close();
  old.reset();
  std::lock_guard lock(mu_);
  fold_retired();
}

tap_hub_stats tap_hub::stats() const {
  std::lock_guard lock(mu_);
  tap_hub_stats out;
  out.attached = subs_->sinks.size();
  out.delivered = detached_delivered_;
  out.dropped = detached_dropped_;
  for (const auto& s : subs_->sinks) {
    out.delivered += s->delivered();
    out.dropped += s->dropped();
  }
  for (const auto& s : retired_) {
    out.delivered += s->delivered();
    out.dropped += s->dropped();
  }
  return out;
}

}  // namespace beehive::detail
