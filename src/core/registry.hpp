// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/module_options.hpp"
#include "core/name_table.hpp"
#include "type/context_type.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {

/// A group's members at one moment. Immutable; a group call holds it for the whole call, so a
/// destructor that changes the group meanwhile cannot pull it from under the call.
struct member_list {
  std::vector<std::shared_ptr<endpoint>> members;
};

/// Where names lead at one moment: built on every change of modules, groups or types, then
/// published whole. Never changed after publication.
struct routing {
  /// Every registered module; a cleaned-up one stays (its endpoint answers channel_closed).
  name_table<endpoint*> modules;
  name_table<std::shared_ptr<const member_list>> groups;
  /// Owns what `modules` points to.
  std::vector<std::shared_ptr<endpoint>> endpoints;
};

/// The one registry of a context: its context types, its modules (name, type, endpoint, live or
/// cleaned up) and its groups. Owned by the context; nothing else records routing state.
///
/// Reads (every call) go through a per-thread copy of the published `routing`, checked against
/// a generation counter: a send reads one shared atomic that changes only when the routing
/// does, and takes no lock. Writes take the registry's mutex, rebuild and publish.
///
/// Why snapshots are pinned while a call runs (`call_scope`): a message destructor running
/// inside a call may call the context, see a newer generation and replace this thread's
/// cached snapshot; the one the outer call still uses is kept until the outermost call ends.
///
/// Nothing is destroyed under the mutex: endpoints and snapshots that go are released after
/// it, since their messages' destructors are user code that may call the context.
class registry {
 public:
  registry();
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

  // ---- changes (each takes the mutex; endpoints are made and closed outside it) ----------

  [[nodiscard]] expected<void> add_type(std::string name, std::shared_ptr<context_type> type);
  [[nodiscard]] std::shared_ptr<context_type> type(std::string_view name) const;
  [[nodiscard]] std::vector<std::shared_ptr<context_type>> types() const;

  /// Adds a module: its type makes the endpoint (or the cleaned-up one of the same name and
  /// type is reopened, keeping its queued messages and statistics). Messages of a replaced
  /// endpoint are moved to `dropped` (counted by the endpoint as dropped on close).
  [[nodiscard]] expected<void> add_module(const module_info& info, std::vector<message>& dropped);
  [[nodiscard]] expected<void> add_module_group(std::string_view module, std::string_view group);
  /// Marks the module cleaned up, takes it out of every group and closes its endpoint.
  [[nodiscard]] expected<void> cleanup(std::string_view module, std::vector<message>& dropped);
  /// For a context type: registers a module whose endpoint it made (see type_host::add_peer).
  [[nodiscard]] expected<void> add_peer(std::string_view type, std::string_view module,
                                        std::shared_ptr<endpoint> ep,
                                        const std::vector<std::string>& groups);
  void remove_peer(std::string_view module, const endpoint& ep);
  /// Closes every endpoint and drops every queued message into `dropped` (context teardown).
  void close_all(std::vector<message>& dropped);

  // ---- queries ----------------------------------------------------------------------------

  [[nodiscard]] membership members() const;
  [[nodiscard]] std::shared_ptr<endpoint> find(std::string_view module) const;
  [[nodiscard]] std::optional<std::string> module_type(std::string_view module) const;

 private:
  struct module_record {
    std::string type;
    std::shared_ptr<endpoint> ep;
    bool live = true;
    bool peer = false;  // made by a context type (add_peer), not by add_module
  };
  // Called with mu_ held. Returns the previous snapshot, for the caller to release unlocked.
  [[nodiscard]] std::shared_ptr<const routing> publish_locked();
  void leave_groups_locked(std::string_view module);

  const std::uint64_t id_;
  // Read on every call by every thread, written only on routing changes: on its own line.
  alignas(64) std::atomic<std::uint64_t> generation_{0};

  alignas(64) mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<context_type>, std::less<>> types_;
  std::map<std::string, module_record, std::less<>> modules_;
  // Group -> live members, in the order they joined.
  std::map<std::string, std::vector<std::string>, std::less<>> groups_;
  std::shared_ptr<const routing> snapshot_;
};

}  // namespace beehive::detail
