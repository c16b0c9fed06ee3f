// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message_context.hpp"
#include "beehive/module_options.hpp"
#include "beehive/socket_config.hpp"

namespace beehive {

class context;

namespace detail {
class socket_type;  // src/socket/socket_type.hpp: the context type this is the handle of
}  // namespace detail

/// Counters of a socket context. Every rejected record, refused connection or message that
/// could not be delivered is counted here (and logged).
struct socket_stats {
  std::uint64_t connections_accepted = 0;  ///< connections the server took
  std::uint64_t connections_refused = 0;   ///< refused because `connmax` was reached
  std::uint64_t handshakes_rejected = 0;   ///< first record not a handshake, or module unlisted
  std::uint64_t connections_lost = 0;      ///< connections that ended (peer gone or closed)
  std::uint64_t connects = 0;              ///< successful client handshakes
  std::uint64_t connect_failures = 0;      ///< client connect or handshake attempts that failed
  std::uint64_t records_in = 0;            ///< records read and decoded
  std::uint64_t records_out = 0;           ///< records written to a socket
  /// Records that are not valid beehive JSON, empty records (a zero-length packet, an empty
  /// line) included.
  std::uint64_t malformed_records = 0;
  /// Records larger than `buffersize` (with their '\n'), rejected: on `unixpacket` and on a
  /// newline-delimited `unix` stream the records after it are intact and the link stays.
  std::uint64_t oversized_records = 0;
  /// Package-framed streams (`stream_framing::package`): frames with a wrong magic or a length
  /// above `buffersize`; the stream is closed.
  std::uint64_t bad_frames = 0;
  std::uint64_t truncated_frames = 0;     ///< stream peers that closed in the middle of a record
  std::uint64_t unknown_destination = 0;  ///< records for a module nobody hosts
  std::uint64_t undeliverable = 0;        ///< records whose delivery failed (full, closed, ...)
  std::uint64_t forwarded = 0;            ///< records handed to a module or another peer
  /// Replies read from a connection and handed on by the reply table (to a call waiting here,
  /// or to the requester's connection).
  std::uint64_t replies_routed = 0;
  std::uint64_t orphan_replies = 0;  ///< replies read from a connection that nobody waited for
  /// Records a peer's full outbound queue refused: `fail` policy, an expired block timeout, or
  /// a group copy or sync request past the parking room (`queue_full` / `timed_out`).
  std::uint64_t outbound_rejected = 0;
  /// Records evicted from a peer's full outbound queue (`drop_oldest`).
  std::uint64_t outbound_dropped = 0;
  /// Records accepted for a peer but never written: its connection ended first.
  std::uint64_t outbound_unsent = 0;
};

/// Settings of a socket context that are not in `socket_module.yaml`.
struct socket_options {
  /// Bound of a client's connect + handshake, and of the wait for a new peer's handshake.
  std::chrono::milliseconds handshake_timeout{2000};
  /// First wait between reconnect attempts; doubles each time up to `reconnect_max`.
  std::chrono::milliseconds reconnect_initial{50};
  std::chrono::milliseconds reconnect_max{2000};
  /// How records travel on a `unix` (SOCK_STREAM) socket when its config entry has no
  /// `framing` key: newline-delimited JSON (default; what Go writes on every socket type), or
  /// the 12-byte package framing (`beeh` `v1` `rv` + big-endian length), which both ends must
  /// then use. `unixpacket` sockets always carry one record per packet.
  stream_framing framing = stream_framing::newline;
  /// Records for a peer wait in their connection's outbound queue, never in the caller, while
  /// its socket is full. The queue follows the inbox options of the module of this process the
  /// connection belongs to, as that module's inbox does: a client module's connection its
  /// `module_info::inbox`; the connections a server accepts, its server module's. These
  /// options are used for the connections a server accepts while it listens without a module
  /// (`listen()`).
  ///
  /// `capacity` records (those being written included); when full, `overflow` decides
  /// (`block`, bounded by `block_timeout` if set; `fail`: `queue_full`; `drop_oldest`: the
  /// oldest queued record is dropped, counted). Only a plain `send` waits: a sync request, a
  /// group member's copy, a reply and a record relayed from another peer never wait; they may
  /// use up to `capacity` more records, then get `queue_full` (`drop_oldest` evicts). `close`
  /// is unused.
  inbox_options outbound{};
  /// The name the type is installed under in its context: the `module_info::type` of its
  /// modules. Two socket types (each with its own config: another address, other modules) live
  /// in one context under two names. The records on the wire say `unixpacket` whatever the name,
  /// as Go's do.
  std::string type_name{context_type_unixpacket};
};

/// The `unixpacket` context type (Go's socket context): modules in other processes join over a
/// unix socket, speaking Go beehive's wire format. This class is its handle: it starts the
/// server, stops the type, and tells who is connected. Messages go through the `context`.
///
/// One type plays both roles, as the config says:
/// - **server**: when the config has a `server: true` entry, `listen()` (or adding the module of
///   that entry) listens on its address. A client that handshakes (and is listed in the config)
///   becomes a *peer module* of the context: `send`, `send_sync`, groups and replies reach it.
/// - **client**: adding a module that has a client entry (`server: false`) hosts its inbox
///   here, connects to the server, handshakes and learns the server's modules and groups,
///   which become peer modules of the context. When the connection drops the module is cleaned
///   up (its `start` returns) and the core re-adds it, which reconnects with backoff.
///   Adding a module of this type fails with `config_error` when the config has no entry for
///   it, and with `invalid_argument` when its client entry's address is not a usable unix
///   socket path (empty, or too long); a server that is not up yet is retried in the background.
///
/// A peer module is live as long as its connection: once the connection ends, callers waiting
/// on it fail with `not_connected`, later calls fail with `not_connected`, and it leaves its
/// groups until it joins again.
/// Thread-safe. The handle stays valid after its context is gone: the calls then fail or
/// answer empty.
///
/// @code
/// beehive::context ctx;
/// auto cfg = beehive::load_socket_config_from_env();
/// auto sock = beehive::register_socket_context(ctx, *cfg);
/// (void)ctx.add_module({.name = "remotemod", .type = "unixpacket", .remote = true});
/// (void)(*sock)->wait_connected("srvmod", std::chrono::seconds(5));
/// auto r = ctx.send_sync("srvmod", beehive::new_message(), std::chrono::seconds(1));
/// @endcode
class socket_context final {
 public:
  /// Use `register_socket_context`, which makes the type and installs it in a context.
  explicit socket_context(std::shared_ptr<detail::socket_type> type);
  /// Does not stop the type: the context owns it and stops it when it goes.
  ~socket_context();
  socket_context(const socket_context&) = delete;
  socket_context& operator=(const socket_context&) = delete;

