// SPDX-License-Identifier: Apache-2.0
// The per-thread cache of routing snapshots: `registry::current` and `registry::call_scope`.
//
// Why: the send path must not touch a cache line that other cores write. A shared mutex (or a
// shared_ptr copy of the snapshot) writes its counter on every call; here a call reads only the
// registry's generation counter, which changes only when modules, groups or types change.
//
// Why two thread-locals: the hot one (`tls_hot`) is trivially destructible, so a call reaches
// it with one segment-relative access and no initialization check; the owning shared_ptrs and
// the retired snapshots (`tls_owned`) are touched only when the routing changed.
//
// Why the owned part is reachable from other threads (a list of every thread's cache, each
// with its own mutex): a cache that owns snapshots must let them go when their registry goes,
// even if the thread never calls again (STYLE: "a cache that holds ownership has a bound and an
// end"). `~registry` takes its snapshots out of every cache. The hot part is never written by
// another thread: an entry of a destroyed registry keeps a dangling pointer, but registry ids
// are never reused, so it never matches again.
//
// Per call, steady state: one thread-local depth increment and decrement, one acquire load of
// the generation, a scan of 4 entries. On a routing change, once per thread: the registry's
// mutex (to copy the snapshot pointer) and the thread's cache mutex (uncontended).
#include "core/routing_cache.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <vector>

#include "core/registry.hpp"

namespace beehive::detail {

namespace {

constexpr std::size_t cache_slots = 4;

struct hot_routes {
  struct entry {
    std::uint64_t registry = 0;
    std::uint64_t generation = 0;
    const routing* snapshot = nullptr;
  };
  std::array<entry, cache_slots> entries{};
  std::size_t next_victim = 0;
  int depth = 0;         // nesting of call_scope on this thread
  bool retired = false;  // tls_owned.retired is not empty
};

struct owned_routes;

// Every thread's owned cache. Never destroyed: a thread may exit after main returns.
struct cache_list {
  std::mutex mu;
  std::vector<owned_routes*> all;
};
cache_list& caches() {
  static auto* list = new cache_list;  // NOLINT(cppcoreguidelines-owning-memory): never freed
  return *list;
}

struct owned_routes {
  owned_routes() {
    std::lock_guard lock(caches().mu);
    caches().all.push_back(this);
  }
  ~owned_routes() {
    {
      std::lock_guard lock(caches().mu);
      std::erase(caches().all, this);
    }
    // Released here, outside every lock (a snapshot's endpoints may run user destructors).
    std::array<std::shared_ptr<const routing>, cache_slots> gone;
    {
      std::lock_guard lock(mu);
      gone = std::move(snapshots);
    }
  }
  owned_routes(const owned_routes&) = delete;
  owned_routes& operator=(const owned_routes&) = delete;

  std::mutex mu;  // guards snapshots and ids (other threads take them in ~registry)
  std::array<std::shared_ptr<const routing>, cache_slots> snapshots;  // same slots as hot_routes
  std::array<std::uint64_t, cache_slots> ids{};
  // Snapshots replaced while a call ran; released when the outermost call ends. Own thread only.
  std::vector<std::shared_ptr<const routing>> retired;
};

constinit thread_local hot_routes tls_hot;  // NOLINT
thread_local owned_routes tls_owned;        // NOLINT

}  // namespace

void release_cached_routing(std::uint64_t registry_id) {
  std::vector<std::shared_ptr<const routing>> gone;
  {
    std::lock_guard list_lock(caches().mu);
    for (owned_routes* c : caches().all) {
      std::lock_guard lock(c->mu);
      for (std::size_t i = 0; i < cache_slots; ++i) {
        if (c->ids[i] != registry_id) continue;
        c->ids[i] = 0;
        gone.push_back(std::move(c->snapshots[i]));
      }
    }
  }
  // `gone` is released here, outside every lock.
}

registry::call_scope::call_scope() noexcept { ++tls_hot.depth; }

registry::call_scope::~call_scope() {
  if (--tls_hot.depth != 0 || !tls_hot.retired) return;
  // Moved out first: releasing a snapshot may run destructors that call the context again.
  auto retired = std::move(tls_owned.retired);
  tls_owned.retired.clear();
  tls_hot.retired = false;
  retired.clear();
}

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
  std::size_t slot = cache_slots;
  for (std::size_t i = 0; i < cache_slots; ++i) {
    if (tls_hot.entries[i].registry == id_) slot = i;
  }
  if (slot == cache_slots) {
    slot = tls_hot.next_victim;
    tls_hot.next_victim = (tls_hot.next_victim + 1) % cache_slots;
  }
  const routing* raw = snap.get();
  {
    owned_routes& owned = tls_owned;
    std::lock_guard lock(owned.mu);
    if (owned.snapshots[slot]) {
      // Kept until the outermost call of this thread ends: an outer call may still use it.
      owned.retired.push_back(std::move(owned.snapshots[slot]));
      tls_hot.retired = true;
    }
    owned.snapshots[slot] = std::move(snap);
    owned.ids[slot] = id_;
  }
  tls_hot.entries[slot] = {id_, snap_gen, raw};
  return *raw;
}

}  // namespace beehive::detail
