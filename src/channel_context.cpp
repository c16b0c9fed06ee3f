// SPDX-License-Identifier: Apache-2.0
#include "beehive/channel_context.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "inbox.hpp"
#include "reply_table.hpp"

namespace beehive {

namespace {

struct module_entry {
  explicit module_entry(const module_info& info) : name(info.name), box(info.inbox) {}
  const std::string name;
  detail::inbox box;
};
using entry_ptr = std::shared_ptr<module_entry>;
// A group's members; replaced as a whole when it changes, so readers need no lock.
using group_ptr = std::shared_ptr<const std::vector<entry_ptr>>;

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
template <class V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

std::atomic<std::uint64_t> next_context_id{1};  // NOLINT: process-wide id source

// Why a thread-local lookup cache: every send and receive looks a module up by name. A shared
// lock (even a reader lock) makes every sender write the same cache line. Instead each thread
// keeps the entries it used, stamped with the context's generation, which changes only when
// modules or groups change; a hit costs one read of a rarely written atomic.
struct lookup_cache {
  std::uint64_t context = 0;
  std::uint64_t generation = 0;
  std::vector<std::pair<std::string, entry_ptr>> modules;
  std::vector<std::pair<std::string, group_ptr>> groups;
};
constexpr std::size_t cached_contexts = 4;
thread_local std::array<lookup_cache, cached_contexts> caches;  // NOLINT
thread_local std::size_t next_victim = 0;                       // NOLINT

duration effective_timeout(duration timeout) {
  return timeout <= duration::zero() ? duration(message_timeout_default) : timeout;
}

}  // namespace

struct channel_context::impl {
  explicit impl(std::shared_ptr<detail::reply_table> r) : replies(std::move(r)) {}

  const std::uint64_t id = next_context_id.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<detail::reply_table> replies;

  mutable std::mutex mu;
  // Bumped (under mu) whenever a module or group changes; see lookup_cache.
  std::atomic<std::uint64_t> generation{1};
  string_map<entry_ptr> modules;  // cleaned-up modules stay, closed, until added again
  string_map<group_ptr> groups;

  lookup_cache& cache() {
    const auto gen = generation.load(std::memory_order_acquire);
    for (auto& c : caches) {
      if (c.context == id) {
        if (c.generation != gen) {
          c.modules.clear();
          c.groups.clear();
          c.generation = gen;
        }
        return c;
      }
    }
    auto& c = caches[next_victim++ % cached_contexts];
    c.context = id;
    c.generation = gen;
    c.modules.clear();
    c.groups.clear();
    return c;
  }

  // Never holds on to what it returns: a caller may block in the entry's inbox.
  module_entry* find_module(std::string_view name) { return find(cache().modules, modules, name); }
  const std::vector<entry_ptr>* find_group(std::string_view name) {
    return find(cache().groups, groups, name);
  }

  // The thread's cached pointer for `name`, else the registry's (then cached), else null.
  template <class Ptr>
  typename Ptr::element_type* find(std::vector<std::pair<std::string, Ptr>>& cached,
                                   const string_map<Ptr>& registry, std::string_view name) {
    for (auto& [n, p] : cached) {
      if (n == name) return p.get();
    }
    Ptr p;
    {
      std::lock_guard lk(mu);
      auto it = registry.find(name);
      if (it == registry.end()) return nullptr;
      p = it->second;
    }
    cached.emplace_back(std::string(name), p);
    return p.get();
  }

  void changed() { generation.fetch_add(1, std::memory_order_acq_rel); }
};

// The thread-local cache holds shared pointers to the entries it returned, so an entry (and its
// inbox) outlives a concurrent cleanup or re-add for as long as the caller uses it.

channel_context::channel_context() : channel_context(std::make_shared<detail::reply_table>()) {}

channel_context::channel_context(std::shared_ptr<detail::reply_table> replies)
    : impl_(std::make_unique<impl>(replies ? std::move(replies)
                                           : std::make_shared<detail::reply_table>())) {}

channel_context::~channel_context() {
  string_map<entry_ptr> modules;
  {
    std::lock_guard lk(impl_->mu);
    modules.swap(impl_->modules);
    impl_->groups.clear();
    impl_->changed();
  }
  for (auto& [name, e] : modules) e->box.close();
}

expected<void> channel_context::add_module(const module_info& info) {
  if (info.name.empty() || info.inbox.capacity == 0) return unexpected(errc::invalid_argument);
  std::lock_guard lk(impl_->mu);
  auto it = impl_->modules.find(info.name);
  if (it != impl_->modules.end()) {
    if (!it->second->box.closed()) return unexpected(errc::already_exists);
    // A cleaned-up module added again gets a fresh inbox.
    it->second = std::make_shared<module_entry>(info);
  } else {
    impl_->modules.emplace(info.name, std::make_shared<module_entry>(info));
  }
  impl_->changed();
  return {};
}

expected<void> channel_context::add_module_group(std::string_view module, std::string_view group) {
  if (group.empty()) return unexpected(errc::invalid_argument);
  std::lock_guard lk(impl_->mu);
  auto it = impl_->modules.find(module);
  if (it == impl_->modules.end() || it->second->box.closed()) {
    return unexpected(errc::module_not_found);
  }
  auto git = impl_->groups.find(group);
  std::vector<entry_ptr> members;
  if (git != impl_->groups.end()) members = *git->second;
  if (std::find(members.begin(), members.end(), it->second) != members.end()) return {};
  members.push_back(it->second);
  auto next = std::make_shared<const std::vector<entry_ptr>>(std::move(members));
  if (git != impl_->groups.end()) {
    git->second = std::move(next);
  } else {
    impl_->groups.emplace(std::string(group), std::move(next));
  }
  impl_->changed();
  return {};
}

expected<void> channel_context::cleanup(std::string_view module) {
  entry_ptr e;
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->modules.find(module);
    if (it == impl_->modules.end()) return unexpected(errc::module_not_found);
    e = it->second;
    // As Go's delChannel: the module leaves every group.
    for (auto git = impl_->groups.begin(); git != impl_->groups.end();) {
      const auto& members = *git->second;
      if (std::find(members.begin(), members.end(), e) == members.end()) {
        ++git;
        continue;
      }
      std::vector<entry_ptr> rest;
      for (const auto& m : members) {
        if (m != e) rest.push_back(m);
      }
      if (rest.empty()) {
        git = impl_->groups.erase(git);
      } else {
        git->second = std::make_shared<const std::vector<entry_ptr>>(std::move(rest));
        ++git;
      }
    }
    impl_->changed();
  }
  // Outside the registry lock: closing may destroy messages, whose contents' destructors are
  // user code that may call this context.
  e->box.close();
  return {};
}