  /// Starts the server of the config's `server: true` entry. Idempotent. A stale socket file
  /// at the address (its server is gone: it refuses connections) is replaced. `config_error`
  /// when the config has no server entry; `not_connected` once stopped; `already_exists` when
  /// a live server listens there; `invalid_argument` when the path is unusable or names
  /// something that is not a socket (left alone); `not_connected` when binding fails.
  [[nodiscard]] expected<void> listen();
  /// Closes every connection and the listener, ends reconnect attempts and joins every thread
  /// the type started; its peers are forgotten. The context's destructor does the same.
  /// Idempotent; blocks until the threads have ended.
  void stop();

  /// True when `module` is a peer module whose connection is up.
  [[nodiscard]] bool connected(std::string_view module) const;
  /// Waits until `connected(module)` or `timeout`; returns whether it is connected.
  [[nodiscard]] bool wait_connected(std::string_view module, duration timeout) const;
  /// Waits until `module` is no peer of any connection (its connection ended and the context
  /// forgot it) or `timeout`; returns whether it is disconnected.
  [[nodiscard]] bool wait_disconnected(std::string_view module, duration timeout) const;
  /// Names of the peer modules connected now, sorted.
  [[nodiscard]] std::vector<std::string> peers() const;
  /// The counters.
  [[nodiscard]] socket_stats stats() const;
  /// The configuration in use.
  [[nodiscard]] const socket_config& config() const noexcept;

 private:
  std::shared_ptr<detail::socket_type> type_;
};

/// Makes the `unixpacket` context type from `config`, installs it in `ctx` under
/// `options.type_name` (`unixpacket` by default) and returns its handle. `already_exists` if a
/// type of that name is installed already; `invalid_argument` for an empty name.
[[nodiscard]] expected<std::shared_ptr<socket_context>> register_socket_context(
    context& ctx, socket_config config, socket_options options = {});

}  // namespace beehive
