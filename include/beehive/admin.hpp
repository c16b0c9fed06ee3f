// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "beehive/errc.hpp"
#include "beehive/socket_context.hpp"

namespace beehive {

class context;
class core;

/// Where the admin API listens and what it allows.
struct admin_options {
  /// `unix:/path/admin.sock`: HTTP on a unix socket, owner only (mode 0600, and every peer's
  /// uid is checked with SO_PEERCRED: another user gets 403). `127.0.0.1:PORT` (or
  /// `localhost:PORT`, `[::1]:PORT`): HTTP on loopback, reachable by every local user; port 0
  /// picks a free port (`admin::address()` tells which). Other hosts are refused.
  std::string address;
  /// Allow `POST /api/send` and `POST /api/request`; refused (403 `writes_disabled`) otherwise.
  bool allow_writes = false;
  /// Largest request (headers and body) served; a larger body gets 413, and the admin keeps
  /// serving others.
  std::size_t max_request_bytes = 64 * 1024;
  /// Messages each tap queues for its reader before it drops (counted).
  std::size_t tap_queue = 4096;
  /// Taps streaming at once; more get 503.
  std::size_t max_taps = 4;
};

/// The admin options `BEEHIVE_ADMIN` asks for (its value is `address`), with `allow_writes` set
/// when `BEEHIVE_ADMIN_WRITES=1`; nullopt when `BEEHIVE_ADMIN` is unset or empty.
[[nodiscard]] std::optional<admin_options> admin_options_from_env();

/// The admin API of a context: what a running system holds, readable from outside the process
/// over HTTP (the `beehive` command, Prometheus, a browser). Off unless started.
///
/// - `GET /metrics`: Prometheus text (inboxes and their lanes, module states and restarts,
///   `send_sync` latency, orphan replies, socket counters, every installed context type's own
///   counters (`context_type::counters`: the nats type's), taps, the admin's own refusals);
/// - `GET /api/modules`, `/api/groups`, `/api/stats`: JSON;
/// - `GET /api/tap[?module=M|group=G]`: one JSON line per message sent (chunked, streaming);
/// - `POST /api/send`, `POST /api/request`: only with `allow_writes`;
/// - `GET /`: the dashboard, one self-contained page.
///
/// Serving runs on the admin's own threads; a context that never starts one pays nothing, and a
/// started one costs senders one relaxed load per call while no tap is attached (plus two clock
/// reads per `send_sync`, for its latency histogram). The context, and every core and socket
/// watched, must outlive the admin; the destructor stops serving and joins its threads.
///
/// @code
/// beehive::context ctx;
/// beehive::core core(ctx);
/// auto admin = beehive::start_admin(ctx, {.address = "unix:/run/me/admin.sock"});
/// if (admin) (*admin)->watch(core);
/// @endcode
class admin final {
 public:
  struct impl;  ///< private
  explicit admin(std::unique_ptr<impl> p);
  ~admin();
  admin(const admin&) = delete;
  admin& operator=(const admin&) = delete;

  /// The address served, in the options' syntax, with the port chosen when 0 was asked.
  [[nodiscard]] const std::string& address() const noexcept;
  /// Adds the state and restarts of the modules `c` runs. Thread-safe.
  void watch(const core& c);
  /// Adds the counters of a socket context under `name`. Thread-safe.
  void watch_socket(std::string name, std::function<socket_stats()> read);
  /// As `watch_socket`, reading `s->stats()`.
  template <class Socket>
  void watch(std::string name, std::shared_ptr<Socket> s) {
    watch_socket(std::move(name), [s] { return s->stats(); });
  }

  /// What `GET /metrics` serves now.
  [[nodiscard]] std::string metrics_text() const;
  /// What `GET /api/stats` serves now.
  [[nodiscard]] std::string stats_json() const;

  /// Stops serving: open taps end, threads are joined. Idempotent.
  void stop();

 private:
  std::unique_ptr<impl> impl_;
};

/// Starts the admin API of `ctx` on `options.address`.
/// Errors: invalid_argument (address unusable or not loopback), already_exists (a live server
/// listens on that unix socket), not_connected (binding failed).
[[nodiscard]] expected<std::unique_ptr<admin>> start_admin(context& ctx, admin_options options);

}  // namespace beehive
