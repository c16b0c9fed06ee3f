// SPDX-License-Identifier: Apache-2.0
#include "beehive/context.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <future>
#include <mutex>
#include <set>
#include <utility>

#include "log.hpp"
#include "reply_table.hpp"

namespace beehive {

namespace {

// A hash of a module or group name, 8 bytes at a time (names are short; no library call).
inline std::uint64_t hash_name(std::string_view s) noexcept {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ s.size();
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
  }
  // The tail without a byte loop: two overlapping 4-byte loads, or three single bytes.
  if (n >= 4) {
    std::uint32_t a = 0;
    std::uint32_t b = 0;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    h ^= (static_cast<std::uint64_t>(a) << 32) | b;
  } else if (n != 0) {
    const auto byte = [&](std::size_t i) {
      return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i]));
    };
    h ^= (byte(0) << 16) | (byte(n >> 1) << 8) | byte(n - 1) | (std::uint64_t{1} << 40);
  }
  // murmur3's finalizer: every input bit reaches the low bits the table indexes with.
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

// An immutable open-addressing table from names to `V`, built once per routing change.
//
// Why not std::unordered_map: its lookup divides by a prime bucket count, and that division
// was the largest single cost of a routed `send`. Here the size is a power of two, the table
// at most half full, and the stored hash is compared before the name.
template <class V>
class name_table {
 public:
  name_table() = default;
  explicit name_table(std::vector<std::pair<std::string, V>> entries) {
    std::size_t size = 8;
    while (size < entries.size() * 2) size *= 2;
    slots_.resize(size);
    mask_ = size - 1;
    for (auto& [name, value] : entries) {
      const std::uint64_t h = hash_name(name);
      std::size_t i = static_cast<std::size_t>(h) & mask_;
      while (!slots_[i].name.empty()) i = (i + 1) & mask_;
      slots_[i] = slot{h, std::move(name), std::move(value)};
    }
  }
  /// The value of `name`, or null.
  [[nodiscard]] const V* find(std::string_view name) const noexcept {
    if (slots_.empty() || name.empty()) return nullptr;
    const std::uint64_t h = hash_name(name);
    for (std::size_t i = static_cast<std::size_t>(h) & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.name.empty()) return nullptr;
      if (s.hash == h && s.name == name) return &s.value;
    }
  }

 private:
  struct slot {
    std::uint64_t hash = 0;
    std::string name;  // empty: free slot (names are never empty)
    V value{};
  };
  std::vector<slot> slots_;
  std::size_t mask_ = 0;
};

// An immutable view of where calls go. Rebuilt (copied) on every change of the routing and
// published with a new generation number.
//
// Why raw pointers: the backends are owned by the context and never removed, so they outlive
// every snapshot that can still be matched to a live context (see `route_cache`).
struct routing {
  message_context* channel = nullptr;
  name_table<message_context*> types;
  name_table<message_context*> modules;
  name_table<std::vector<message_context*>> groups;
};

// Every context gets an id that is never reused, so that a thread's cache entry of a destroyed
// context can never match a new context built at the same address.
std::atomic<std::uint64_t> next_context_id{1};

// The per-thread cache of routing snapshots.
//
// Why: the send path must not touch a cache line that other cores write. A shared mutex (or a
// shared_ptr copy of the snapshot) writes its counter on every call; here a call reads only the
// context's generation counter, which changes only when modules, groups or types change.
struct route_cache {
  struct entry {
    std::uint64_t ctx_id = 0;
    std::uint64_t generation = 0;
    std::shared_ptr<const routing> snapshot;
  };
  std::array<entry, 4> entries;
  std::size_t next_victim = 0;
};

thread_local route_cache tls_routes;

// An empty type means `channel`, as an empty `header.type` does.
std::string_view type_of(const module_info& info) {
  return info.type.empty() ? context_type_channel : std::string_view(info.type);
}

bool is_group_not_found(const std::error_code& ec) {
  return ec == make_error_code(errc::group_not_found);
}

}  // namespace

