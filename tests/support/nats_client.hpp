// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a nats.c connection with the safe options of docs/architecture.md ("NATS: the
// client options and why"), owned explicitly: the destructor closes the connection, waits for
// nats.c's closed callback, and only then destroys it.
//
// Why the wait: nats.c delivers the closed callback on its own thread, and it can run after
// natsConnection_Destroy has returned; a closure that died with its owner is then used after
// free. The state the callbacks see is shared (a shared_ptr), so that it lives until both the
// owner and the last callback are done with it.

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace beehive::test {

/// Every option a connection of the tests and benchmarks sets; the defaults are the safe
/// values validated by tests/nats_servers_test.cpp.
struct nats_client_options {
  std::string urls;  ///< comma-separated server URLs
  std::string user;  ///< with password (natsOptions_SetUserInfo)
  std::string password;
  std::string token;           ///< natsOptions_SetToken
  std::string nkey_public;     ///< with nkey_seed_file: natsOptions_SetNKeyFromSeed
  std::string nkey_seed_file;  ///< a file holding the user's nkey seed (SU...)
  std::string ca_file;         ///< TLS: trust this CA (natsOptions_LoadCATrustedCertificates)
  std::string cert_file;       ///< TLS: present this certificate (with key_file)
  std::string key_file;
  bool secure = false;  ///< TLS required even when the URLs say nats://
  std::string name = "beehive-test";
  std::chrono::milliseconds connect_timeout{2000};  ///< natsOptions_SetTimeout
  std::chrono::milliseconds ping_interval{1000};    ///< natsOptions_SetPingInterval
  int max_pings_out = 2;                            ///< natsOptions_SetMaxPingsOut
  std::chrono::milliseconds write_deadline{2000};   ///< natsOptions_SetWriteDeadline
  std::chrono::milliseconds reconnect_wait{100};    ///< natsOptions_SetReconnectWait
  int max_reconnect = -1;                           ///< natsOptions_SetMaxReconnect (-1: forever)
  int reconnect_buf_size = 1 << 20;                 ///< natsOptions_SetReconnectBufSize (bytes)
  bool send_asap = false;                           ///< natsOptions_SetSendAsap
  bool fail_requests_on_disconnect = true;          ///< natsOptions_SetFailRequestsOnDisconnect
  int max_pending_msgs = 65536;                     ///< natsOptions_SetMaxPendingMsgs
  bool allow_reconnect = true;                      ///< natsOptions_SetAllowReconnect
  bool no_randomize = false;  ///< natsOptions_SetNoRandomize: try the URLs in the given order
};

/// natsOptions for `o` (the caller destroys them); NATS_OK or the first failing call's status.
natsStatus make_nats_options(const nats_client_options& o, natsOptions** out);

/// One connection. Not copyable or movable (nats.c's callbacks hold its state).
class nats_client {
 public:
  /// Connects; nullptr on failure, with the status and nats.c's error text in the out-params.
  static std::unique_ptr<nats_client> connect(const nats_client_options& o,
                                              natsStatus* status = nullptr,
                                              std::string* error = nullptr);
  /// close(), then natsConnection_Destroy.
  ~nats_client();
  nats_client(const nats_client&) = delete;
  nats_client& operator=(const nats_client&) = delete;

  [[nodiscard]] natsConnection* get() const { return nc_; }
  /// natsConnection_Close, then waits (bounded, 10 s) for the closed callback; true if it came.
  bool close();
  /// Counts of the connection's events so far, from its callbacks.
  [[nodiscard]] int disconnects() const { return state_->disconnects.load(); }
  [[nodiscard]] int reconnects() const { return state_->reconnects.load(); }
  [[nodiscard]] int async_errors() const { return state_->async_errors.load(); }
  [[nodiscard]] natsStatus last_async_error() const { return state_->last_error.load(); }
  [[nodiscard]] bool closed() const;
  /// Waits (bounded by `timeout`) until reconnects() >= n / disconnects() >= n.
  bool wait_reconnects(int n, std::chrono::milliseconds timeout);
  bool wait_disconnects(int n, std::chrono::milliseconds timeout);

  /// What the callbacks share with the owner.
  struct state {
    std::mutex mutex;
    std::condition_variable cv;
    bool closed = false;
    std::atomic<int> disconnects{0};
    std::atomic<int> reconnects{0};
    std::atomic<int> async_errors{0};
    std::atomic<natsStatus> last_error{NATS_OK};
  };

 private:
  nats_client() = default;
  natsConnection* nc_ = nullptr;
  std::shared_ptr<state> state_ = std::make_shared<state>();
};

}  // namespace beehive::test
