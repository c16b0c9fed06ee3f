// SPDX-License-Identifier: Apache-2.0
// The registry's changes: modules, groups and types (peers are in registry_peers.cpp, the
// per-thread read cache in routing_cache.cpp, presence delivery in presence_queue.cpp).
//
// Cost of one change, under the mutex: a hash-map lookup per name, a path copy of the
// persistent routing per module whose endpoint changed (O(log32 N): 4 levels at 100,000
// names), a member-list copy per group whose members changed (O(group size)), one routing
// version allocated and published, one presence batch queued. No O(N) work except `members`,
// `close_all` and a new type's snapshot batch.
#include "core/registry.hpp"

#include <algorithm>

#include "core/routing_cache.hpp"

namespace beehive::detail {

namespace {

// Every registry gets an id that is never reused, so that a thread's cache entry of a destroyed
// context can never match a new one built at the same address.
std::atomic<std::uint64_t> next_registry_id{1};  // NOLINT: process-wide id source

}  // namespace

bool routing::has_type(std::string_view name) const noexcept {
  if (!types) return false;
  return std::find(types->begin(), types->end(), name) != types->end();
}

registry::registry(std::string default_type)
    : id_(next_registry_id.fetch_add(1, std::memory_order_relaxed)),
      default_type_(std::move(default_type)),
      attached_(std::make_shared<recipients>()),
      snapshot_(std::make_shared<routing>()) {}

registry::~registry() { release_cached_routing(id_); }

void registry::join_locked(change& c, const std::string& module, module_record& rec,
                           std::string_view group) {
  if (group.empty()) return;
  if (std::find(rec.groups.begin(), rec.groups.end(), group) != rec.groups.end()) return;
  rec.groups.emplace_back(group);
  auto g = groups_.find(group);
  if (g == groups_.end()) g = groups_.emplace(std::string(group), std::vector<std::string>()).first;
  g->second.push_back(module);
  c.touched_groups.emplace_back(group);
  c.event(presence_kind::grouped, module, rec, group);
}

void registry::leave_locked(change& c, const std::string& module, module_record& rec,
                            std::string_view group) {
  auto it = std::find(rec.groups.begin(), rec.groups.end(), group);
  if (it == rec.groups.end()) return;
  rec.groups.erase(it);
  if (auto g = groups_.find(group); g != groups_.end()) {
    std::erase(g->second, module);
    if (g->second.empty()) groups_.erase(g);
  }
  c.touched_groups.emplace_back(group);
  c.event(presence_kind::ungrouped, module, rec, group);
}

void registry::leave_all_locked(change& c, const std::string& module, module_record& rec) {
  // As Go's delChannel: a module that goes leaves every group (latest joined first).
  while (!rec.groups.empty()) leave_locked(c, module, rec, std::string(rec.groups.back()));
}

std::shared_ptr<const routing> registry::commit_locked(change& c) {
  auto& touched = c.touched_groups;
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const auto& group : touched) {
    auto g = groups_.find(group);
    if (g == groups_.end()) {
      c.next.groups.erase(group);
      continue;
    }
    auto list = std::make_shared<member_list>();
    list->members.reserve(g->second.size());
    for (const auto& name : g->second) {
      auto m = modules_.find(name);
      if (m != modules_.end() && m->second.live) list->members.push_back(m->second.ep);
    }
    c.next.groups.assign(group, std::move(list));
  }
  if (!c.events.empty() && !attached_->empty()) {
    std::lock_guard lock(presence_mu_);
    if (!presence_stopped_) presence_queue_.push_back({attached_, std::move(c.events), false});
  }
  if (!c.routed && touched.empty()) return nullptr;
  auto previous = std::move(snapshot_);
  snapshot_ = std::make_shared<routing>(std::move(c.next));
  generation_.fetch_add(1, std::memory_order_release);
  return previous;
}

// ---- types ---------------------------------------------------------------------------------

