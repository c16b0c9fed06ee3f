// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "beehive/socket_config.hpp"
#include "beehive/socket_context.hpp"
#include "socket/handshake.hpp"
#include "socket/peer_registry.hpp"
#include "socket/socket_counters.hpp"
#include "socket/socket_io.hpp"
#include "socket/socket_link.hpp"
#include "socket/socket_listener.hpp"
#include "type/context_type.hpp"

namespace beehive::detail {

/// The server side of a socket type: listens on the config's `server: true` address, accepts
/// connections (at most `connmax` at a time), and accepts a listed client module's handshake,
/// which makes that module a peer of the host.
///
/// - Listening removes a stale socket file, one that refuses connections (its server is
///   gone); a live server's socket, or anything that is not a socket, is left alone and
///   `listen` fails (see `socket_listener`).
/// - A new connection must handshake before one deadline, `handshake_timeout` after it was
///   accepted: a peer cannot push it back by trickling bytes. Past it, the connection closes.
///
/// Accepting and the deadlines run on the type's event loop. Thread-safe.
class socket_server final : public link_handler {
 public:
  socket_server(const socket_config& config, const socket_options& options,
                std::shared_ptr<socket_counters> counters, type_host& host, peer_registry& registry,
                socket_io& io);
  socket_server(const socket_server&) = delete;
  socket_server& operator=(const socket_server&) = delete;
  ~socket_server();

  /// Listens on the server entry's address; idempotent. `owner` (may be null) is the module
  /// the listening is for: `stop_listening(owner)` ends it. `outbound` bounds the outbound
  /// queue of each connection accepted from now on (the owner's inbox options; a later call
  /// with an owner replaces them). Errors: `config_error` without a
  /// server entry; `not_connected` once closed; `already_exists` when a live server listens
  /// there; `invalid_argument` for an unusable path or a file that is not a socket.
  [[nodiscard]] expected<void> listen(const void* owner, const inbox_options& outbound);
  /// Closes the listener (and removes its socket file) if it listens for `owner`. Established
  /// links stay.
  void stop_listening(const void* owner);
  /// Closes the listener for good; later `listen` fails. Idempotent.
  void close();

  [[nodiscard]] bool on_handshake(const std::shared_ptr<socket_link>& link,
                                  const message& m) override;
  void on_ended(const std::shared_ptr<socket_link>& /*link*/, bool /*was_established*/) override {}
  /// A client subscribed to presence: it gets the module exchange now and after every change.
  void on_presence(socket_link& link, const message& m) override;
  /// The modules of this process changed: every subscribed client whose last update differs
  /// gets the new exchange. Never waits on a peer (a full queue refuses; the next change
  /// repairs it).
  void publish_presence();

 private:
  void on_accepted(int fd, const socket_entry& entry, socket_kind kind);
  void reject(const socket_link& link, const message& m, handshake_result why);
  [[nodiscard]] std::string module_exchange() const;
  void send_presence(socket_link& link, const std::string& exchange);

  const socket_config& cfg_;
  const socket_options& opts_;
  const std::shared_ptr<socket_counters> counters_;
  type_host& host_;
  peer_registry& registry_;
  socket_io& io_;

  std::mutex mu_;
  std::shared_ptr<socket_listener> listener_;  // null while not listening
  const void* owner_ = nullptr;
  inbox_options outbound_;  // of the connections accepted next
  bool closed_ = false;
  std::mutex presence_mu_;  // the presence fields of every link; one update at a time
};

}  // namespace beehive::detail
