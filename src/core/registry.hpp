// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/module_options.hpp"
#include "core/name_map.hpp"
#include "type/context_type.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {

/// A group's members at one moment. Immutable; a group call holds it for the whole call, so a
/// destructor that changes the group meanwhile cannot pull it from under the call.
struct member_list {
  std::vector<std::shared_ptr<endpoint>> members;
};

/// Where names lead at one moment. Never changed after publication: a change makes a new
/// version that shares every untouched part with this one (`name_map`).
struct routing {
  /// Every registered module; a cleaned-up one stays (its endpoint answers channel_closed). The
  /// map's leaves own the endpoints.
  name_map<endpoint*> modules;
  name_map<std::shared_ptr<const member_list>> groups;
  /// The names of the attached context types.
  std::shared_ptr<const std::vector<std::string>> types;

  [[nodiscard]] bool has_type(std::string_view name) const noexcept;
};

/// The one registry of a context: its context types, its modules (name, type, endpoint, live or
/// cleaned up) and its groups. Owned by the context; nothing else records routing state.
///
/// Reads (every call) go through a per-thread copy of the published `routing`, checked against
/// a generation counter: a send reads one shared atomic that changes only when the routing
/// does, and takes no lock. Writes take the registry's mutex, change the authoritative maps and
/// publish a new routing version: O(log32 N) per module changed, plus the size of each group
/// whose member list changed (a group's list is copied whole).
///
/// Why snapshots are pinned while a call runs (`call_scope`): a message destructor running
/// inside a call may call the context, see a newer generation and replace this thread's
/// cached snapshot; the one the outer call still uses is kept until the outermost call ends.
///
/// The bound of what a thread's cache owns: at most 4 snapshots (one per registry it used
/// last) plus those retired during its current outermost call, released when that call ends.
/// `~registry` takes its snapshots out of every thread's cache, so that after it no thread
/// owns an endpoint of it (only a call still running on the thread, which `~context` waits for,
/// can hold one until it ends).
///
/// Presence: every change makes a batch of `presence_event`s, queued under the mutex (so in
/// the order of the changes) and delivered to every attached type outside every lock, by one
/// thread at a time: the thread that finds nobody delivering drains the queue; one that finds
/// a delivery running (another thread, or a type's `presence` changing the registry) leaves
/// its batch to it.
///
/// Nothing is destroyed under the mutex: endpoints and snapshots that go are released after
/// it, since their messages' destructors are user code that may call the context.
class registry {
 public:
  /// `default_type`: the type of a module whose `module_info::type` is empty.
  explicit registry(std::string default_type);
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Pins the calling thread's snapshots until the outermost scope on the thread ends.
  class call_scope {
   public:
    call_scope() noexcept;
    ~call_scope();
    call_scope(const call_scope&) = delete;
    call_scope& operator=(const call_scope&) = delete;
  };

  /// The calling thread's view; valid until the outermost `call_scope` of the thread ends.
  /// Call only inside a `call_scope`.
  [[nodiscard]] const routing& current();

  // ---- types --------------------------------------------------------------------------------

  /// Reserves `name` for `type`, not yet visible: no module can name it, `has_type` is false,
  /// it hears no presence. `already_exists`, `invalid_argument` (empty name, null type).
  [[nodiscard]] expected<void> reserve_type(std::string name, std::shared_ptr<context_type> type);
  /// Makes a reserved type visible (after its `attach`) and queues its snapshot presence batch.
  void publish_type(std::string_view name);
  /// The attached type `name`, or null.
  [[nodiscard]] std::shared_ptr<context_type> type(std::string_view name) const;
  /// Every type, attached or reserved.
  [[nodiscard]] std::vector<std::shared_ptr<context_type>> types() const;

  // ---- changes (each takes the mutex; endpoints are made and closed outside it) ----------

