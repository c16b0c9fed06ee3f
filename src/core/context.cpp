// SPDX-License-Identifier: Apache-2.0
// The public calls of a context.
//
// The hot path, read as code (per message, steady state):
// - `send`: one thread-local depth increment (call_scope), one read of the registry's
//   generation, one trie lookup in the thread's snapshot (name_map), one virtual call to the
//   endpoint, one push into the inbox's queue (by default the lock-free ring: a CAS on its tail,
//   the slot's store, one read of whether its consumer sleeps; see channel/ring_queue.cpp); the
//   message is moved once, into the ring. No allocation.
// - `receive`: the same lookup, one pop from the inbox's queue (the ring: the slot's load and
// store,
//   one read of whether producers wait); the message is moved once, from the ring into the result.
//   No allocation.
// - `send_sync`: as `send`, plus one reply-table registration (a shard lock, a map node and its
//   key), the wait (spin, then a condition variable), and the withdrawal (a shard lock).
// - group calls: one lookup, one shared_ptr copy of the member list (held for the call), one
//   copy of the message per member but the last (strings copied inline, content shared);
//   `send_to_group` also takes one relaxed fetch_add (the call's id, endpoint::push_group).
#include <algorithm>
#include <atomic>
#include <chrono>

#include "channel/inbox.hpp"
#include "core/context_state.hpp"
#include "core/deadline.hpp"
#include "core/log.hpp"
#include "core/module_lease.hpp"

namespace beehive {

namespace {

using detail::delivery;
using detail::registry;

// Numbers the `send_to_group` calls of the process (detail::group_send::id).
std::atomic<std::uint64_t> next_group_send{1};

duration effective_timeout(duration timeout) {
  return timeout <= duration::zero() ? duration(message_timeout_default) : timeout;
}

// The deadline of a sync call: saturated, so that duration::max() waits for ever.
detail::reply_table::clock::time_point sync_deadline(duration timeout) {
  return detail::deadline_after<detail::reply_table::clock>(effective_timeout(timeout));
}

// What a sync call marks on the caller's request (a fresh id when it has none, `sync`), kept
// so that a request that does not leave goes back to the caller as it came (the send contract).
class request_marks {
 public:
  explicit request_marks(message& msg)
      : had_id_(!msg.header.id.empty()), was_sync_(msg.header.sync) {
    if (!had_id_) msg.header.id = new_uuid();
    msg.header.sync = true;
  }
  void restore(message& msg) const noexcept {
    if (!had_id_) msg.header.id.clear();
    msg.header.sync = was_sync_;
  }

