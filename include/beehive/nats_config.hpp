// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/errc.hpp"

namespace beehive {

/// Settings of the `nats` context type, read from `nats_module.yaml` (see
/// `src/nats/nats_module.yaml` for a documented example). Every field has a safe default, so
/// that an empty map is a working configuration for one local server.
///
/// Why these defaults: nats.c's own (ping every 2 minutes, no write deadline) let a publisher
/// block without bound on a hung (SIGSTOPped) server; these detect a hung node within
/// `ping_interval * (max_pings_out + 1)` and bound every write by `write_deadline`.
struct nats_config {
  /// `servers`: the URLs tried (nats://host:port, tls://host:port); at least one.
  std::vector<std::string> servers{"nats://127.0.0.1:4222"};
  /// `namespace`: the subject prefix. Two systems on one cluster with different namespaces
  /// never see each other. Tokens of [A-Za-z0-9_-], separated by dots.
  std::string name_space{"beehive"};

  // `credentials:` (at most one way besides user/password: token, creds or nkey).
  std::string user;         ///< `credentials.user`
  std::string password;     ///< `credentials.password`
  std::string token;        ///< `credentials.token`
  std::string creds_file;   ///< `credentials.creds`: a .creds file (JWT + nkey seed)
  std::string nkey_file;    ///< `credentials.nkey`: a file holding an nkey seed (SU...)
  std::string nkey_public;  ///< `credentials.nkey_public`: its public key (U...), with `nkey`

  // `tls:` (a `ca` alone verifies the server; `cert` + `key` present a client certificate).
  std::string tls_ca;    ///< `tls.ca`
  std::string tls_cert;  ///< `tls.cert`
  std::string tls_key;   ///< `tls.key`

  // `timeouts:` (milliseconds).
  std::chrono::milliseconds connect_timeout{2000};   ///< `timeouts.connect`
  std::chrono::milliseconds ping_interval{1000};     ///< `timeouts.ping_interval`
  int max_pings_out = 2;                             ///< `timeouts.max_pings_out`
  std::chrono::milliseconds write_deadline{2000};    ///< `timeouts.write_deadline`
  std::chrono::milliseconds presence_interval{500};  ///< `timeouts.presence_interval`
  std::chrono::milliseconds reconnect_wait{100};     ///< `timeouts.reconnect_wait`

  /// `flow.window`: messages a sender may have unacknowledged per destination module (credit
  /// window); the receiver grants them back as its inbox takes messages, every half window.
  /// It must cover what is in flight while a grant travels back and the sender's next records
  /// travel out, with room for a busy machine's scheduling delays: 1024 made a fast sender
  /// wait for credits every ~700 records, 8192 left the receiver idle a third of the time on
  /// 2 vCPUs (docs/benchmarks.md, "Credit window"). `flow.window_bytes` bounds the same
  /// records by size. The sender keeps what was not acknowledged (up to two windows per
  /// destination) to resend it after a failover; processes of a namespace should share one
  /// window (a receiver's duplicate window spans two of its own).
  std::size_t flow_window = 32768;
  /// `flow.window_bytes`: the encoded bytes a sender may have unacknowledged per destination
  /// module, whatever their count (the record that crosses it still goes: a larger one is
  /// never refused for its size); the receiver also grants back every half of it. What a flood
  /// can hold per (sender, destination): up to this much in the receiving process's nats.c
  /// queue and about as much in the sender's resend window; with 250-byte bodies (~450-byte
  /// records) `flow.window` binds first (32768 x 450 B = 14 MiB). Processes of a namespace
  /// should share it, as `flow.window`.
  std::size_t flow_window_bytes = 16 * 1024 * 1024;
  /// `flow.max_pending`: records nats.c may queue for one hosted module before it drops for a
  /// slow consumer (counted: `nats_stats::nats_dropped`, `slow_consumer_events`); 0, the
  /// default, is no limit: the senders' credit windows bound the queue. A limit guards against
  /// publishers that take no credits (a foreign client, `drop_oldest` senders); below
  /// window x senders it drops records the windows allowed: numbered ones (one-way, to a
  /// `block` or `fail` module that is not a replica) are found missing and resent, others'
  /// credits are not granted back (the senders' windows shrink until their next reconnect).
  std::size_t max_pending = 0;
  /// `flow.reconnect_buffer`: bytes buffered while reconnecting; past it a publish fails with
  /// `not_connected` instead of growing without bound.
  std::size_t reconnect_buffer = 8 * 1024 * 1024;
  /// `flow.batch_linger_us`: one-way records to a module of another process gather into
  /// batches (one NATS message each, up to 64 KiB) for at most this long after the previous
  /// batch went; a record sent after a quiet spell goes at once. 0: no batches, each record
  /// is published by its sender (as nats.c publishes: its flusher still writes within ~1 ms).
  /// Batches cut the CPU per record of a flood by half (docs/benchmarks.md, "Batches").
  std::chrono::microseconds batch_linger{100};

  /// `replicas`: modules this process hosts as replicas (a NATS queue group): several
  /// processes may host the same name, each message reaches one of them.
  std::vector<std::string> replicas;

  [[nodiscard]] bool is_replica(std::string_view module) const noexcept;
};

/// Environment variable naming the config file.
inline constexpr std::string_view nats_config_env = "BEEHIVE_NATS_CONFIG";
/// Path used when the variable is unset.
inline constexpr std::string_view nats_config_default_path =
    "/etc/kubeedge/config/nats_module.yaml";

/// Parses YAML text (a map; unknown keys are refused, so that a typo is not silently a
/// default). `config_error` for text that is not a map, a key of the wrong type or out of
/// range, an unknown key, no server, a namespace that is not subject tokens, a `cert` without
/// its `key`; `why` (if given) receives a one-line explanation naming the key, also logged.
[[nodiscard]] expected<nats_config> parse_nats_config(std::string_view yaml,
                                                      std::string* why = nullptr);
/// Reads and parses a file. `config_error` when it cannot be read or parsed (see above).
[[nodiscard]] expected<nats_config> load_nats_config(const std::string& path,
                                                     std::string* why = nullptr);
/// Reads the file named by `BEEHIVE_NATS_CONFIG`, else the default path.
[[nodiscard]] expected<nats_config> load_nats_config_from_env(std::string* why = nullptr);

}  // namespace beehive
