// SPDX-License-Identifier: Apache-2.0
// NATS benchmarks (JSON lines, as beehive_bench): raw nats.c against the beehive nats type on
// the same servers in the same run. See nats_bench.hpp for the line's keys and how the nats
// type plugs in.
//
// Usage: nats_bench NAME...   (unknown names are ignored; --list prints the names)
//   nats_send                  1 -> 1 through one server, 1M records of 250 bytes
//   nats_send_sync_rtt         20k request/reply round trips (1k warm-up), 1 s timeout
//   nats_fan_out_8             1 -> 8 receivers (8 connections), 200k records
//   nats_cluster_send          node 1 -> node 3 of a 3-node cluster, 1M records, a consumer
//                              doing 1.5 us of work per record (slower than the publisher);
//                              raw uses a credit window of the same size as ours
//   nats_cluster_send_unbounded  the same, raw only, without a window: what core NATS loses
//   nats_failover_kill         time from SIGKILL of the requester's node to its next good call
//   nats_failover_hang         the same with SIGSTOP (found by pings: 1 s x 2)
//
// Raw side: nats_bench_raw.cpp; ours: nats_bench_ours.cpp. This file: the harness (the servers'
// CPU, vs_raw, the scenarios' table).
#include "nats_bench.hpp"

#include <nats/nats.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "nats_bench_raw.hpp"
#include "support/nats_client.hpp"
#include "support/nats_servers.hpp"

namespace beehive::bench {
#ifndef BEEHIVE_BENCH_HAVE_NATS_TYPE
nats_bench_ours make_nats_bench_ours() { return {}; }
#endif
}  // namespace beehive::bench

namespace {

using namespace std::chrono_literals;
using beehive::bench::clock;
using beehive::bench::json;
using beehive::bench::nats_bench_params;
using beehive::bench::raw_cluster_send;
using beehive::bench::raw_failover;
using beehive::bench::raw_send;
using beehive::bench::raw_send_sync_rtt;
using beehive::bench::round_to;
using beehive::test::nats_servers;

// CPU seconds (user + system, every thread) that the servers' processes have used so far,
// from /proc/PID/stat (clock ticks: 10 ms steps, a few per cent of a 1 s run).
double servers_cpu_seconds(const nats_servers& servers) {
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    std::ifstream in("/proc/" + std::to_string(servers.pid(i)) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int f = 1; f <= 13 && rest >> field; ++f) {
      if (f == 12) utime = std::stod(field);
      if (f == 13) stime = std::stod(field);
    }
    total += (utime + stime) / tick;
  }
  return total;
}

// Runs `fn` and adds `key` (nanoseconds of the servers' CPU per record) to its line.
template <class Fn>
json with_server_cpu(const nats_servers& servers, std::uint64_t records, const std::string& key,
                     Fn&& fn) {
  const double before = servers_cpu_seconds(servers);
  json out = fn();
  if (out.is_object()) {
    out[key] =
        round_to((servers_cpu_seconds(servers) - before) * 1e9 / static_cast<double>(records), 1);
  }
  return out;
}

// ---- the scenarios --------------------------------------------------------------------------

// Adds ours (if built) and vs_raw to `line`: `key` is the figure compared, `higher_is_better`
// says whether vs_raw is ours/raw (throughput) or raw/ours (latency).
void add_ours(json& line, const beehive::bench::nats_bench_fn& fn, nats_servers& servers,
              const nats_bench_params& p, const std::string& key, bool higher_is_better) {
  std::uint64_t errors = line.value("raw_errors", std::uint64_t{0});
  if (!fn) {
    line["ours"] = "not built";
  } else {
    json ours = fn(servers, p);
    for (auto& [k, v] : ours.items()) line[k] = v;
    errors += ours.value("errors", std::uint64_t{0});
    const double raw = line.value("raw_" + key, 0.0);
    const double mine = ours.value(key, 0.0);
    if (raw > 0 && mine > 0) {
      line["vs_raw"] = round_to(higher_is_better ? mine / raw : raw / mine, 3);
    }
  }
  line["errors"] = errors;
}

// `fn` (ours), with the servers' CPU per record added to its line as server_cpu_ns_per_msg.
beehive::bench::nats_bench_fn with_servers_cpu_of(const beehive::bench::nats_bench_fn& fn,
                                                  std::uint64_t records) {
  if (!fn) return fn;
  return [fn, records](nats_servers& servers, const nats_bench_params& p) {
    return with_server_cpu(servers, records, "server_cpu_ns_per_msg",
                           [&] { return fn(servers, p); });
  };
}

const beehive::bench::nats_bench_ours& ours() {
  static const auto table = beehive::bench::make_nats_bench_ours();
  return table;
}

// BEEHIVE_NATS_BENCH_SKIP_RAW=1: nats_send and nats_fan_out_8 run ours alone (for profiling;
// no vs_raw).
bool skip_raw() { return std::getenv("BEEHIVE_NATS_BENCH_SKIP_RAW") != nullptr; }