 private:
  bool had_id_;
  bool was_sync_;
};

// How long the destructor waits for module threads that still use the context.
constexpr auto lease_wait_limit = std::chrono::seconds(30);

}  // namespace

context::context() : impl_(std::make_unique<detail::context_state>()) {}

context::~context() {
  // 1. Nobody waits any more: every sync caller wakes with `cancelled`.
  cancel();
  // 2. No more presence: a type hears nothing after (or while) it stops.
  impl_->reg.stop_presence();
  // 3. The types stop first, while everything they may reach is still here.
  for (const auto& t : impl_->reg.types()) t->stop();
  // 4. Every inbox closes; blocked senders and receivers wake. What is queued is dropped.
  std::vector<message> dropped;
  impl_->reg.close_all(dropped);
  impl_->settle_dropped(dropped, errc::channel_closed);
  // 5. Module threads that still use this context (a core's overran modules) must end first.
  std::unique_lock lock(impl_->leases_mu);
  if (impl_->core_leases > 0) {
    // A core that has not shut down still uses this context: waiting would not help.
    detail::log().critical(
        "context destroyed under a running core: shut down the core (or destroy it) first");
    detail::log().flush();
    std::abort();
  }
  if (!impl_->leases_cv.wait_for(lock, lease_wait_limit, [&] { return impl_->leases.empty(); })) {
    for (const auto& [name, n] : impl_->leases) {
      detail::log().critical("context destroyed while module {} still runs on it", name);
    }
    detail::log().flush();
    std::abort();
  }
}

// Lock-free (send_resp asks it on every reply): the attached types are in the routing snapshot.
bool context::has_type(std::string_view type) const {
  registry::call_scope scope;
  return impl_->reg.current().has_type(type);
}

expected<context_type_traits> context::type_traits(std::string_view type) const {
  const auto t = impl_->reg.type(type);
  if (!t) return unexpected(errc::unsupported_type);
  return context_type_traits{.remote = t->is_remote(),
                             .restarts_on_return = t->restarts_on_return()};
}

expected<void> context::add_module(const module_info& info) {
  std::vector<message> dropped;
  auto r = impl_->reg.add_module(info, dropped);
  impl_->settle_dropped(dropped, errc::channel_closed);
  return r;
}

expected<void> context::add_module_group(std::string_view module, std::string_view group) {
  return impl_->reg.add_module_group(module, group);
}

expected<void> context::cleanup(std::string_view module) {
  std::vector<message> dropped;
  auto r = impl_->reg.cleanup(module, dropped);
  impl_->settle_dropped(dropped, errc::channel_closed);
  return r;
}

expected<void> context::send(std::string_view module, message&& msg) {
  registry::call_scope scope;
  auto* const* ep = impl_->reg.current().modules.find(module);
  if (ep == nullptr) return unexpected(errc::module_not_found);
  if (impl_->tap.active()) [[unlikely]]
    impl_->tap.observe(module, msg);
  return (*ep)->push(std::move(msg), delivery::direct);
}

expected<void> context::send(std::string_view module, const message& msg) {
  return send(module, message(msg));
}

// One named result and one return, so that the message is not moved again on its way out.
expected<message> context::receive(std::string_view module) {
  registry::call_scope scope;
  auto* const* ep = impl_->reg.current().modules.find(module);
  detail::inbox* box = ep == nullptr ? nullptr : (*ep)->local();
  expected<message> r =
      box == nullptr ? expected<message>(unexpected(errc::module_not_found)) : box->pop();
  return r;
}

expected<message> context::receive_for(std::string_view module, duration timeout) {
  registry::call_scope scope;
  auto* const* ep = impl_->reg.current().modules.find(module);
  detail::inbox* box = ep == nullptr ? nullptr : (*ep)->local();
  expected<message> r = box == nullptr ? expected<message>(unexpected(errc::module_not_found))
                                       : box->pop_for(timeout);
  return r;
}

expected<message> context::receive(std::string_view module, std::stop_token stop) {
  registry::call_scope scope;
  auto* const* ep = impl_->reg.current().modules.find(module);
  detail::inbox* box = ep == nullptr ? nullptr : (*ep)->local();
  expected<message> r =
      box == nullptr ? expected<message>(unexpected(errc::module_not_found)) : box->pop(stop);
  return r;
}

expected<message> context::receive_for(std::string_view module, duration timeout,
                                       std::stop_token stop) {
  registry::call_scope scope;
  auto* const* ep = impl_->reg.current().modules.find(module);
  detail::inbox* box = ep == nullptr ? nullptr : (*ep)->local();
  expected<message> r = box == nullptr ? expected<message>(unexpected(errc::module_not_found))
                                       : box->pop_for(timeout, &stop);
  return r;
}

expected<message> context::send_sync(std::string_view module, message&& msg, duration timeout) {
  const detail::sync_latency::timer timed(impl_->sync_latency, module);
  const auto deadline = sync_deadline(timeout);
  registry::call_scope scope;
  auto* const* found = impl_->reg.current().modules.find(module);
  if (found == nullptr) return unexpected(errc::module_not_found);
  detail::endpoint* ep = *found;
  const request_marks marks(msg);
  if (impl_->tap.active()) [[unlikely]]
    impl_->tap.observe(module, msg);
  // Registered before the request leaves: a reply can come before this thread waits.
  detail::reply_table::waiter wait(impl_->replies, 1);
  if (auto r = wait.expect(msg.header.id, 0, ep); !r) {
    marks.restore(msg);
    return unexpected(r.error());
  }
  if (auto r = ep->push(std::move(msg), delivery::direct); !r) {
    marks.restore(msg);
    return unexpected(r.error());
  }
  wait.wait_until(deadline);
  return wait.take(0);
}

expected<message> context::send_sync(std::string_view module, const message& msg,
                                     duration timeout) {
  return send_sync(module, message(msg), timeout);
}

expected<void> context::send_resp(message&& resp) {
  if (!resp.header.type.empty() && !has_type(resp.header.type)) {
    return unexpected(errc::unsupported_type);
  }
  if (impl_->tap.active()) [[unlikely]]
    impl_->tap.observe_reply(resp);
  return impl_->replies.deliver(std::move(resp));
}

expected<void> context::send_resp(const message& resp) { return send_resp(message(resp)); }

expected<group_delivery> context::send_to_group(std::string_view group, message&& msg) {
  std::shared_ptr<const detail::member_list> members;
  {
    registry::call_scope scope;
    if (const auto* g = impl_->reg.current().groups.find(group)) members = *g;
  }
  if (!members || members->members.empty()) return unexpected(errc::group_not_found);
  if (impl_->tap.active()) [[unlikely]]
    impl_->tap.observe_group(group, *members, msg);
  group_delivery out;
  const std::size_t n = members->members.size();
  detail::group_send call{group, next_group_send.fetch_add(1, std::memory_order_relaxed), 0, n};
  for (std::size_t i = 0; i < n; ++i) {
    const auto& ep = members->members[i];
    call.index = i;
    // Every member gets a copy sharing one content; the last takes the original.
    auto r = i + 1 == n ? ep->push_group(std::move(msg), call) : ep->push_group(message(msg), call);
    if (r) {
      ++out.delivered;
    } else {
      out.failed.emplace_back(ep->name(), r.error());
    }
  }
  return out;
}

expected<group_delivery> context::send_to_group(std::string_view group, const message& msg) {
  return send_to_group(group, message(msg));
}

expected<group_replies> context::send_to_group_sync(std::string_view group, message&& msg,
                                                    duration timeout) {
  const auto deadline = sync_deadline(timeout);
  std::shared_ptr<const detail::member_list> members;
  {
    registry::call_scope scope;
    if (const auto* g = impl_->reg.current().groups.find(group)) members = *g;
  }
  if (!members || members->members.empty()) return unexpected(errc::group_not_found);
  if (cancelled()) return unexpected(errc::cancelled);
  const auto& eps = members->members;
  const std::size_t n = eps.size();
  const request_marks marks(msg);
  if (impl_->tap.active()) [[unlikely]]
    impl_->tap.observe_group(group, *members, msg);
  // The request's id, as the caller knows it: every reply returned carries it as its parent id.
  const auto request_id = msg.header.id;
  detail::reply_table::waiter wait(impl_->replies, n);
  // Why one request id per member: a reply is then attributed by its parent id alone, so
  // `missing` is exact. The first member's request keeps the caller's id; the others get fresh
  // ones. Every member but the last gets a copy; the last takes `msg` itself.
  auto hand_on = [&](std::size_t i, message& request) {
    if (i != 0) request.update_id();
    if (auto r = wait.expect(request.header.id, i, eps[i].get()); !r) {
      wait.settle(i, r.error());
      return false;
    }
    if (auto r = eps[i]->push(std::move(request), delivery::group); !r) {
      wait.settle(i, r.error());
      return false;
    }
    return true;
  };
  for (std::size_t i = 0; i + 1 < n; ++i) {
    message copy(msg);
    (void)hand_on(i, copy);
  }
  if (!hand_on(n - 1, msg)) {
    msg.header.id = request_id;
    marks.restore(msg);
  }
  wait.wait_until(deadline);
  group_replies out;
  std::vector<bool> settled(n, false);
  for (const std::size_t i : wait.arrival_order()) {
    settled[i] = true;
    auto r = wait.take(i);
    if (r) {
      r->header.parent_id = request_id;
      out.replies.push_back(std::move(*r));
    } else {
      out.failed.emplace_back(eps[i]->name(), r.error());
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!settled[i]) out.missing.push_back(eps[i]->name());
  }
  return out;
}

expected<group_replies> context::send_to_group_sync(std::string_view group, const message& msg,
                                                    duration timeout) {
  return send_to_group_sync(group, message(msg), timeout);
}

std::optional<std::string> context::module_type(std::string_view module) const {
  return impl_->reg.module_type(module);
}

bool context::has_module(std::string_view module) const { return impl_->reg.is_live(module); }

std::vector<std::string> context::modules() const {
  std::vector<std::string> out;
  for (auto& m : impl_->reg.members().modules) {
    if (m.live) out.push_back(std::move(m.name));
  }
  return out;
}

std::map<std::string, std::vector<std::string>> context::groups() const {
  return impl_->reg.members().groups;
}

expected<inbox_stats> context::stats(std::string_view module) const {
  auto ep = impl_->reg.find(module);
  detail::inbox* box = ep ? ep->local() : nullptr;
  if (box == nullptr) return unexpected(errc::module_not_found);
  return box->stats();
}

void context::cancel() noexcept {
  if (impl_->stop.request_stop()) detail::log().info("context cancelled");
  impl_->replies.cancel_all();
}

bool context::cancelled() const noexcept { return impl_->stop.stop_requested(); }

std::stop_token context::stop_token() const noexcept { return impl_->stop.get_token(); }

std::uint64_t context::orphan_responses() const noexcept { return impl_->replies.orphans(); }

context& default_context() {
  static context ctx;
  return ctx;
}

}  // namespace beehive
