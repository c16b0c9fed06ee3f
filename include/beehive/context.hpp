// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/message_context.hpp"
#include "beehive/module_options.hpp"

namespace beehive {

/// The context (Go's `GlobalContext`): the one registry of modules and groups, the message
/// calls between them, and the cancellation that ends the modules' lives.
///
/// Every module and group lives in one registry, with its context type (`channel`, always
/// there; `unixpacket` once a socket context is registered) and its endpoint: an inbox in this
/// process, or a connection to the module's process. A call looks its name up once and hands
/// the message to the endpoint. Several contexts can live in one process; a process-wide one is
/// `default_context()`. Every member function is thread-safe, and may be called from a message
/// or content destructor running inside another call.
///
/// Messages are taken by `message&&` (moved, never copied: at most two moves between `send`
/// and the receiver's hands) or by `const message&` (copied; the content is shared).
///
/// @code
/// beehive::context ctx;
/// (void)ctx.add_module({.name = "hub"});
/// (void)ctx.add_module_group("hub", "hubs");
/// (void)ctx.send("hub", beehive::new_message().fill_body("hello"));
/// auto msg = ctx.receive("hub");   // expected<message>
/// auto reply = ctx.send_sync("hub", beehive::new_message(), std::chrono::seconds(1));
/// @endcode
class context final {
 public:
  context();
  /// Cancels, stops every context type (joining its threads), closes every inbox (dropping
  /// what is queued, counted; blocked callers wake). Under a `core` that has not shut down it
  /// then logs and aborts the process: shut down (or destroy) the core first. Otherwise it waits
  /// for module threads of a shut-down core that overran its deadline (see
  /// `core::wait_for_modules`); one that does not return within 30 s is a program error: it is
  /// logged and the process aborts, rather than letting the thread use a destroyed context.
  ~context();
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  /// True when a context type of that name is registered (`channel` always is).
  [[nodiscard]] bool has_type(std::string_view type) const;

  /// Registers a module and makes its endpoint (for `channel`: its inbox, with
  /// `info.inbox`'s capacity and policies). Adding a cleaned-up name again reopens its inbox:
  /// messages still queued reach the new incarnation and the statistics carry on.
  /// Errors: invalid_argument (empty name, capacity 0), unsupported_type, already_exists
  /// (a live module of that name).
  [[nodiscard]] expected<void> add_module(const module_info& info);
  /// Puts a registered, live module into a group. `module_not_found` otherwise.
  [[nodiscard]] expected<void> add_module_group(std::string_view module, std::string_view group);
  /// Closes the module's inbox: blocked senders and receivers wake with `channel_closed`;
  /// queued messages are drained or dropped by its close mode (dropped sync requests wake
  /// their callers with `channel_closed`). The module leaves its groups; later sends return
  /// `channel_closed`. Idempotent. `module_not_found` if it was never registered.
  [[nodiscard]] expected<void> cleanup(std::string_view module);

  /// Puts `msg` in the module's inbox (or on its connection); blocks only as the inbox's
  /// overflow policy says. Errors: module_not_found, channel_closed, queue_full, timed_out
  /// (bounded block), not_connected. On failure a moved-in message is destroyed.
  [[nodiscard]] expected<void> send(std::string_view module, message&& msg);
  [[nodiscard]] expected<void> send(std::string_view module, const message& msg);
  /// Takes the next message of a module of this process; blocks until one arrives.
  /// Errors: module_not_found (also for a module of another process), channel_closed (after
  /// cleanup, once the inbox is drained).
  [[nodiscard]] expected<message> receive(std::string_view module);
  /// As `receive`, waiting at most `timeout`; `timed_out` when nothing came.
  [[nodiscard]] expected<message> receive_for(std::string_view module, duration timeout);
  /// Sends with `header.sync = true` (and a fresh id if it has none) and waits for the reply
  /// whose parent id is the request's id. A timeout <= 0 means 30 s. No reply is lost while
  /// the caller waits, however early it comes; a reply after the caller gave up is an orphan.
  /// Errors: as `send`, and timed_out, cancelled (the context was cancelled), channel_closed
  /// (the request was dropped by a cleanup), not_connected (the peer went away).
  [[nodiscard]] expected<message> send_sync(std::string_view module, message&& msg,
                                            duration timeout = {});
  [[nodiscard]] expected<message> send_sync(std::string_view module, const message& msg,
                                            duration timeout = {});
  /// Hands `resp` to whoever waits on `resp.header.parent_id` (in this process or, for a
  /// request that came over a socket, in the requester's). `orphan_response` (counted) when
  /// nobody waits; `unsupported_type` when `resp.header.type` names no registered type.
  [[nodiscard]] expected<void> send_resp(message&& resp);
  [[nodiscard]] expected<void> send_resp(const message& resp);
  /// Delivers `msg` to every member of `group`, sharing one content. Keeps per-member FIFO; a
  /// slow member does not delay the others. `group_not_found` if the group has no members.
  [[nodiscard]] expected<group_delivery> send_to_group(std::string_view group, message&& msg);
  [[nodiscard]] expected<group_delivery> send_to_group(std::string_view group, const message& msg);
  /// Delivers to every member with `sync = true`, each member's copy with its own request id,
  /// and waits until each has replied or the timeout (<= 0 means 30 s) expires. Says exactly
  /// who did not answer (`missing`) and who could not be reached or failed (`failed`).
  /// `group_not_found` as above; `cancelled` once the context is cancelled.
  [[nodiscard]] expected<group_replies> send_to_group_sync(std::string_view group, message&& msg,
                                                           duration timeout = {});
  [[nodiscard]] expected<group_replies> send_to_group_sync(std::string_view group,
                                                           const message& msg,
                                                           duration timeout = {});

  /// The context type of a registered module (cleaned-up ones included).
  [[nodiscard]] std::optional<std::string> module_type(std::string_view module) const;
  /// True when `module` is registered and not cleaned up.
  [[nodiscard]] bool has_module(std::string_view module) const;
  /// Names of the registered, not cleaned-up modules, sorted.
  [[nodiscard]] std::vector<std::string> modules() const;
  /// Groups and their live members, sorted.
  [[nodiscard]] std::map<std::string, std::vector<std::string>> groups() const;
  /// Counters of the inbox of a module of this process; `module_not_found` otherwise.
  [[nodiscard]] expected<inbox_stats> stats(std::string_view module) const;

  /// Cancels the context (Go's Cancel): restart loops end, `stop_token()` is signalled, every
  /// waiting `send_sync`/`send_to_group_sync` wakes with `cancelled`, later ones fail at once.
  void cancel() noexcept;
  [[nodiscard]] bool cancelled() const noexcept;
  /// Signalled by `cancel()` (Go's Done()).
  [[nodiscard]] std::stop_token stop_token() const noexcept;

  /// Replies that nobody waited for, whatever way they came.
  [[nodiscard]] std::uint64_t orphan_responses() const noexcept;

  struct impl;  ///< private; named here for the library's internal access

 private:
  friend impl& context_impl(context& ctx) noexcept;
  std::unique_ptr<impl> impl_;
};

/// The process-wide context for Go-style use; created on first use, lives until exit.
[[nodiscard]] context& default_context();

}  // namespace beehive
