// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "beehive/errc.hpp"
#include "beehive/nats_config.hpp"

namespace beehive::detail {

/// What a nats.c status means to a caller of beehive: ok, message_too_large, timed_out,
/// module_not_found (no responders), or not_connected (closed, reconnecting with a full
/// buffer, I/O error, stale link).
[[nodiscard]] std::error_code to_error(natsStatus s) noexcept;

/// How many times a connect is tried when an nkey signs the server's nonce and the server
/// answers "Authorization Violation". nats.c 3.4.1 (Debian 12's) base64-encodes the nonce's
/// signature as an empty string when the signature's first byte is 0, so that 1 connect in
/// 256 fails with the right key (fixed upstream after 3.4.1: nats.c PR #705, "Fix random
/// authentication error due to missing signature"). Each try gets a new nonce; a wrong key
/// fails every try.
inline constexpr int nkey_attempts = 4;

/// `natsConnection_Connect`, tried up to `nkey_attempts` times while `nkey` and the server
/// refuses the credentials (NATS_CONNECTION_AUTH_FAILED); once otherwise.
[[nodiscard]] natsStatus connect_with_nkey_retries(natsConnection** nc, natsOptions* opts,
                                                   bool nkey);

/// One NATS connection with safe options, and its lifetime made explicit.
///
/// Options (from `nats_config`): connect timeout, ping interval + max pings out (a hung server
/// is detected), write deadline (no write blocks without bound), fail requests on disconnect,
/// a bounded reconnect buffer (a publish past it fails at once), endless reconnects, and
/// `SendAsap` when asked (a connection that carries replies: without it a reply waits ~1 ms
/// for nats.c's flusher).
///
/// Lifetime: nats.c may run the closed callback after `natsConnection_Destroy` returned. So
/// the destructor closes the connection, waits for the closed callback (bounded), and only
/// then destroys it; the callbacks' state is owned by a block that is freed only after the
/// closed callback ran (leaked, logged, if it never comes).
class nats_connection {
 public:
  /// Callbacks, run on nats.c's threads; they must not block.
  struct events {
    std::function<void()> disconnected;
    std::function<void()> reconnected;
    /// An asynchronous error (slow consumer: `NATS_SLOW_CONSUMER`, with its subscription).
    std::function<void(natsSubscription*, natsStatus)> async_error;
  };

  /// Connects to one of `cfg.servers`, within `cfg.connect_timeout` per server. On failure
  /// `not_connected`, and `why` (also logged) says what nats.c said (authorization violation,
  /// no server available, TLS handshake failure...).
  [[nodiscard]] static expected<std::unique_ptr<nats_connection>> open(const nats_config& cfg,
                                                                       const std::string& name,
                                                                       bool send_asap, events ev,
                                                                       std::string* why = nullptr);
  ~nats_connection();
  nats_connection(const nats_connection&) = delete;
  nats_connection& operator=(const nats_connection&) = delete;

  [[nodiscard]] natsConnection* raw() const noexcept { return nc_; }
  /// Publishes `data` on `subject` (with `reply` as its reply subject when not empty).
  /// `message_too_large` past the server's max_payload (nats.c checks it before writing).
  [[nodiscard]] expected<void> publish(const std::string& subject, std::string_view data,
                                       const std::string& reply = {}) const;
  /// The server's max_payload (bytes).
  [[nodiscard]] std::int64_t max_payload() const noexcept;
  [[nodiscard]] bool connected() const noexcept;
  /// The URL of the server connected to now (empty while disconnected).
  [[nodiscard]] std::string connected_url() const;
  /// Flushes, waiting at most `bound`.
  [[nodiscard]] expected<void> flush(std::chrono::milliseconds bound) const;
  /// Closes the connection and waits (at most `bound`) for its closed callback. Idempotent.
  void close(std::chrono::milliseconds bound = std::chrono::milliseconds(5000));

  struct shared;  ///< private: what the callbacks see

 private:
  nats_connection(natsConnection* nc, natsOptions* opts, shared* s) noexcept
      : nc_(nc), opts_(opts), shared_(s) {}
  natsConnection* nc_;
  natsOptions* opts_;
  shared* shared_;  // freed after the closed callback ran
  bool closed_ = false;
};

}  // namespace beehive::detail
