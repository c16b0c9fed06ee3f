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

class context;

namespace detail {
/// The state behind a context: private to the library (src/core/context_state.hpp).
struct context_state;
[[nodiscard]] context_state& context_state_of(context& ctx) noexcept;
}  // namespace detail

/// What a context type says of its modules (`context::type_traits`).
struct context_type_traits {
  /// Its modules live in another process: a module of it has no inbox here (`receive` and
  /// `stats` answer `module_not_found`), and its `start` returning normally means its link
  /// dropped. `module_info::remote` of a module a core adds is this.
  bool remote = false;
  /// A core re-adds and restarts a module of this type whose `start` returned normally,
  /// whatever its restart policy says (a socket client module reconnects), waiting its policy's
  /// interval (1 s without a policy) and without using up its retries.
  bool restarts_on_return = false;
};

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
/// The send contract, for every call that takes a `message&&` (`send`, `send_sync`,
/// `send_resp`, `send_to_group`, `send_to_group_sync`): the message is moved from only when it
/// was handed on. When the call could not hand it on, it is left to the caller unchanged (its
/// id and `sync` flag included, whatever the call had marked on it), so that the caller may
/// retry, inspect or drop it, and its destructor runs in the caller, outside every lock of the
/// library. "Could not hand it on" means:
/// - `send`, `send_resp`: any error;
/// - `send_sync`: every error that comes before the request left (module_not_found, the
///   endpoint's refusals: channel_closed, queue_full, timed_out of a bounded block,
///   not_connected; cancelled when the context was cancelled before). The errors of the wait
///   that follows (timed_out, cancelled, channel_closed when a cleanup dropped the request,
///   not_connected when the peer went) come after it left: `msg` is then moved from;
/// - group calls: `group_not_found` and `cancelled` (nothing was sent), and a group where no
///   member took it (every member in `failed`). Each member but one gets a copy and that one
///   takes the message itself; when that member refuses it, it comes back unchanged.
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
  /// What the registered context type `type` says of its modules (`channel`: neither remote nor
  /// restarted on return). `unsupported_type` when no type of that name is registered.
  [[nodiscard]] expected<context_type_traits> type_traits(std::string_view type) const;

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
  /// (bounded block), not_connected. On failure `msg` is left to the caller unchanged (the
  /// send contract, above).
  [[nodiscard]] expected<void> send(std::string_view module, message&& msg);
  [[nodiscard]] expected<void> send(std::string_view module, const message& msg);
  /// Takes the next message of a module of this process; blocks until one arrives.
  /// Errors: module_not_found (also for a module of another process), channel_closed (after
  /// cleanup, once the inbox is drained).
  [[nodiscard]] expected<message> receive(std::string_view module);
  /// As `receive`, waiting at most `timeout` (`duration::max()` waits for ever); `timed_out`
  /// when nothing came.
  [[nodiscard]] expected<message> receive_for(std::string_view module, duration timeout);
  /// As `receive`, also ending with `cancelled` once a stop is requested on `stop` while nothing
  /// is queued (a message already queued is handed out first: `receive` keeps its draining
  /// semantics). Pass the context's `stop_token()` to end on its cancel, or a `std::jthread`'s to
  /// end when the thread is asked to stop; the message loop of a module then needs no timeout.
  ///
  /// @code
  /// std::jthread loop([&](std::stop_token st) {
  ///   while (auto m = ctx.receive("hub", st)) handle(*m);  // ends on stop or cleanup
  /// });
  /// @endcode
  [[nodiscard]] expected<message> receive(std::string_view module, std::stop_token stop);
  /// As `receive_for`, also ending with `cancelled` on a stop request (see above).
  [[nodiscard]] expected<message> receive_for(std::string_view module, duration timeout,
                                              std::stop_token stop);
  /// Sends with `header.sync = true` (and a fresh id if it has none) and waits for the reply
  /// whose parent id is the request's id. A timeout <= 0 means 30 s; `duration::max()` waits
  /// for ever (until the reply, a cleanup, or the context's cancel). No reply is lost while the
  /// caller waits, however early it comes; a reply after the caller gave up is an orphan.
  /// Errors: as `send`, and timed_out, cancelled (the context was cancelled), channel_closed
  /// (the request was dropped by a cleanup), not_connected (the peer went away). A request
  /// that did not leave comes back unchanged (the send contract, above).
  [[nodiscard]] expected<message> send_sync(std::string_view module, message&& msg,
                                            duration timeout = {});
  [[nodiscard]] expected<message> send_sync(std::string_view module, const message& msg,
                                            duration timeout = {});
  /// Hands `resp` to whoever waits on `resp.header.parent_id` (in this process or, for a
  /// request that came over a socket, in the requester's). `orphan_response` (counted) when
  /// nobody waits; `unsupported_type` when `resp.header.type` names no registered type. On
  /// failure `resp` is left to the caller unchanged.
  [[nodiscard]] expected<void> send_resp(message&& resp);
  [[nodiscard]] expected<void> send_resp(const message& resp);
  /// Delivers `msg` to every member of `group`, sharing one content. Keeps per-member FIFO; a
  /// slow member does not delay the others. `group_not_found` if the group has no members;
  /// the members that refused are listed in `failed` (when all did, `msg` is unchanged).
  [[nodiscard]] expected<group_delivery> send_to_group(std::string_view group, message&& msg);
  [[nodiscard]] expected<group_delivery> send_to_group(std::string_view group, const message& msg);
  /// Delivers to every member with `sync = true` and waits until each has replied or the
  /// timeout (<= 0 means 30 s; `duration::max()`: for ever) expires. Says exactly who did not
  /// answer (`missing`) and who could not be reached or failed (`failed`).
  /// `group_not_found` as above; `cancelled` once the context is cancelled.
  ///
  /// Ids, as Go gives them: every reply returned carries as its parent id the id of `msg` (a
  /// fresh one when it had none); `route.source` says which member answered. What a member
  /// sees: a request whose id is its own, one per member (the first member's is the caller's
  /// id, the others fresh ones), so that a reply is attributed by its parent id alone and
  /// `missing` is exact. A member answers as to any request (`new_resp_by_message`, parent id =
  /// the id it saw); it must not rely on that id being the caller's.
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

 private:
  friend detail::context_state& detail::context_state_of(context& ctx) noexcept;
  std::unique_ptr<detail::context_state> impl_;
};

/// The process-wide context for Go-style use; created on first use, lives until exit.
[[nodiscard]] context& default_context();

}  // namespace beehive