struct context::impl {
  struct backend {
    std::shared_ptr<module_context> modules;
    std::shared_ptr<message_context> messages;
  };

  impl()
      : replies(std::make_shared<detail::reply_table>()),
        channel(std::make_shared<channel_context>(replies)) {
    types.emplace(std::string(context_type_channel), backend{channel, channel});
    rebuild_locked();
  }

  // Looks up the snapshot for the calling thread; takes the lock only when the routing changed
  // since this thread last looked.
  const routing& current_routing() {
    const std::uint64_t gen = generation.load(std::memory_order_acquire);
    for (auto& e : tls_routes.entries) {
      if (e.ctx_id == id && e.generation == gen) return *e.snapshot;
    }
    std::shared_ptr<const routing> snap;
    std::uint64_t snap_gen = 0;
    {
      std::lock_guard lock(mu);
      snap = snapshot;
      snap_gen = generation.load(std::memory_order_relaxed);
    }
    // Reuse this context's slot if it has one, else evict round-robin.
    route_cache::entry* slot = nullptr;
    for (auto& e : tls_routes.entries) {
      if (e.ctx_id == id) slot = &e;
    }
    if (slot == nullptr) {
      slot = &tls_routes.entries[tls_routes.next_victim];
      tls_routes.next_victim = (tls_routes.next_victim + 1) % tls_routes.entries.size();
    }
    slot->ctx_id = id;
    slot->generation = snap_gen;
    slot->snapshot = std::move(snap);
    return *slot->snapshot;
  }

  message_context* module_route(std::string_view module) {
    const routing& r = current_routing();
    const auto* target = r.modules.find(module);
    // A module the context never saw goes to `channel`, which answers module_not_found (and
    // still serves modules added to `channel()` directly).
    return target == nullptr ? r.channel : *target;
  }

  std::vector<message_context*> group_route(std::string_view group) {
    const routing& r = current_routing();
    const auto* targets = r.groups.find(group);
    if (targets == nullptr || targets->empty()) return {r.channel};
    return *targets;
  }

  // Called with `mu` held.
  void rebuild_locked() {
    auto r = std::make_shared<routing>();
    r->channel = channel.get();
    std::vector<std::pair<std::string, message_context*>> type_entries;
    for (const auto& [name, b] : types) type_entries.emplace_back(name, b.messages.get());
    std::vector<std::pair<std::string, message_context*>> module_entries;
    for (const auto& [name, type] : module_types) {
      auto t = types.find(type);
      if (t != types.end()) module_entries.emplace_back(name, t->second.messages.get());
    }
    std::vector<std::pair<std::string, std::vector<message_context*>>> group_entries;
    for (const auto& [group, members] : group_members) {
      std::vector<message_context*> targets;
      for (const auto& m : members) {
        auto mt = module_types.find(m);
        if (mt == module_types.end()) continue;
        auto t = types.find(mt->second);
        if (t == types.end()) continue;
        if (std::find(targets.begin(), targets.end(), t->second.messages.get()) == targets.end()) {
          targets.push_back(t->second.messages.get());
        }
      }
      group_entries.emplace_back(group, std::move(targets));
    }
    r->types = name_table<message_context*>(std::move(type_entries));
    r->modules = name_table<message_context*>(std::move(module_entries));
    r->groups = name_table<std::vector<message_context*>>(std::move(group_entries));
    snapshot = std::move(r);
    generation.fetch_add(1, std::memory_order_release);
  }

  const std::uint64_t id = next_context_id.fetch_add(1, std::memory_order_relaxed);
  // Read on every call by every thread, written only on routing changes: on its own line so
  // that writes to the mutex and the maps do not invalidate it.
  alignas(64) std::atomic<std::uint64_t> generation{0};