expected<void> channel_context::send(std::string_view module, message msg) {
  module_entry* e = impl_->find_module(module);
  if (e == nullptr) return unexpected(errc::module_not_found);
  return e->box.push(std::move(msg));
}

// One named result and one return, so that the message is not moved again on its way out.
expected<message> channel_context::receive(std::string_view module) {
  module_entry* e = impl_->find_module(module);
  expected<message> r =
      e == nullptr ? expected<message>(unexpected(errc::module_not_found)) : e->box.pop();
  if (r) detail::reply_table::note_receiver(module);
  return r;
}

expected<message> channel_context::receive_for(std::string_view module, duration timeout) {
  module_entry* e = impl_->find_module(module);
  expected<message> r = e == nullptr ? expected<message>(unexpected(errc::module_not_found))
                                     : e->box.pop_until(detail::inbox::clock::now() + timeout);
  if (r) detail::reply_table::note_receiver(module);
  return r;
}

expected<message> channel_context::send_sync(std::string_view module, message msg,
                                             duration timeout) {
  const auto deadline = detail::reply_table::clock::now() + effective_timeout(timeout);
  module_entry* e = impl_->find_module(module);
  if (e == nullptr) return unexpected(errc::module_not_found);
  if (msg.header.id.empty()) msg.header.id = new_uuid();
  msg.header.sync = true;
  // Registered before the request leaves: a reply can come before this thread waits.
  auto wait = impl_->replies->expect(msg.header.id.str());
  if (auto r = e->box.push(std::move(msg)); !r) return unexpected(r.error());
  return wait->wait_one(deadline);
}

expected<void> channel_context::send_resp(message resp) {
  return impl_->replies->deliver(std::move(resp));
}

expected<group_delivery> channel_context::send_to_group(std::string_view group, message msg) {
  const auto* members = impl_->find_group(group);
  if (members == nullptr || members->empty()) return unexpected(errc::group_not_found);
  group_delivery out;
  const std::size_t n = members->size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& m = (*members)[i];
    // Every member gets a copy sharing one content; the last takes the original.
    auto r = m->box.push_group(i + 1 == n ? std::move(msg) : message(msg));
    if (r) {
      ++out.delivered;
    } else {
      out.failed.emplace_back(m->name, r.error());
    }
  }
  return out;
}

expected<group_replies> channel_context::send_to_group_sync(std::string_view group, message msg,
                                                            duration timeout) {
  const auto deadline = detail::reply_table::clock::now() + effective_timeout(timeout);
  const auto* members = impl_->find_group(group);
  if (members == nullptr || members->empty()) return unexpected(errc::group_not_found);
  if (msg.header.id.empty()) msg.header.id = new_uuid();
  msg.header.sync = true;
  std::vector<std::string> names;
  names.reserve(members->size());
  for (const auto& m : *members) names.push_back(m->name);
  auto wait = impl_->replies->expect(msg.header.id.str(), std::move(names), msg.route.source.str());
  group_replies out;
  const std::size_t n = members->size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& m = (*members)[i];
    auto r = m->box.push_group(i + 1 == n ? std::move(msg) : message(msg));
    if (!r) {
      wait->not_expecting(m->name);
      out.failed.emplace_back(m->name, r.error());
    }
  }
  out.replies = wait->wait_all(deadline, out.missing);
  return out;
}

expected<inbox_stats> channel_context::stats(std::string_view module) const {
  entry_ptr e;
  {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->modules.find(module);
    if (it == impl_->modules.end()) return unexpected(errc::module_not_found);
    e = it->second;
  }
  return e->box.stats();
}

std::uint64_t channel_context::orphan_responses() const noexcept {
  return impl_->replies->orphans();
}

bool channel_context::has_module(std::string_view module) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->modules.find(module);
  return it != impl_->modules.end() && !it->second->box.closed();
}

}  // namespace beehive