expected<void> registry::reserve_type(std::string name, std::shared_ptr<context_type> type) {
  if (name.empty() || !type) return unexpected(errc::invalid_argument);
  std::lock_guard lock(mu_);
  if (types_.count(name) != 0) return unexpected(errc::already_exists);
  types_.emplace(std::move(name), type_record{std::move(type), false});
  return {};
}

void registry::publish_type(std::string_view name) {
  std::shared_ptr<const routing> previous;
  {
    std::lock_guard lock(mu_);
    auto t = types_.find(name);
    if (t == types_.end() || t->second.attached) return;
    t->second.attached = true;
    auto to = std::make_shared<recipients>(*attached_);
    to->push_back({t->first, t->second.type});
    attached_ = std::move(to);
    change c(*snapshot_);
    auto names = std::make_shared<std::vector<std::string>>();
    for (const auto& [n, rec] : types_) {
      if (rec.attached) names->push_back(n);
    }
    c.next.types = std::move(names);
    c.routed = true;
    // The new type's snapshot: what exists now, queued before any later change's batch.
    presence_batch snap{
        std::make_shared<recipients>(recipients{{t->first, t->second.type}}), {}, true};
    for (const auto& [module, rec] : modules_) {
      if (rec.live)
        snap.events.push_back({presence_kind::added, module, {}, rec.type_name, rec.peer});
    }
    for (const auto& [group, members] : groups_) {
      for (const auto& module : members) {
        const auto& rec = modules_.find(module)->second;
        snap.events.push_back({presence_kind::grouped, module, group, rec.type_name, rec.peer});
      }
    }
    {
      std::lock_guard plock(presence_mu_);
      if (!presence_stopped_) presence_queue_.push_back(std::move(snap));
    }
    previous = commit_locked(c);
  }
  deliver_presence();
}

std::shared_ptr<context_type> registry::type(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = types_.find(name);
  return it == types_.end() || !it->second.attached ? nullptr : it->second.type;
}

std::vector<std::shared_ptr<context_type>> registry::types() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<context_type>> out;
  for (const auto& [n, t] : types_) out.push_back(t.type);
  return out;
}

// ---- modules -------------------------------------------------------------------------------

expected<void> registry::add_module(const module_info& info, std::vector<message>& dropped) {
  if (info.name.empty() || info.inbox.capacity == 0) return unexpected(errc::invalid_argument);
  const std::string_view wanted = info.type.empty() ? std::string_view(default_type_) : info.type;
  std::shared_ptr<context_type> type;
  std::string type_name;
  std::shared_ptr<endpoint> old;
  {
    std::lock_guard lock(mu_);
    auto t = types_.find(wanted);
    if (t == types_.end() || !t->second.attached) return unexpected(errc::unsupported_type);
    type = t->second.type;
    type_name = t->first;
    if (auto m = modules_.find(info.name); m != modules_.end()) {
      if (m->second.live) return unexpected(errc::already_exists);
      if (m->second.type == type.get()) old = m->second.ep;
    }
  }
  // Outside the lock: reopening or making an endpoint may call back through the type's host.
  if (old && old->reopen(info)) {
    std::shared_ptr<const routing> previous;
    {
      std::lock_guard lock(mu_);
      auto m = modules_.find(info.name);
      if (m == modules_.end() || m->second.ep != old || m->second.live) {
        return unexpected(errc::already_exists);
      }
      m->second.live = true;
      m->second.peer = false;
      change c(*snapshot_);
      c.event(presence_kind::added, info.name, m->second);
      previous = commit_locked(c);
    }
    deliver_presence();
    return {};
  }
  auto made = type->make_endpoint(info);
  if (!made) return unexpected(made.error());
  std::shared_ptr<endpoint> replaced;
  std::shared_ptr<const routing> previous;
  bool lost = false;
  {
    std::lock_guard lock(mu_);
    auto [m, inserted] = modules_.try_emplace(info.name);
    if (!inserted && m->second.live) {
      // Lost a race with another add of the name: the endpoint just made serves nobody.
      replaced = std::move(*made);
      lost = true;
    } else {
      if (!inserted) replaced = std::move(m->second.ep);
      m->second = module_record{type_name, type.get(), std::move(*made), true, false, {}};
      change c(*snapshot_);
      c.next.modules.assign(info.name, m->second.ep.get(), m->second.ep);
      c.routed = true;
      c.event(presence_kind::added, info.name, m->second);
      previous = commit_locked(c);
    }
  }
  // A cleaned-up endpoint that could not be reopened (or one that lost a race): what it still
  // holds is dropped, counted.
  if (replaced) replaced->discard(dropped);
  if (lost) return unexpected(errc::already_exists);
  deliver_presence();
  return {};
}