  alignas(64) mutable std::mutex mu;
  std::shared_ptr<detail::reply_table> replies;
  std::shared_ptr<channel_context> channel;
  std::map<std::string, backend, std::less<>> types;
  std::map<std::string, std::string, std::less<>> module_types;  // every module ever added
  std::set<std::string, std::less<>> live;                       // not cleaned up
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> group_members;
  std::shared_ptr<const routing> snapshot;

  std::stop_source stop;
};

context::context() : impl_(std::make_unique<impl>()) {}

context::~context() = default;

expected<void> context::register_type(std::string type, std::shared_ptr<module_context> modules,
                                      std::shared_ptr<message_context> messages) {
  if (type.empty() || !modules || !messages) return unexpected(errc::invalid_argument);
  std::lock_guard lock(impl_->mu);
  if (impl_->types.count(type) != 0) return unexpected(errc::already_exists);
  impl_->types.emplace(std::move(type), impl::backend{std::move(modules), std::move(messages)});
  impl_->rebuild_locked();
  return {};
}

bool context::has_type(std::string_view type) const {
  std::lock_guard lock(impl_->mu);
  return impl_->types.find(type) != impl_->types.end();
}

channel_context& context::channel() noexcept { return *impl_->channel; }

const std::shared_ptr<detail::reply_table>& context::replies() const noexcept {
  return impl_->replies;
}

expected<void> context::add_module(const module_info& info) {
  if (info.name.empty()) return unexpected(errc::invalid_argument);
  std::shared_ptr<module_context> backend;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->types.find(type_of(info));
    if (it == impl_->types.end()) return unexpected(errc::unsupported_type);
    backend = it->second.modules;
  }
  // Outside the lock: a backend may be slow or call back into this context.
  if (auto r = backend->add_module(info); !r) return r;
  std::lock_guard lock(impl_->mu);
  auto& type = impl_->module_types[info.name];
  const bool changed = type != type_of(info);
  type = type_of(info);
  impl_->live.insert(info.name);
  if (changed) impl_->rebuild_locked();
  return {};
}

expected<void> context::add_module_group(std::string_view module, std::string_view group) {
  if (group.empty()) return unexpected(errc::invalid_argument);
  std::shared_ptr<module_context> backend;
  {
    std::lock_guard lock(impl_->mu);
    auto mt = impl_->module_types.find(module);
    if (mt == impl_->module_types.end()) return unexpected(errc::module_not_found);
    auto t = impl_->types.find(mt->second);
    if (t == impl_->types.end()) return unexpected(errc::unsupported_type);
    backend = t->second.modules;
  }
  if (auto r = backend->add_module_group(module, group); !r) return r;
  std::lock_guard lock(impl_->mu);
  auto& members = impl_->group_members[std::string(group)];
  if (members.insert(std::string(module)).second) impl_->rebuild_locked();
  return {};
}

expected<void> context::cleanup(std::string_view module) {
  std::shared_ptr<module_context> backend;
  {
    std::lock_guard lock(impl_->mu);
    auto mt = impl_->module_types.find(module);
    if (mt == impl_->module_types.end()) {
      backend = impl_->channel;  // may still know it if it was added to channel() directly
    } else {
      auto t = impl_->types.find(mt->second);
      if (t == impl_->types.end()) return unexpected(errc::unsupported_type);
      backend = t->second.modules;
    }
  }
  auto r = backend->cleanup(module);
  std::lock_guard lock(impl_->mu);
  // The routing stays: later calls still reach the module's type, which answers channel_closed.
  if (auto it = impl_->live.find(module); it != impl_->live.end()) impl_->live.erase(it);
  return r;
}

expected<void> context::send(std::string_view module, message msg) {
  return impl_->module_route(module)->send(module, std::move(msg));
}

expected<message> context::receive(std::string_view module) {
  return impl_->module_route(module)->receive(module);
}

expected<message> context::receive_for(std::string_view module, duration timeout) {
  return impl_->module_route(module)->receive_for(module, timeout);
}

expected<message> context::send_sync(std::string_view module, message msg, duration timeout) {
  return impl_->module_route(module)->send_sync(module, std::move(msg), timeout);
}

