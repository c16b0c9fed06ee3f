// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"
#include "type/endpoint.hpp"

namespace beehive {
class context;
}

namespace beehive::detail {

class reply_table;

/// The modules and groups of a context at one moment (for a socket handshake's exchange).
struct membership {
  struct module_entry {
    std::string name;
    std::string type;
    bool live = false;
  };
  std::vector<module_entry> modules;                       ///< sorted by name
  std::map<std::string, std::vector<std::string>> groups;  ///< live members, sorted
};

/// One change of the registry, as every context type hears of it (`context_type::presence`).
enum class presence_kind {
  added,      ///< a module was added (or re-added after cleanup), of any type
  removed,    ///< a module was cleaned up, or a peer went away; it left every group before
  grouped,    ///< a module joined a group
  ungrouped,  ///< a module left a group (each group it leaves on removal is one event)
};

struct presence_event {
  presence_kind kind;
  std::string module;
  std::string group;  ///< grouped and ungrouped only
  std::string type;   ///< the module's context type (the name it was installed under)
  bool peer = false;  ///< registered by a context type (`update_peers`), not by `add_module`
};

/// One entry of a bulk change of peers (`type_host::update_peers`).
enum class peer_op {
  add,     ///< register `module` with endpoint `ep` and join `groups` (replaces an endpoint of
           ///< this type; the replaced one is discarded, what it held counted as dropped)
  remove,  ///< the peer went away (if its endpoint is still `ep`): see `remove_peer`
  join,    ///< the peer (endpoint still `ep`) joins `groups`
  leave,   ///< the peer (endpoint still `ep`) leaves `groups`
};

struct peer_update {
  peer_op op = peer_op::add;
  std::string module;
  std::shared_ptr<endpoint> ep;
  std::vector<std::string> groups;
};

/// What the context gives a context type: the narrow way back up.
///
/// Why an interface and not `context&`: a context type is a lower layer. It never sees the
/// registry or the public calls; it can deliver what arrives from outside, hand replies to
/// the one reply table, and register the modules it learns of (peers). The context owns the
/// host and keeps it valid until the type's `stop` has returned.
class type_host {
 public:
  type_host(const type_host&) = delete;
  type_host& operator=(const type_host&) = delete;

  /// The one reply table of the context.
  [[nodiscard]] virtual reply_table& replies() noexcept = 0;
  /// Delivers a message that came from outside to the module `module` of this process, by
  /// the module's endpoint (one lookup, as `send`). Errors as `context::send`; a module of
  /// another type that is not hosted here answers as its endpoint does.
  [[nodiscard]] virtual expected<void> deliver(std::string_view module, message&& msg,
                                               delivery how) = 0;
  /// Registers a module of this type whose endpoint the type made (a peer learned from a
  /// handshake), or replaces the endpoint of one that was already this type's. `already_exists`
  /// when the name belongs to a module of another type (or a live one made by `add_module`).
  [[nodiscard]] virtual expected<void> add_peer(std::string_view module,
                                                std::shared_ptr<endpoint> ep,
                                                const std::vector<std::string>& groups) = 0;
  /// The peer `module` went away (if its endpoint is still `ep`: a newer connection's peer of
  /// the same name is kept). It leaves its groups and the module list; its name stays routed to
  /// `ep`, which answers later sends with `not_connected`, until `add_peer` replaces it.
  virtual void remove_peer(std::string_view module, const endpoint& ep) = 0;
  /// Cleans up (as `context::cleanup`) a module of this type whose endpoint is still `ep` and
  /// that the type can no longer serve (a socket client module whose connection dropped): it
  /// leaves its groups and its endpoint is closed, so that adding it again (a core's reconnect)
  /// reaches the type (`endpoint::reopen` or `make_endpoint`).
  virtual void cleanup(std::string_view module, const endpoint& ep) = 0;
  /// Applies many peer changes as one change of the routing: one publication, one presence
  /// batch, O(log N) per entry. Returns one code per entry, in order (empty: applied;
  /// `already_exists`: the name belongs to another type or to a live `add_module` module;
  /// `module_not_found`: no such live peer of this type, or its endpoint is no longer `ep`;
  /// `invalid_argument`: empty name or null `ep`). A peer announcing its N modules is one call.
  /// `add_peer` and `remove_peer` are batches of one. Endpoints it replaces are discarded (what
  /// they held is counted as dropped) outside every lock. May be called from inside `attach`.
  ///
  /// Like every change, it may deliver queued presence batches (to this type too) on the calling
  /// thread before it returns: do not call it (nor add_peer, remove_peer, cleanup) while holding
  /// a lock that the type's `presence` takes.
  [[nodiscard]] virtual std::vector<std::error_code> update_peers(
      std::span<const peer_update> batch) = 0;
  /// Flow control of a `deliver(…, delivery::relay)` that answered `errc::would_block`: `fn`
  /// runs once when the endpoint `module` resolves to may take a message again (its
  /// `endpoint::when_writable`). False, not keeping `fn`, when it has room already or the name
  /// resolves to nothing: the caller retries at once (the next `deliver` says why).
  [[nodiscard]] virtual bool when_writable(std::string_view module, std::function<void()> fn) = 0;
  /// The modules and groups now registered.
  [[nodiscard]] virtual membership members() const = 0;
  /// True once the context is cancelled.
  [[nodiscard]] virtual bool cancelled() const noexcept = 0;

