// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module_options.hpp"

namespace beehive {

using duration = std::chrono::nanoseconds;

/// Go's MessageTimeoutDefault: the bound of a sync call given a timeout <= 0.
inline constexpr std::chrono::seconds message_timeout_default{30};

/// Outcome of `send_to_group`.
struct group_delivery {
  std::size_t delivered = 0;  ///< members that accepted the message (queued or parked)
  /// Members that refused it, with the reason (queue_full, channel_closed, timed_out, ...).
  std::vector<std::pair<std::string, std::error_code>> failed;
};

/// Outcome of `send_to_group_sync`.
struct group_replies {
  std::vector<message> replies;      ///< replies received, in arrival order
  std::vector<std::string> missing;  ///< members that did not answer in time
  /// Members the request could not be delivered to, with the reason.
  std::vector<std::pair<std::string, std::error_code>> failed;
  [[nodiscard]] bool complete() const noexcept { return missing.empty() && failed.empty(); }
};

/// Go's ModuleContext: module bookkeeping of one context type. Thread-safe.
class module_context {
 public:
  virtual ~module_context() = default;
  /// Registers a module and creates its inbox. Adding a name again replaces a cleaned-up
  /// module; adding a live module again returns `already_exists`.
  [[nodiscard]] virtual expected<void> add_module(const module_info& info) = 0;
  /// Puts a registered module into a group. `module_not_found` if it is not registered.
  [[nodiscard]] virtual expected<void> add_module_group(std::string_view module,
                                                        std::string_view group) = 0;
  /// Closes the module's inbox: blocked senders and receivers wake with `channel_closed`,
  /// queued messages are drained or dropped by its close mode. Later sends return
  /// `channel_closed`. `module_not_found` if it was never registered.
  [[nodiscard]] virtual expected<void> cleanup(std::string_view module) = 0;
};

/// Go's MessageContext: message passing of one context type. Every call is thread-safe.
class message_context {
 public:
  virtual ~message_context() = default;

  /// Puts `msg` in the module's inbox; blocks only as the inbox's overflow policy says.
  /// Errors: module_not_found, channel_closed, queue_full, timed_out (bounded block).
  [[nodiscard]] virtual expected<void> send(std::string_view module, message msg) = 0;
  /// Takes the next message of the module's inbox; blocks until one arrives.
  /// Errors: module_not_found, channel_closed (after cleanup, once the inbox is drained).
  [[nodiscard]] virtual expected<message> receive(std::string_view module) = 0;
  /// As `receive`, waiting at most `timeout`; `timed_out` when nothing came.
  [[nodiscard]] virtual expected<message> receive_for(std::string_view module,
                                                      duration timeout) = 0;
  /// Sends with `header.sync = true` and waits for the reply whose parent id is `msg`'s id.
  /// A timeout <= 0 means 30 s. No reply is lost while the caller waits, however early it
  /// comes. Errors: as `send`, and timed_out.
  [[nodiscard]] virtual expected<message> send_sync(std::string_view module, message msg,
                                                    duration timeout) = 0;
  /// Hands `resp` to whoever waits on `resp.header.parent_id`.
  /// `orphan_response` (and the orphan is counted) when nobody waits.
  [[nodiscard]] virtual expected<void> send_resp(message resp) = 0;
  /// Delivers `msg` to every member of `group`, sharing one content. Keeps per-member FIFO; a
  /// slow member does not delay the others. `group_not_found` if the group has no members.
  [[nodiscard]] virtual expected<group_delivery> send_to_group(std::string_view group,
                                                               message msg) = 0;
  /// Delivers to every member with `sync = true` and waits until each has replied or the
  /// timeout (<= 0 means 30 s) expires; says who did not answer. `group_not_found` as above.
  [[nodiscard]] virtual expected<group_replies> send_to_group_sync(std::string_view group,
                                                                   message msg,
                                                                   duration timeout) = 0;
};

}  // namespace beehive
