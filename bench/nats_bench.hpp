// SPDX-License-Identifier: Apache-2.0
#pragma once

// The NATS benchmark harness (bench/nats_bench.cpp) and the hook by which the nats context type
// plugs its side of each scenario in.
//
// Each scenario starts its own servers (tests/support/nats_servers.hpp), runs raw nats.c doing
// the work, then "ours" (the beehive nats type doing the same work on the same servers), and
// prints one line: raw figures under `raw_*` keys, ours under the plain keys, and
// `vs_raw` = ours / raw (for latency: raw p50 / ours p50), so that >= 0.8 is the target.
//
// Plugging ours in: write bench/nats_bench_ours.cpp defining `make_nats_bench_ours()`.
// bench/CMakeLists.txt compiles it into nats_bench (and links beehive::nats) only when the
// target beehive_nats exists; without it, lines carry the raw figures and "ours":"not built".
// Each function gets the running servers and the scenario's parameters and returns its keys:
//   send           {"msgs_per_s", "lost", "errors"}               1 -> 1 through node 0
//   send_sync_rtt  {"p50_us", "p99_us", ..., "errors", "timeouts"} (bench_util add_percentiles)
//   fan_out_8      {"deliveries_per_s", "lost", "errors"}          1 -> 8 receivers, node 0
//   cluster_send   {"msgs_per_s", "lost", "errors"}               node 0 -> node 2, `block`
//                  inbox, window p.credit_window, a consumer doing p.consumer_work_ns per msg
//   failover_kill  {"failover_ms", "failed_calls", "errors"}      a requester on node 0 (knowing
//   failover_hang                                                   every node) calls a responder
//                  on node 2 every ms; node 0 is SIGKILLed (SIGSTOPped): failover_ms is the time
//                  from then to the first call that succeeds
// A missing function (empty std::function) leaves that line raw-only.
// The harness adds, for send and fan_out_8, the servers' CPU per record (or delivery) while
// each side ran: `raw_server_cpu_ns_per_msg` and `server_cpu_ns_per_msg` (from /proc, in
// clock ticks: 10 ms steps).

#include <cstddef>
#include <cstdint>
#include <functional>

#include "bench_util.hpp"
#include "support/nats_servers.hpp"

namespace beehive::bench {

/// What a scenario does; raw and ours get the same values.
struct nats_bench_params {
  std::uint64_t messages = 0;          ///< records sent (or round trips for send_sync_rtt)
  std::uint64_t warmup = 0;            ///< round trips before the measured ones
  std::size_t record_bytes = 250;      ///< payload size of each record
  std::size_t receivers = 1;           ///< fan-out width
  std::uint64_t credit_window = 0;     ///< cluster_send: records in flight per sender
  std::uint64_t consumer_work_ns = 0;  ///< cluster_send: the consumer's work per record
};

using nats_bench_fn = std::function<json(test::nats_servers&, const nats_bench_params&)>;

/// Our side of each scenario.
struct nats_bench_ours {
  nats_bench_fn send;
  nats_bench_fn send_sync_rtt;
  nats_bench_fn fan_out_8;
  nats_bench_fn cluster_send;
  nats_bench_fn failover_kill;
  nats_bench_fn failover_hang;
};

/// Defined in bench/nats_bench_ours.cpp (built with the nats type only).
nats_bench_ours make_nats_bench_ours();

}  // namespace beehive::bench
