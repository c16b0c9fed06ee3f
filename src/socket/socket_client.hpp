// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "beehive/socket_config.hpp"
#include "beehive/socket_context.hpp"
#include "socket/hosted_endpoint.hpp"
#include "socket/peer_registry.hpp"
#include "socket/socket_counters.hpp"
#include "socket/socket_io.hpp"
#include "socket/socket_link.hpp"
#include "type/context_type.hpp"

namespace beehive::detail {

/// The client side of a socket type: keeps each client module (a `hosted_endpoint` with a
/// client entry) connected to the server at its entry's address.
///
/// An attempt connects, writes the handshake request and waits for the answer, whose modules
/// and groups become peers of the host. Every attempt runs on the type's event loop, never in
/// the caller: adding a module returns at once, its endpoint `connecting` until the answer
/// came (`hosted_endpoint::state`). An attempt that fails (nobody listens, the server
/// refuses or closes, no answer within `handshake_timeout`) is retried on a timer of the
/// type's event loop, `reconnect_initial` later, doubling up to `reconnect_max`: no thread
/// per reconnecting module. When an established link drops, the module is cleaned up (its
/// `start` returns) and a core re-adds it, which connects again (Go's moduleKeeper).
///
/// Thread-safe.
class socket_client final : public link_handler {
 public:
  socket_client(const socket_config& config, const socket_options& options,
                std::shared_ptr<socket_counters> counters, type_host& host, peer_registry& registry,
                socket_io& io);
  socket_client(const socket_client&) = delete;
  socket_client& operator=(const socket_client&) = delete;
  ~socket_client() = default;

  /// Keeps `module` connected from now on: queues its first attempt on the event loop and
  /// returns at once (never blocks on I/O); a failed attempt is retried in the background.
  /// False once closed (the type stops).
  bool start(const std::shared_ptr<hosted_endpoint>& module);
  /// `module` was cleaned up: its link closes and its attempts end.
  void stop(hosted_endpoint& module);
  /// No attempt starts from now on (the type stops). Idempotent.
  void close();

  [[nodiscard]] bool on_handshake(const std::shared_ptr<socket_link>& link,
                                  const message& m) override;
  void on_ended(const std::shared_ptr<socket_link>& link, bool was_established) override;
  /// A presence update of the server: the peers of the link follow its module exchange (added,
  /// removed, groups joined and left) in one change.
  void on_presence(socket_link& link, const message& m) override;

 private:
  // Tries again after the module's backoff, on the loop.
  void connect_later(const std::weak_ptr<hosted_endpoint>& module, std::uint64_t generation);
  // On the loop: connects without blocking it, then starts the handshake.
  void connect_async(const std::weak_ptr<hosted_endpoint>& module, std::uint64_t generation);
  // Makes the link of a connected descriptor, starts its reader, writes the request and sets
  // its deadline. Fails when the attempt is no longer current.
  [[nodiscard]] expected<std::shared_ptr<socket_link>> begin_handshake(
      const std::shared_ptr<hosted_endpoint>& module, std::uint64_t generation, int fd);
  // Called with mu_ held: the attempt belongs to the module's present life.
  [[nodiscard]] bool current_locked(const hosted_endpoint& module, std::uint64_t generation) const;

  const socket_config& cfg_;
  const socket_options& opts_;
  const std::shared_ptr<socket_counters> counters_;
  type_host& host_;
  peer_registry& registry_;
  socket_io& io_;

  mutable std::mutex mu_;  // the client fields of every hosted_endpoint, closed_
  bool closed_ = false;
};

}  // namespace beehive::detail
