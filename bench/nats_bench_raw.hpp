// SPDX-License-Identifier: Apache-2.0
#pragma once

// The raw side of each NATS scenario (bench/nats_bench.cpp): nats.c doing the work by hand on
// the scenario's servers. Each returns its figures under `raw_*` keys.

#include <cstddef>

#include "nats_bench.hpp"

namespace beehive::bench {

/// 1 -> `fan` subscriber connections through node 0, `p.messages` records of `p.record_bytes`:
/// raw_msgs_per_s (fan 1) or raw_deliveries_per_s, raw_lost, raw_dropped, raw_errors,
/// raw_cpu_ns_per_msg.
json raw_send(test::nats_servers& servers, const nats_bench_params& p, std::size_t fan);
/// Request/reply round trips (SendAsap on the responder): raw_p50_us, raw_p99_us, ...;
/// raw_no_send_asap_p50_us from 2k calls without it.
json raw_send_sync_rtt(test::nats_servers& servers, const nats_bench_params& p);
/// Node 0 -> node 2, a consumer working `p.consumer_work_ns` per record; with `window`, a
/// credit window of `p.credit_window` records (granted every half).
json raw_cluster_send(test::nats_servers& servers, const nats_bench_params& p, bool window);
/// A requester on node 0 calling a responder on node 2 every ms; node 0 is SIGKILLed
/// (`hang`: SIGSTOPped): raw_failover_ms to the first call that succeeds.
json raw_failover(test::nats_servers& servers, bool hang);

}  // namespace beehive::bench
