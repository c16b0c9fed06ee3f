// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"
#include "endpoint.hpp"

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
  /// The modules and groups now registered.
  [[nodiscard]] virtual membership members() const = 0;
  /// True once the context is cancelled.
  [[nodiscard]] virtual bool cancelled() const noexcept = 0;

 protected:
  type_host() = default;
  ~type_host() = default;
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

  /// Called once, when the type is installed in a context. `host` stays valid until `stop`
  /// returns.
  virtual void attach(type_host& host) = 0;
  /// Makes the endpoint of a module of this type that is being added.
  [[nodiscard]] virtual expected<std::shared_ptr<endpoint>> make_endpoint(
      const module_info& info) = 0;
  /// A module of this type joined a group.
  virtual void member_grouped(std::string_view /*module*/, std::string_view /*group*/) {}
  /// A module of this type was cleaned up (its endpoint is already closed).
  virtual void member_removed(std::string_view /*module*/) {}
  /// Stops every thread of the type and forgets the host. Called by the context's destructor
  /// before anything else goes. Idempotent.
  virtual void stop() = 0;
};

/// Installs `type` in `ctx` under `name` and attaches it. `already_exists` if the name is
/// taken, `invalid_argument` for an empty name or a null type.
[[nodiscard]] expected<void> install_type(context& ctx, std::string name,
                                          std::shared_ptr<context_type> type);

}  // namespace beehive::detail