json nats_send() {
  nats_bench_params p;
  p.messages = 1'000'000;
  auto servers = nats_servers::single();
  json line{{"messages", p.messages}, {"record_bytes", p.record_bytes}};
  const json raw = skip_raw() ? json::object()
                              : with_server_cpu(servers, p.messages, "raw_server_cpu_ns_per_msg",
                                                [&] { return raw_send(servers, p, 1); });
  for (const auto& [k, v] : raw.items()) line[k] = v;
  add_ours(line, with_servers_cpu_of(ours().send, p.messages), servers, p, "msgs_per_s", true);
  return line;
}

json nats_send_sync_rtt() {
  nats_bench_params p;
  p.messages = 20'000;
  p.warmup = 1'000;
  auto servers = nats_servers::single();
  json line{{"calls", p.messages}, {"warmup_calls", p.warmup}, {"record_bytes", p.record_bytes}};
  const json raw = raw_send_sync_rtt(servers, p);
  for (const auto& [k, v] : raw.items()) line[k] = v;
  add_ours(line, ours().send_sync_rtt, servers, p, "p50_us", false);
  return line;
}

json nats_fan_out_8() {
  nats_bench_params p;
  p.messages = 200'000;
  p.receivers = 8;
  auto servers = nats_servers::single();
  json line{{"messages", p.messages}, {"receivers", p.receivers}, {"record_bytes", p.record_bytes}};
  const std::uint64_t deliveries = p.messages * p.receivers;
  const json raw = skip_raw() ? json::object()
                              : with_server_cpu(servers, deliveries, "raw_server_cpu_ns_per_msg",
                                                [&] { return raw_send(servers, p, p.receivers); });
  for (const auto& [k, v] : raw.items()) line[k] = v;
  add_ours(line, with_servers_cpu_of(ours().fan_out_8, deliveries), servers, p, "deliveries_per_s",
           true);
  return line;
}

nats_bench_params cluster_params() {
  nats_bench_params p;
  p.messages = 1'000'000;
  p.credit_window = 10'000;
  p.consumer_work_ns = 1'500;
  return p;
}

json nats_cluster_send() {
  const auto p = cluster_params();
  auto servers = nats_servers::cluster(3);
  json line{{"messages", p.messages},
            {"record_bytes", p.record_bytes},
            {"credit_window", p.credit_window},
            {"consumer_work_ns", p.consumer_work_ns}};
  const json raw = raw_cluster_send(servers, p, true);
  for (const auto& [k, v] : raw.items()) line[k] = v;
  add_ours(line, ours().cluster_send, servers, p, "msgs_per_s", true);
  return line;
}

json nats_cluster_send_unbounded() {
  const auto p = cluster_params();
  auto servers = nats_servers::cluster(3);
  json line{{"messages", p.messages},
            {"record_bytes", p.record_bytes},
            {"consumer_work_ns", p.consumer_work_ns}};
  const json raw = raw_cluster_send(servers, p, false);
  for (const auto& [k, v] : raw.items()) line[k] = v;
  line["errors"] = line["raw_errors"];
  return line;
}

json nats_failover(bool hang) {
  auto servers = nats_servers::cluster(3);
  const nats_bench_params p;
  json line{{"fault", hang ? "SIGSTOP" : "SIGKILL"}};
  const json raw = raw_failover(servers, hang);
  for (const auto& [k, v] : raw.items()) line[k] = v;
  // Ours runs on fresh servers: node 0 is down or hung after raw's run.
  auto fresh = nats_servers::cluster(3);
  add_ours(line, hang ? ours().failover_hang : ours().failover_kill, fresh, p, "failover_ms",
           false);
  return line;
}

const std::vector<beehive::bench::scenario>& scenarios() {
  static const std::vector<beehive::bench::scenario> all = {
      {"nats_send", "1 -> 1 through one server, 1M records of 250 bytes", nats_send},
      {"nats_send_sync_rtt", "20k request/reply round trips, 1 s timeout", nats_send_sync_rtt},
      {"nats_fan_out_8", "1 -> 8 receivers through one server, 200k records", nats_fan_out_8},
      {"nats_cluster_send", "node 1 -> node 3, 1M records, slow consumer, credit window",
       nats_cluster_send},
      {"nats_cluster_send_unbounded", "node 1 -> node 3, raw nats.c without a window",
       nats_cluster_send_unbounded},
      {"nats_failover_kill", "calls from node 1 to node 3 while node 1 is SIGKILLed",
       [] { return nats_failover(false); }},
      {"nats_failover_hang", "calls from node 1 to node 3 while node 1 is SIGSTOPped",
       [] { return nats_failover(true); }},
  };
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--list") {
      for (const auto& s : scenarios()) std::printf("%s\n", s.name);
      return 0;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  for (const auto& a : args) {
    for (const auto& s : scenarios()) {
      if (a != s.name) continue;
      beehive::bench::run_scenario({s.name, s.what,
                                    [&s]() -> json {
                                      try {
                                        return s.run();
                                      } catch (const std::exception& e) {
                                        return json{{"errors", 1}, {"error", e.what()}};
                                      }
                                    }},
                                   std::chrono::seconds(180));
    }
  }
  nats_CloseAndWait(5000);
  return 0;
}
