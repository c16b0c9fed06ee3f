// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
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
  /// A message a context type passes on from outside (a socket link's reader, a broker's
  /// dispatch thread). Never waits: a full destination answers `errc::would_block` and leaves
  /// the message to the caller, who holds it (and stops reading its source: that is the
  /// back-pressure) until `endpoint::when_writable` fires, then pushes it again. A peer
  /// connection parks it, as a group copy: one slow peer must not hold back the link or the
  /// dispatch thread that relays to it.
  relay,
};

/// One `send_to_group` call, as each member's endpoint sees it (`endpoint::push_group`): a
/// type that can carry one message to several members at once (the nats type publishes a group
/// send once, on the group's subject) recognises the copies of one call by `id`.
struct group_send {
  std::string_view group;  ///< the group's name
  std::uint64_t id = 0;    ///< unique per call in this process (never 0)
  std::size_t index = 0;   ///< this member's place in the call
  std::size_t count = 0;   ///< the members of the call
};

/// Where an endpoint stands.
enum class endpoint_state {
  connecting,  ///< made, its link not up yet (a socket client's connect, a broker's); pushes
               ///< wait in its bounded queue under the module's inbox policy
  ready,       ///< takes messages
  closed,      ///< cleaned up or gone; pushes fail (channel_closed or not_connected)
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

  /// A group member's copy of a `send_to_group` call (`push(…, delivery::group)` by default).
  /// Errors and the failure contract as `push`.
  [[nodiscard]] virtual expected<void> push_group(message&& msg, const group_send& call) {
    (void)call;
    return push(std::move(msg), delivery::group);
  }

  /// The module's inbox when the module is hosted in this process (it can `receive`); null
  /// for a module of another process.
  [[nodiscard]] virtual inbox* local() noexcept { return nullptr; }

  /// Where the endpoint stands. Never blocks.
  [[nodiscard]] virtual endpoint_state state() const noexcept { return endpoint_state::ready; }

  /// Flow control, after a `push(…, delivery::relay)` answered `errc::would_block`: `fn` runs
  /// once, when this endpoint may take a message again (room appeared, or it closed: the next
  /// push says which). It runs on the thread that made room, outside the endpoint's locks, and
  /// must not block or call back into this endpoint. Returns false, and does not keep `fn`,
  /// when there is room already (the caller retries at once). A later call replaces an
  /// earlier `fn` that has not run.
  [[nodiscard]] virtual bool when_writable(std::function<void()> fn) {
    (void)fn;
    return false;
  }

  /// Messages the endpoint can take now without waiting (for a type that grants credits as a
  /// receiver drains); `unbounded` when it does not know or has no bound.
  [[nodiscard]] virtual std::size_t room() const noexcept { return unbounded; }
  static constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();

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
