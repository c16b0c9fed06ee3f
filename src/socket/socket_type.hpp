// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "beehive/socket_config.hpp"
#include "beehive/socket_context.hpp"
#include "context_type.hpp"
#include "socket/connection.hpp"
#include "socket/socket_counters.hpp"

namespace beehive::detail {

class hosted_endpoint;
class peer_endpoint;

/// The `unixpacket` context type (Go's socket context): modules of other processes join over a
/// unix socket, speaking Go beehive's wire format. It reaches the context only through the
/// `type_host` it is attached to.
///
/// - Server: while the module of the config's `server: true` entry lives (or after `listen`),
///   it accepts connections; a listed client's handshake registers that module as a peer.
/// - Client: a module with a client entry is hosted here (`hosted_endpoint`); it connects and
///   handshakes, and the server's modules and groups become peers. When the connection drops,
///   the module is cleaned up (its `start` returns) and a core re-adds it, which reconnects;
///   a failed connect is retried in the background with backoff.
///
/// Every record read is routed: a reply to the one reply table, a sync request with its origin
/// registered there (the reply goes back over the connection), anything else to its
/// destination. Thread-safe.
class socket_type final : public context_type, public std::enable_shared_from_this<socket_type> {
 public:
  socket_type(socket_config config, socket_options options);
  /// Stops (see `stop`).
  ~socket_type() override;

  void attach(type_host& host) override;
  [[nodiscard]] expected<std::shared_ptr<endpoint>> make_endpoint(const module_info& info) override;
  /// Closes every connection and the listener, ends reconnect attempts and joins every thread;
  /// the host is never called afterwards. Idempotent.
  void stop() override;

  /// Listens on the server entry's address. Idempotent. `config_error` without a server entry;
  /// `not_connected` once stopped (or never attached); the socket's error otherwise.
  [[nodiscard]] expected<void> listen();

  // For the facade (`socket_context`).
  [[nodiscard]] bool connected(std::string_view module) const;
  [[nodiscard]] bool wait_connected(std::string_view module, std::chrono::nanoseconds bound) const;
  [[nodiscard]] bool wait_disconnected(std::string_view module,
                                       std::chrono::nanoseconds bound) const;
  [[nodiscard]] std::vector<std::string> peers() const;
  [[nodiscard]] socket_stats stats() const noexcept { return counters_->snapshot(); }
  [[nodiscard]] const socket_config& config() const noexcept { return cfg_; }

  // For `hosted_endpoint`.
  /// Starts serving the module: listens (server module) or connects (client module; a failed
  /// attempt is retried in the background). Fails only when the type is stopped or cannot
  /// listen.
  [[nodiscard]] expected<void> host(hosted_endpoint& ep);
  /// The module was cleaned up: its connection closes, its reconnects end, the listener of the
  /// server module closes.
  void unhost(hosted_endpoint& ep);

 private:
  // A thread of the type other than a reader (a reconnect loop); joined once done or at stop.
  struct worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  // Called with mu_ held: joins finished threads (joining a finished thread does not block).
  void reap_locked();
  [[nodiscard]] bool connected_locked(std::string_view module) const;
  [[nodiscard]] bool listed_locked(std::string_view module) const;

  // Client side.
  [[nodiscard]] expected<void> connect(const std::shared_ptr<hosted_endpoint>& ep,
                                       std::uint64_t generation);
  void reconnect_loop(const std::weak_ptr<hosted_endpoint>& ep, std::uint64_t generation);
  [[nodiscard]] bool finish_handshake(const std::shared_ptr<connection>& c, const message& m);

  // Server side.
  void accept_loop(int fd, socket_kind kind, std::size_t buffer_size, int conn_max);
  void stop_listening();
  [[nodiscard]] bool accept_handshake(const std::shared_ptr<connection>& c, const message& m);
  void reject_handshake(const std::shared_ptr<connection>& c, const message& m,
                        std::string_view why);
  [[nodiscard]] std::string module_exchange();

  // Both sides.
  void start_reader_locked(const std::shared_ptr<connection>& c, std::string label);
  void run_reader(const std::shared_ptr<connection>& c);
  void route(const std::shared_ptr<connection>& c, message&& msg);
  void on_disconnect(const std::shared_ptr<connection>& c, std::string_view who);

  const socket_config cfg_;
  const socket_options opts_;
  const std::shared_ptr<socket_counters> counters_;
  // Set by attach, before any thread starts; cleared by stop after every thread is joined.
  type_host* host_ = nullptr;

  std::mutex stop_mu_;  // one `stop` at a time (each joins the same threads)
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // connection state changes, stop
  std::vector<std::shared_ptr<connection>> conns_;
  std::vector<worker> workers_;
  bool stopped_ = false;

  const hosted_endpoint* server_ep_ = nullptr;  // the server module that listens now
  int listen_fd_ = -1;
  bool listening_ = false;
  std::string listen_path_;
  std::thread acceptor_;
};

}  // namespace beehive::detail