expected<void> context::send_resp(message resp) {
  message_context* target = nullptr;
  {
    const routing& r = impl_->current_routing();
    if (resp.header.type.empty()) {
      target = r.channel;
    } else {
      const auto* t = r.types.find(resp.header.type);
      if (t == nullptr) return unexpected(errc::unsupported_type);
      target = *t;
    }
  }
  return target->send_resp(std::move(resp));
}

expected<group_delivery> context::send_to_group(std::string_view group, message msg) {
  auto targets = impl_->group_route(group);
  if (targets.size() == 1) return targets.front()->send_to_group(group, std::move(msg));
  group_delivery total;
  bool any = false;
  std::error_code first_error;
  for (auto* t : targets) {
    // Each type gets the message; the content is shared, not copied.
    auto r = t->send_to_group(group, msg);
    if (r) {
      any = true;
      total.delivered += r->delivered;
      for (auto& f : r->failed) total.failed.push_back(std::move(f));
    } else if (!is_group_not_found(r.error()) && !first_error) {
      first_error = r.error();
    }
  }
  if (any) return total;
  if (first_error) return unexpected(first_error);
  return unexpected(errc::group_not_found);
}

expected<group_replies> context::send_to_group_sync(std::string_view group, message msg,
                                                    duration timeout) {
  auto targets = impl_->group_route(group);
  if (targets.size() == 1) {
    return targets.front()->send_to_group_sync(group, std::move(msg), timeout);
  }
  // Several types: each waits for its own members, so they wait side by side and the caller
  // waits for the slowest, not the sum. Each type gets its own request id, since every type
  // registers its own wait for the id's replies.
  std::vector<std::future<expected<group_replies>>> pending;
  for (std::size_t i = 1; i < targets.size(); ++i) {
    message copy = msg;
    copy.update_id();
    pending.push_back(std::async(
        std::launch::async, [t = targets[i], group, copy = std::move(copy), timeout]() mutable {
          return t->send_to_group_sync(group, std::move(copy), timeout);
        }));
  }
  std::vector<expected<group_replies>> results;
  results.push_back(targets.front()->send_to_group_sync(group, std::move(msg), timeout));
  for (auto& f : pending) results.push_back(f.get());

  group_replies total;
  bool any = false;
  std::error_code first_error;
  for (auto& r : results) {
    if (r) {
      any = true;
      for (auto& m : r->replies) total.replies.push_back(std::move(m));
      for (auto& m : r->missing) total.missing.push_back(std::move(m));
      for (auto& f : r->failed) total.failed.push_back(std::move(f));
    } else if (!is_group_not_found(r.error()) && !first_error) {
      first_error = r.error();
    }
  }
  if (any) return total;
  if (first_error) return unexpected(first_error);
  return unexpected(errc::group_not_found);
}

std::optional<std::string> context::module_type(std::string_view module) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->module_types.find(module);
  if (it == impl_->module_types.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> context::modules() const {
  std::lock_guard lock(impl_->mu);
  return {impl_->live.begin(), impl_->live.end()};
}

std::map<std::string, std::vector<std::string>> context::groups() const {
  std::lock_guard lock(impl_->mu);
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [group, members] : impl_->group_members) {
    std::vector<std::string> live_members;
    for (const auto& m : members) {
      if (impl_->live.count(m) != 0) live_members.push_back(m);
    }
    if (!live_members.empty()) out.emplace(group, std::move(live_members));
  }
  return out;
}

void context::cancel() noexcept {
  if (impl_->stop.request_stop()) detail::log().info("context cancelled");
}

bool context::cancelled() const noexcept { return impl_->stop.stop_requested(); }

std::stop_token context::stop_token() const noexcept { return impl_->stop.get_token(); }

std::uint64_t context::orphan_responses() const noexcept { return impl_->replies->orphans(); }

context& default_context() {
  static context ctx;
  return ctx;
}

}  // namespace beehive
