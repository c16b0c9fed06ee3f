// SPDX-License-Identifier: Apache-2.0
// Per observed message, taps attached: one hub lock (a shared_ptr copy of the subscription
// list); per matching subscription one lock and either one message copy (no deep copy of the
// content) or a counted drop. No wait: the sender never blocks on an observer.
#include "core/tap.hpp"

#include <algorithm>

#include "core/registry.hpp"

namespace beehive::detail {

tap_subscription::tap_subscription(tap_filter filter, std::size_t capacity)
    : filter_(std::move(filter)), capacity_(std::max<std::size_t>(capacity, 1)) {}

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
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (queue_.size() >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(
        tapped_message{msg, std::string(target), to_group, std::chrono::system_clock::now()});
    delivered_.fetch_add(1, std::memory_order_relaxed);
    wake = waiting_;
  }
  if (wake) cv_.notify_one();
}

std::vector<tapped_message> tap_subscription::take_for(std::chrono::nanoseconds timeout,
                                                       std::size_t max) {
  std::vector<tapped_message> out;
  std::unique_lock lock(mu_);
  if (queue_.empty() && !closed_) {
    waiting_ = true;
    cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || closed_; });
    waiting_ = false;
  }
  const std::size_t n = std::min(max, queue_.size());
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return out;
}

void tap_subscription::close() {
  std::deque<tapped_message> gone;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    gone.swap(queue_);
  }
  cv_.notify_all();
  // `gone` (message destructors) dies here, outside the lock.
}

bool tap_subscription::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

std::shared_ptr<const tap_hub::list> tap_hub::current() const {
  std::lock_guard lock(mu_);
  return subs_;
}

void tap_hub::observe(std::string_view module, const message& msg) {
  const auto subs = current();
  for (const auto& s : *subs) {
    if (s->matches_module(module)) s->offer(msg, module, false);
  }
}

void tap_hub::observe_group(std::string_view group, const member_list& members,
                            const message& msg) {
  const auto subs = current();
  for (const auto& s : *subs) {
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
