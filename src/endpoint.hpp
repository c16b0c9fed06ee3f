// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"

namespace beehive::detail {

class inbox;

/// How a message reaches an endpoint.
enum class delivery {
  direct,  ///< `send` and `send_sync`: the inbox's overflow policy applies as it is
  group,   ///< a group member's copy: parks instead of blocking the group's sender
  reply,   ///< a reply forwarded to a requester in another process
  /// A record a socket link's reader passes on to its destination. A module's inbox takes it
  /// as `direct` (a full inbox holds back that one link's reader); a peer connection never
  /// waits for room (it parks, as a group copy does): one slow peer must not hold back the
  /// link that relays to it, nor the other records behind that one.
  relay,
};

/// What a module name resolves to: a module's inbox in this process, or a peer connection.
///
/// Why one abstract class: a send looks the name up once (in the registry's snapshot) and
/// hands the message to whatever the name resolves to, without asking which context type
/// made it. A context type subclasses it. Thread-safe: every member may be called by any
/// thread at any time, also after `close`.
class endpoint {
 public:
  explicit endpoint(std::string name) : name_(std::move(name)) {}
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;
  virtual ~endpoint() = default;

  /// The module's name.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// Delivers `msg`. On failure `msg` is left to the caller (not moved from), so that its
  /// destructor runs in the caller, outside every lock. Errors: channel_closed, queue_full,
  /// timed_out (bounded block), not_connected, message_too_large, ...
  [[nodiscard]] virtual expected<void> push(message&& msg, delivery how) = 0;

  /// The module's inbox when the module is hosted in this process (it can `receive`); null
  /// for a module of another process.
  [[nodiscard]] virtual inbox* local() noexcept { return nullptr; }

  /// Cleanup: wakes every blocked sender and receiver; later pushes fail with
  /// channel_closed. Messages the endpoint drops (close_mode::drop) are moved into
  /// `dropped` so that the caller can fail their waiters and destroy them outside its locks.
  virtual void close(std::vector<message>& dropped) = 0;
  /// Closes (as `close`) and drops every message still queued, whatever the close mode; they
  /// are moved into `dropped` and counted as dropped on close. Used when nobody can receive
  /// them any more (the name was re-added with another type, the context goes).
  virtual void discard(std::vector<message>& dropped) = 0;

  /// A cleaned-up module added again with the same type: reopens this endpoint, keeping its
  /// queued messages (they reach the new incarnation) and its statistics. False when the
  /// endpoint cannot be reopened (the registry then makes a new one and drops the old one's
  /// messages, counted).
  [[nodiscard]] virtual bool reopen(const module_info& /*info*/) { return false; }

 private:
  const std::string name_;
};

}  // namespace beehive::detail