expected<void> registry::add_module_group(std::string_view module, std::string_view group) {
  if (group.empty()) return unexpected(errc::invalid_argument);
  std::shared_ptr<const routing> previous;
  {
    std::lock_guard lock(mu_);
    auto m = modules_.find(module);
    if (m == modules_.end() || !m->second.live) return unexpected(errc::module_not_found);
    change c(*snapshot_);
    join_locked(c, m->first, m->second, group);
    previous = commit_locked(c);
  }
  deliver_presence();
  return {};
}

expected<void> registry::cleanup(std::string_view module, std::vector<message>& dropped,
                                 const endpoint* only_if) {
  std::shared_ptr<endpoint> ep;
  std::shared_ptr<const routing> previous;
  {
    std::lock_guard lock(mu_);
    auto m = modules_.find(module);
    if (m == modules_.end()) return unexpected(errc::module_not_found);
    if (only_if != nullptr && m->second.ep.get() != only_if) {
      return unexpected(errc::module_not_found);
    }
    ep = m->second.ep;
    if (m->second.live) {
      change c(*snapshot_);
      leave_all_locked(c, m->first, m->second);
      m->second.live = false;
      c.event(presence_kind::removed, m->first, m->second);
      previous = commit_locked(c);
    }
  }
  // Idempotent: closing a closed endpoint does nothing.
  ep->close(dropped);
  deliver_presence();
  return {};
}

// ---- teardown and queries ----------------------------------------------------------------

void registry::close_all(std::vector<message>& dropped) {
  std::vector<std::shared_ptr<endpoint>> all;
  {
    std::lock_guard lock(mu_);
    all.reserve(modules_.size());
    for (auto& [name, rec] : modules_) {
      rec.live = false;
      rec.groups.clear();
      all.push_back(rec.ep);
    }
    groups_.clear();
  }
  // Whatever a drain-mode inbox still holds is dropped too: nobody will receive it now.
  for (auto& ep : all) ep->discard(dropped);
}

membership registry::members() const {
  membership out;
  std::lock_guard lock(mu_);
  out.modules.reserve(modules_.size());
  for (const auto& [name, rec] : modules_) out.modules.push_back({name, rec.type_name, rec.live});
  std::sort(out.modules.begin(), out.modules.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& [group, names] : groups_) {
    auto& live = out.groups[group];
    live = names;
    std::sort(live.begin(), live.end());
  }
  return out;
}

std::shared_ptr<endpoint> registry::find(std::string_view module) const {
  std::lock_guard lock(mu_);
  auto m = modules_.find(module);
  return m == modules_.end() ? nullptr : m->second.ep;
}

std::optional<std::string> registry::module_type(std::string_view module) const {
  std::lock_guard lock(mu_);
  auto m = modules_.find(module);
  if (m == modules_.end()) return std::nullopt;
  return m->second.type_name;
}

bool registry::is_live(std::string_view module) const {
  std::lock_guard lock(mu_);
  auto m = modules_.find(module);
  return m != modules_.end() && m->second.live;
}

}  // namespace beehive::detail
