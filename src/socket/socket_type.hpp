// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/socket_config.hpp"
#include "beehive/socket_context.hpp"
#include "socket/socket_counters.hpp"
#include "socket/socket_io.hpp"
#include "type/context_type.hpp"

namespace beehive::detail {

class hosted_endpoint;
class peer_registry;
class socket_client;
class socket_server;

/// The `unixpacket` context type (Go's socket context): modules of other processes join over a
/// unix socket, speaking Go beehive's wire format. It reaches the context only through the
/// `type_host` it is attached to.
///
/// A facade over its parts, each in its own file:
/// - `socket_server`: listens, accepts (up to `connmax`), accepts a listed client's handshake;
/// - `socket_client`: connects each client module, handshakes, reconnects with backoff;
/// - `peer_registry`: the links and the peers each carries, their registration with the host
///   and their teardown; it runs each link's reader (`link_reader`: what a record becomes);
/// - `socket_io`: the event loop (accept, connect, timers).
///
/// Threads: the event loop's, and one reader per connection; each is joined by its owner as
/// soon as it is done, and `stop` joins them all. Thread-safe.
class socket_type final : public context_type, public std::enable_shared_from_this<socket_type> {
 public:
  socket_type(socket_config config, socket_options options);
  /// Stops (see `stop`).
  ~socket_type() override;

  /// Makes the parts, bound to `host`. Called once, before any other call but the queries.
  void attach(type_host& host) override;
  /// A hosted module's endpoint; never blocks on I/O. A client module's endpoint comes back
  /// `connecting` and connects in the background. `config_error` without a config entry for
  /// the module, or for a client entry whose socket type is unknown; `invalid_argument` for an
  /// empty name, a zero capacity, or a client entry whose address is not a usable unix socket
  /// path; `not_connected` once stopped; the listener's errors for the server module.
  [[nodiscard]] expected<std::shared_ptr<endpoint>> make_endpoint(const module_info& info) override;
  /// Closes every connection and the listener, ends reconnect attempts and joins every thread;
  /// the host is never called afterwards. Idempotent. Not from a thread of the type.
  void stop() override;
  /// Every change of the context's modules: the server tells its subscribed clients
  /// (handshake.hpp, presence).
  void presence(std::span<const presence_event> events) override;
  /// A module of this type lives in another process, or is this process's end of a link: its
  /// `start` returning normally means its link dropped, and a core restarts it (reconnects).
  [[nodiscard]] bool is_remote() const noexcept override { return true; }
  [[nodiscard]] bool restarts_on_return() const noexcept override { return true; }

  /// Listens on the server entry's address. Idempotent. `config_error` without a server entry;
  /// `not_connected` once stopped (or never attached); `already_exists` when a live server
  /// listens there; `invalid_argument` for a path that is not usable or not a socket.
  [[nodiscard]] expected<void> listen();

  // For the facade (`socket_context`).
  [[nodiscard]] bool connected(std::string_view module) const;
  [[nodiscard]] bool wait_connected(std::string_view module, std::chrono::nanoseconds bound) const;
  [[nodiscard]] bool wait_disconnected(std::string_view module,
                                       std::chrono::nanoseconds bound) const;
  [[nodiscard]] std::vector<std::string> peers() const;
  [[nodiscard]] socket_stats stats() const noexcept { return counters_->snapshot(); }
  [[nodiscard]] const socket_config& config() const noexcept { return cfg_; }

  /// Threads the type owns now: the event loop's (once started, until stopped) and one reader
  /// per connection not yet joined.
  [[nodiscard]] std::size_t thread_count() const;
  /// Waits until `thread_count() <= at_most`, at most `bound`; returns whether it is.
  [[nodiscard]] bool wait_thread_count_for(std::size_t at_most,
                                           std::chrono::nanoseconds bound) const;

  // For `hosted_endpoint`.
  /// Starts serving the module, the part that can fail: listens (server module). `not_connected`
  /// when the type is stopped; the listener's errors.
  [[nodiscard]] expected<void> serve(hosted_endpoint& ep);
  /// Starts connecting a client module, in the background (never blocks; an attempt that
  /// fails is retried). Does nothing for the server module or once stopped.
  void connect(hosted_endpoint& ep);
  /// The module was cleaned up: its connection closes, its reconnects end, the listener of the
  /// server module closes.
  void unhost(hosted_endpoint& ep);

 private:
  const socket_config cfg_;
  const socket_options opts_;
  const std::shared_ptr<socket_counters> counters_;

  std::mutex stop_mu_;  // one `stop` at a time
  // Declared before the parts: destroyed after them, and its handlers (which the parts'
  // objects may be bound into) with it.
  socket_io io_;
  // Made by `attach`, never replaced; null before it.
  std::unique_ptr<peer_registry> registry_;
  std::unique_ptr<socket_server> server_;
  std::unique_ptr<socket_client> client_;
};

}  // namespace beehive::detail
