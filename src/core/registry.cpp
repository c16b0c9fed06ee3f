// SPDX-License-Identifier: Apache-2.0
#include "core/registry.hpp"

#include <algorithm>
#include <array>

namespace beehive::detail {

namespace {

// Every registry gets an id that is never reused, so that a thread's cache entry of a destroyed
// context can never match a new one built at the same address.
std::atomic<std::uint64_t> next_registry_id{1};  // NOLINT: process-wide id source

// The per-thread cache of routing snapshots.
//
// Why: the send path must not touch a cache line that other cores write. A shared mutex (or a
// shared_ptr copy of the snapshot) writes its counter on every call; here a call reads only the
// registry's generation counter, which changes only when modules, groups or types change.
//
// Why two thread-locals: the hot one (`tls_hot`) is trivially destructible, so a call reaches
// it with one segment-relative access and no initialization check; the owning shared_ptrs and
// the retired snapshots (`tls_owned`) are touched only when the routing changed.
struct hot_routes {
  struct entry {
    std::uint64_t registry = 0;
    std::uint64_t generation = 0;
    const routing* snapshot = nullptr;
  };
  std::array<entry, 4> entries{};
  std::size_t next_victim = 0;
  int depth = 0;         // nesting of call_scope on this thread
  bool retired = false;  // tls_owned.retired is not empty
};
struct owned_routes {
  std::array<std::shared_ptr<const routing>, 4> snapshots;  // same slots as hot_routes
  // Snapshots replaced while a call ran; released when the outermost call ends.
  std::vector<std::shared_ptr<const routing>> retired;
};

constinit thread_local hot_routes tls_hot;  // NOLINT
thread_local owned_routes tls_owned;        // NOLINT

}  // namespace

registry::call_scope::call_scope() noexcept { ++tls_hot.depth; }

registry::call_scope::~call_scope() {
  if (--tls_hot.depth != 0 || !tls_hot.retired) return;
  // Moved out first: releasing a snapshot may run destructors that call the context again.
  auto retired = std::move(tls_owned.retired);
  tls_owned.retired.clear();
  tls_hot.retired = false;
  retired.clear();
}

registry::registry() : id_(next_registry_id.fetch_add(1, std::memory_order_relaxed)) {
  std::lock_guard lock(mu_);
  (void)publish_locked();
}

registry::~registry() = default;

const routing& registry::current() {
  const std::uint64_t gen = generation_.load(std::memory_order_acquire);
  for (const auto& e : tls_hot.entries) {
    if (e.registry == id_ && e.generation == gen) return *e.snapshot;
  }
  std::shared_ptr<const routing> snap;
  std::uint64_t snap_gen = 0;
  {
    std::lock_guard lock(mu_);
    snap = snapshot_;
    snap_gen = generation_.load(std::memory_order_relaxed);
  }
  // Reuse this registry's slot if it has one, else evict round-robin.
  std::size_t slot = tls_hot.entries.size();
  for (std::size_t i = 0; i < tls_hot.entries.size(); ++i) {
    if (tls_hot.entries[i].registry == id_) slot = i;
  }
  if (slot == tls_hot.entries.size()) {
    slot = tls_hot.next_victim;
    tls_hot.next_victim = (tls_hot.next_victim + 1) % tls_hot.entries.size();
  }
  auto& owned = tls_owned.snapshots[slot];
  if (owned) {
    // Kept until the outermost call of this thread ends: an outer call may still use it.
    tls_owned.retired.push_back(std::move(owned));
    tls_hot.retired = true;
  }
  owned = std::move(snap);
  tls_hot.entries[slot] = {id_, snap_gen, owned.get()};
  return *owned;
}

std::shared_ptr<const routing> registry::publish_locked() {
  auto r = std::make_shared<routing>();
  std::vector<std::pair<std::string, endpoint*>> module_entries;
  module_entries.reserve(modules_.size());
  r->endpoints.reserve(modules_.size());
  for (const auto& [name, rec] : modules_) {
    module_entries.emplace_back(name, rec.ep.get());
    r->endpoints.push_back(rec.ep);
  }
  std::vector<std::pair<std::string, std::shared_ptr<const member_list>>> group_entries;
  for (const auto& [group, names] : groups_) {
    auto list = std::make_shared<member_list>();
    for (const auto& n : names) {
      auto it = modules_.find(n);
      if (it != modules_.end() && it->second.live) list->members.push_back(it->second.ep);
    }
    if (!list->members.empty()) group_entries.emplace_back(group, std::move(list));
  }
  r->modules = name_table<endpoint*>(std::move(module_entries));
  r->groups = name_table<std::shared_ptr<const member_list>>(std::move(group_entries));
  auto previous = std::move(snapshot_);
  snapshot_ = std::move(r);
  generation_.fetch_add(1, std::memory_order_release);
  return previous;
}

void registry::leave_groups_locked(std::string_view module) {
  for (auto it = groups_.begin(); it != groups_.end();) {
    std::erase(it->second, module);
    it = it->second.empty() ? groups_.erase(it) : std::next(it);
  }
}

expected<void> registry::add_type(std::string name, std::shared_ptr<context_type> type) {
  if (name.empty() || !type) return unexpected(errc::invalid_argument);
  std::lock_guard lock(mu_);
  if (types_.count(name) != 0) return unexpected(errc::already_exists);
  types_.emplace(std::move(name), std::move(type));
  return {};
}

std::shared_ptr<context_type> registry::type(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<context_type>> registry::types() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<context_type>> out;
  for (const auto& [n, t] : types_) out.push_back(t);
  return out;
}

expected<void> registry::add_module(const module_info& info, std::vector<message>& dropped) {
  if (info.name.empty() || info.inbox.capacity == 0) return unexpected(errc::invalid_argument);
  const std::string_view type_name =
      info.type.empty() ? std::string_view("channel") : std::string_view(info.type);
  std::shared_ptr<context_type> type;
  std::shared_ptr<endpoint> old;
  {
    std::lock_guard lock(mu_);
    auto t = types_.find(type_name);
    if (t == types_.end()) return unexpected(errc::unsupported_type);
    type = t->second;
    if (auto m = modules_.find(info.name); m != modules_.end()) {
      if (m->second.live) return unexpected(errc::already_exists);
      if (m->second.type == type_name) old = m->second.ep;
    }
  }
  // Outside the lock: reopening or making an endpoint may block (a socket connects) or call
  // back through the type's host.
  if (old && old->reopen(info)) {
    std::shared_ptr<const routing> previous;
    {
      std::lock_guard lock(mu_);
      auto m = modules_.find(info.name);
      if (m == modules_.end() || m->second.ep != old) return unexpected(errc::already_exists);
      m->second.live = true;
      previous = publish_locked();
    }
    return {};
  }
  auto made = type->make_endpoint(info);
  if (!made) return unexpected(made.error());
  std::shared_ptr<endpoint> replaced;
  std::shared_ptr<const routing> previous;
  {
    std::lock_guard lock(mu_);
    auto [m, inserted] = modules_.try_emplace(info.name);
    if (!inserted) {
      if (m->second.live) return unexpected(errc::already_exists);  // lost a race
      replaced = std::move(m->second.ep);
    }
    m->second = module_record{std::string(type_name), std::move(*made), true, false};
    previous = publish_locked();
  }
  // A cleaned-up endpoint that could not be reopened: what it still holds is dropped, counted.
  if (replaced) replaced->discard(dropped);
  return {};
}

expected<void> registry::add_module_group(std::string_view module, std::string_view group) {
  if (group.empty()) return unexpected(errc::invalid_argument);
  std::shared_ptr<context_type> type;
  std::shared_ptr<const routing> previous;
  {
    std::lock_guard lock(mu_);
    auto m = modules_.find(module);
    if (m == modules_.end() || !m->second.live) return unexpected(errc::module_not_found);
    auto& members = groups_[std::string(group)];
    if (std::find(members.begin(), members.end(), module) != members.end()) return {};
    members.emplace_back(module);
    if (auto t = types_.find(m->second.type); t != types_.end()) type = t->second;
    previous = publish_locked();
  }
  if (type) type->member_grouped(module, group);
  return {};
}

expected<void> registry::cleanup(std::string_view module, std::vector<message>& dropped) {
  std::shared_ptr<endpoint> ep;
  std::shared_ptr<context_type> type;
  std::shared_ptr<const routing> previous;
  {
    std::lock_guard lock(mu_);
    auto m = modules_.find(module);
    if (m == modules_.end()) return unexpected(errc::module_not_found);
    ep = m->second.ep;
    if (m->second.live) {
      // As Go's delChannel: the module leaves every group.
      m->second.live = false;
      leave_groups_locked(module);
      if (auto t = types_.find(m->second.type); t != types_.end()) type = t->second;
      previous = publish_locked();
    }
  }
  // Idempotent: closing a closed endpoint does nothing.
  ep->close(dropped);
  if (type) type->member_removed(module);
  return {};
}

expected<void> registry::add_peer(std::string_view type, std::string_view module,
                                  std::shared_ptr<endpoint> ep,
                                  const std::vector<std::string>& groups) {
  if (module.empty() || !ep) return unexpected(errc::invalid_argument);
  std::shared_ptr<endpoint> replaced;
  std::shared_ptr<const routing> previous;
  {
    std::lock_guard lock(mu_);
    auto [m, inserted] = modules_.try_emplace(std::string(module));
    if (!inserted) {
      const bool ours = m->second.type == type && (m->second.peer || !m->second.live);
      if (!ours) return unexpected(errc::already_exists);
      replaced = std::move(m->second.ep);
    }
    m->second = module_record{std::string(type), std::move(ep), true, true};
    for (const auto& g : groups) {
      if (g.empty()) continue;
      auto& members = groups_[g];
      if (std::find(members.begin(), members.end(), module) == members.end()) {
        members.emplace_back(module);
      }
    }
    previous = publish_locked();
  }
  return {};
}

void registry::remove_peer(std::string_view module, const endpoint& ep) {
  std::shared_ptr<const routing> previous;
  {
    std::lock_guard lock(mu_);
    auto m = modules_.find(module);
    if (m == modules_.end() || m->second.ep.get() != &ep || !m->second.live) return;
    // The name stays known, so that a send reaches the endpoint and hears why it fails
    // (`not_connected`) instead of `module_not_found`; it leaves its groups and the module list
    // until the peer joins again (add_peer replaces the endpoint).
    m->second.live = false;
    leave_groups_locked(module);
    previous = publish_locked();
  }
}

void registry::close_all(std::vector<message>& dropped) {
  std::vector<std::shared_ptr<endpoint>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, rec] : modules_) {
      rec.live = false;
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
  for (const auto& [name, rec] : modules_) out.modules.push_back({name, rec.type, rec.live});
  for (const auto& [group, names] : groups_) {
    auto& live = out.groups[group];
    for (const auto& n : names) live.push_back(n);
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
  return m->second.type;
}

}  // namespace beehive::detail