 protected:
  type_host() = default;
  ~type_host() = default;
};

/// One counter of a context type's own events (connections, records, losses), as the admin API
/// exports it: `/metrics` family `beehive_<type name>_<name>_total`, JSON `types.<type>.<name>`.
struct type_counter {
  std::string_view name;  ///< snake_case, stable, unique in the type; static storage
  std::string_view help;  ///< one sentence; static storage
  std::uint64_t value = 0;
};

/// A context type (channel, unixpacket, a broker tomorrow): makes the endpoints of its modules.
///
/// The context calls it outside its own locks. A type never calls the context; it reaches back
/// only through the `type_host` it was given by `attach`.
class context_type {
 public:
  context_type() = default;
  context_type(const context_type&) = delete;
  context_type& operator=(const context_type&) = delete;
  virtual ~context_type() = default;

  /// Called once, when the type is installed in a context, before any module can name it.
  /// `host` stays valid until `stop` returns.
  virtual void attach(type_host& host) = 0;
  /// Makes the endpoint of a module of this type that is being added. Must not block on I/O:
  /// an endpoint whose link is not up yet is returned in `endpoint_state::connecting` and
  /// connects in the background. Called outside the registry's lock.
  [[nodiscard]] virtual expected<std::shared_ptr<endpoint>> make_endpoint(
      const module_info& info) = 0;
  /// A module of this type (made by `make_endpoint`, not a peer) joined a group.
  /// (Superseded by `presence`, and called right after it for the same event; kept until every
  /// type has moved to `presence`.)
  virtual void member_grouped(std::string_view /*module*/, std::string_view /*group*/) {}
  /// A module of this type (not a peer) was cleaned up (its endpoint is already closed).
  /// (Superseded by `presence`, and called right after it for the same event; kept until every
  /// type has moved to `presence`.)
  virtual void member_removed(std::string_view /*module*/) {}

  /// Presence: every change of the registry, of every type, in the order the registry made
  /// them (one batch per change; an `update_peers` call is one change). Right after `attach`,
  /// one batch lists what exists then (`added` and `grouped` events), so that a type misses
  /// nothing. Called by one thread at a time, outside every lock of the registry, usually by
  /// the thread that made the change before its call returns; when another delivery is running
  /// at that moment, that delivery's thread delivers it (possibly after the call returned).
  /// The type may call its host from inside (the events that causes come in a later batch).
  /// Must not block for long: it delays every later change's events. Never called once the
  /// context's destructor has begun.
  virtual void presence(std::span<const presence_event> /*events*/) {}

  /// True when this type's modules live in another process: a module of it is not an inbox
  /// here, and its `start` returning normally means its link dropped (see
  /// `restarts_on_return`).
  [[nodiscard]] virtual bool is_remote() const noexcept { return true; }
  /// True when a core should re-add and restart a module of this type whose `start` returned
  /// normally, whatever its restart policy says (a socket client module reconnects).
  [[nodiscard]] virtual bool restarts_on_return() const noexcept { return is_remote(); }

  /// The type's own counters, read now (the admin API exports them; a module's inbox counters
  /// are the context's). Thread-safe, never blocks on I/O, callable after `stop`. None by
  /// default.
  [[nodiscard]] virtual std::vector<type_counter> counters() const { return {}; }

  /// Stops every thread of the type and forgets the host. Called by the context's destructor
  /// before anything else goes. Idempotent.
  virtual void stop() = 0;
};

/// Installs `type` in `ctx` under `name` and attaches it. `already_exists` if the name is
/// taken, `invalid_argument` for an empty name or a null type.
[[nodiscard]] expected<void> install_type(context& ctx, std::string name,
                                          std::shared_ptr<context_type> type);

}  // namespace beehive::detail
