// SPDX-License-Identifier: Apache-2.0
// Per observed message, taps attached: the hub's lock; per matching subscription a relaxed load
// and then either a counted drop (queue full: no lock) or its lock and one message copy into its
// preallocated buffer (no deep copy of the content, no allocation). The sender never waits on an
// observer: locks are held for a few instructions, and nobody is woken.
#include "core/tap.hpp"

#include <algorithm>

#include "core/registry.hpp"

namespace beehive::detail {

tap_subscription::tap_subscription(tap_filter filter, std::size_t capacity)
    : filter_(std::move(filter)), capacity_(std::max<std::size_t>(capacity, 1)) {
  // Storage for the usual queue up front; a very large capacity grows as needed.
  queue_.reserve(std::min<std::size_t>(capacity_, 4096));
  taken_.reserve(std::min<std::size_t>(capacity_, 4096));
}

bool tap_subscription::matches_module(std::string_view module) const noexcept {
  return filter_.scope == tap_scope::all ||
         (filter_.scope == tap_scope::module && filter_.name == module);
}

bool tap_subscription::matches_group(std::string_view group, const member_list& members) const {
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

void tap_subscription::offer(const message& msg, std::string_view target, bool to_group) {
  // Full: counted without the lock (the reader empties the queue at once when it takes).
  if (size_.load(std::memory_order_relaxed) >= capacity_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto now = std::chrono::system_clock::now();
  std::lock_guard lock(mu_);
  if (closed_) return;
  if (queue_.size() >= capacity_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  queue_.push_back(tapped_message{msg, short_string<39>(target), to_group, now});
  size_.store(queue_.size(), std::memory_order_relaxed);
  delivered_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<tapped_message>& tap_subscription::take_for(std::chrono::nanoseconds timeout) {
  taken_.clear();  // the last batch's messages die here, outside the lock
  const auto until = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    if (!queue_.empty() || closed_) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) break;
    const auto slice = std::min<std::chrono::nanoseconds>(until - now, take_slice);
    cv_.wait_for(lock, slice, [&] { return closed_; });
  }
  taken_.swap(queue_);
  size_.store(0, std::memory_order_relaxed);
  return taken_;
}

void tap_subscription::close() {
  std::vector<tapped_message> gone;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    gone.swap(queue_);
    size_.store(0, std::memory_order_relaxed);
  }
  cv_.notify_all();
  // `gone` (message destructors) dies here, outside the lock.
}

bool tap_subscription::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

// The subscriptions are offered the message under the hub's lock: `offer` runs no user code
// (a message copy shares its content, and no message dies there), so nothing can re-enter.
void tap_hub::observe(std::string_view module, const message& msg) {
  std::lock_guard lock(mu_);
  for (const auto& s : *subs_) {
    if (s->matches_module(module)) s->offer(msg, module, false);
  }
}

void tap_hub::observe_group(std::string_view group, const member_list& members,
                            const message& msg) {
  std::lock_guard lock(mu_);
  for (const auto& s : *subs_) {
    if (s->matches_group(group, members)) s->offer(msg, group, true);
  }
}

std::shared_ptr<tap_subscription> tap_hub::attach(tap_filter filter, std::size_t capacity) {
  auto sub = std::make_shared<tap_subscription>(std::move(filter), capacity);
  std::shared_ptr<const list> old;
  {
    std::lock_guard lock(mu_);
    auto next = std::make_shared<list>(*subs_);
    next->push_back(sub);
    old = std::exchange(subs_, std::move(next));
    active_.store(true, std::memory_order_relaxed);
  }
  return sub;
}

void tap_hub::detach(const std::shared_ptr<tap_subscription>& sub) {
  if (!sub) return;
  std::shared_ptr<const list> old;
  {
    std::lock_guard lock(mu_);
    auto next = std::make_shared<list>();
    for (const auto& s : *subs_) {
      if (s != sub) next->push_back(s);
    }
    if (next->size() == subs_->size()) return;  // not attached (any more)
    active_.store(!next->empty(), std::memory_order_relaxed);
    old = std::exchange(subs_, std::move(next));
  }
  // Closed outside the hub's lock: the queued messages die here, and their destructors may
  // call the context. Once closed its counters are final and move to the hub's totals.
  sub->close();
  std::lock_guard lock(mu_);
  detached_delivered_ += sub->delivered();
  detached_dropped_ += sub->dropped();
}

tap_hub_stats tap_hub::stats() const {
  std::lock_guard lock(mu_);
  tap_hub_stats out;
  out.attached = subs_->size();
  out.delivered = detached_delivered_;
  out.dropped = detached_dropped_;
  for (const auto& s : *subs_) {
    out.delivered += s->delivered();
    out.dropped += s->dropped();
  }
  return out;
}

}  // namespace beehive::detail