  /// Adds a module: its type makes the endpoint (or the cleaned-up one of the same name and
  /// type is reopened, keeping its queued messages and statistics). Messages of a replaced
  /// endpoint are moved to `dropped` (counted by the endpoint as dropped on close).
  [[nodiscard]] expected<void> add_module(const module_info& info, std::vector<message>& dropped);
  [[nodiscard]] expected<void> add_module_group(std::string_view module, std::string_view group);
  /// Marks the module cleaned up, takes it out of every group and closes its endpoint. With
  /// `only_if`, only when the module's endpoint is still that one (`module_not_found` else).
  [[nodiscard]] expected<void> cleanup(std::string_view module, std::vector<message>& dropped,
                                       const endpoint* only_if = nullptr);
  /// For the type named `type`: a batch of peer changes, one publication (see
  /// type_host::update_peers). Replaced endpoints are discarded into `dropped`.
  [[nodiscard]] std::vector<std::error_code> update_peers(std::string_view type,
                                                          std::span<const peer_update> batch,
                                                          std::vector<message>& dropped);
  /// Stops presence delivery for good (the context goes): drops what is queued and waits for
  /// a delivery running on another thread to end.
  void stop_presence();
  /// Closes every endpoint and drops every queued message into `dropped` (context teardown).
  void close_all(std::vector<message>& dropped);

  // ---- queries ----------------------------------------------------------------------------

  [[nodiscard]] membership members() const;
  [[nodiscard]] std::shared_ptr<endpoint> find(std::string_view module) const;
  [[nodiscard]] std::optional<std::string> module_type(std::string_view module) const;
  /// True when `module` is registered and not cleaned up. One lookup.
  [[nodiscard]] bool is_live(std::string_view module) const;

  /// For tests: holds the registry's mutex (proves that a call does not take it).
  [[nodiscard]] std::unique_lock<std::mutex> lock_for_test() const { return std::unique_lock(mu_); }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return static_cast<std::size_t>(hash_name(s));
    }
  };
  template <class V>
  using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

  struct module_record {
    std::string type_name;
    context_type* type = nullptr;  // identity only (the type outlives the record)
    std::shared_ptr<endpoint> ep;
    bool live = true;
    bool peer = false;                // made by a context type (update_peers), not add_module
    std::vector<std::string> groups;  // the groups it is in (live only), in join order
  };
  struct type_record {
    std::shared_ptr<context_type> type;
    bool attached = false;
  };
  struct recipient {
    std::string name;
    std::shared_ptr<context_type> type;
  };
  using recipients = std::vector<recipient>;
  struct presence_batch {
    std::shared_ptr<const recipients> to;
    std::vector<presence_event> events;
    bool snapshot = false;
  };

  // One change under the mutex: what it did to the routing, the groups whose member lists
  // must be rebuilt, the events it makes. `commit_locked` publishes it all at once.
  struct change {
    explicit change(const routing& from) : next(from) {}
    routing next;
    bool routed = false;  // next.modules or next.types changed
    std::vector<std::string> touched_groups;
    std::vector<presence_event> events;

    void event(presence_kind kind, std::string_view module, const module_record& rec,
               std::string_view group = {}) {
      events.push_back({kind, std::string(module), std::string(group), rec.type_name, rec.peer});
    }
  };
  void join_locked(change& c, const std::string& module, module_record& rec,
                   std::string_view group);
  void leave_locked(change& c, const std::string& module, module_record& rec,
                    std::string_view group);
  void leave_all_locked(change& c, const std::string& module, module_record& rec);
  // Called with mu_ held. Returns the previous snapshot, for the caller to release unlocked.
  [[nodiscard]] std::shared_ptr<const routing> commit_locked(change& c);
  // Delivers queued presence batches unless another delivery runs (see the class comment).
  void deliver_presence();

  const std::uint64_t id_;
  const std::string default_type_;
  // Read on every call by every thread, written only on routing changes: on its own line.
  alignas(64) std::atomic<std::uint64_t> generation_{0};

  alignas(64) mutable std::mutex mu_;
  std::map<std::string, type_record, std::less<>> types_;
  std::shared_ptr<const recipients> attached_;  // the attached types, for presence batches
  string_map<module_record> modules_;
  // Group -> live members, in the order they joined.
  string_map<std::vector<std::string>> groups_;
  std::shared_ptr<const routing> snapshot_;

  // Presence queue (lock order: mu_, then presence_mu_).
  std::mutex presence_mu_;
  std::condition_variable presence_cv_;
  std::deque<presence_batch> presence_queue_;
  bool presence_running_ = false;
  std::thread::id presence_thread_;
  bool presence_stopped_ = false;
};

}  // namespace beehive::detail
