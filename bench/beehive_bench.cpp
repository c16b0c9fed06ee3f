// SPDX-License-Identifier: Apache-2.0
// The in-process beehive benchmarks: message passing through a `beehive::context` (the global
// context, as users call it) between modules that are threads, plus two micro benchmarks
// (new_message, json_round_trip) on Google Benchmark.
//
// Usage: beehive_bench NAME...   runs those scenarios, one JSON line each, in this process;
//                                names it does not know are ignored silently.
//        beehive_bench --list    prints the names it knows, one per line.
// scripts/bench runs each scenario in its own process, so that peak_rss_kb is per scenario.
//
// Every multi-thread scenario checks what it measured: the consumer counts what it got and
// checks the order (per producer), replies are matched to their request, and every call that
// does not return ok counts in `errors`.

#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <latch>
#include <string_view>
#include <system_error>

#include "beehive/beehive.hpp"
#include "bench_util.hpp"

namespace {

using namespace std::chrono_literals;
using beehive::bench::clock;
using beehive::bench::json;
using beehive::bench::round_to;
using beehive::bench::seconds_since;

// How long a consumer may still wait for messages after every producer has finished before
// the scenario gives up and counts the rest as lost.
constexpr auto drain_limit = 20s;

// The sequence number a producer gives each message, so that the consumer can check order.
// It travels in resource_version: a short string (no allocation), a field the library does
// not interpret.
void tag(beehive::message& m, std::uint64_t seq) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), seq);
  (void)ec;
  m.header.resource_version.assign(buf.data(), end);
}

bool read_tag(const beehive::message& m, std::uint64_t& seq) {
  const auto& rv = m.header.resource_version;
  auto [ptr, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), seq);
  return ec == std::errc{} && ptr == rv.data() + rv.size();
}

// "<prefix><i>". (Not `"p" + std::to_string(i)`: g++ 12 gives a false -Wrestrict on it.)
std::string numbered(std::string_view prefix, std::size_t i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

// Registers `name` (channel type, default inbox: capacity 1024, overflow `block`).
bool add(beehive::context& ctx, const std::string& name, const std::string& group = {}) {
  beehive::module_info info;
  info.name = name;
  if (!ctx.add_module(info)) return false;
  if (!group.empty() && !ctx.add_module_group(name, group)) return false;
  return true;
}

// A consumer module that receives `expected` messages from `producers` producers (each
// producer's source is "p<i>") and checks per-producer order and count.
struct consumer_result {
  std::uint64_t received = 0;
  std::uint64_t errors = 0;  // non-ok receive results, order violations, untagged messages
  clock::time_point last{};
};

void consume(beehive::context& ctx, const std::string& name, std::uint64_t expected,
             std::size_t producers, consumer_result& out, beehive::bench::done_flag& done) {
  std::vector<std::uint64_t> next(producers, 0);
  while (out.received < expected) {
    auto r = ctx.receive(name);
    if (!r) {
      // channel_closed: the scenario gave up waiting (lost messages are counted by the caller).
      if (r.error() != beehive::errc::channel_closed) ++out.errors;
      break;
    }
    std::uint64_t seq = 0;
    const auto& src = r->route.source;
    std::size_t p = 0;
    if (producers > 1) {
      p = src.size() >= 2 ? static_cast<std::size_t>(src[1] - '0') : producers;
    }
    if (p >= producers || !read_tag(*r, seq) || seq != next[p]) {
      ++out.errors;
      if (p < producers) next[p] = seq + 1;
    } else {
      ++next[p];
    }
    ++out.received;
  }
  out.last = clock::now();
  done.set();
}

// N producers -> 1 consumer. `prebuilt`: each send is a copy of one prebuilt message;
// otherwise each send is a fresh `new_message()` with a route.
json send_np1c(std::size_t producers, std::uint64_t total, bool prebuilt) {
  beehive::context ctx;
  std::uint64_t setup_errors = 0;
  if (!add(ctx, "consumer")) ++setup_errors;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < producers; ++i) {
    names.push_back(numbered("p", i));
    if (!add(ctx, names.back())) ++setup_errors;
  }
  const std::uint64_t per_producer = total / producers;
  const std::uint64_t expected = per_producer * producers;

  std::latch ready(static_cast<std::ptrdiff_t>(producers + 2));
  consumer_result cres;
  beehive::bench::done_flag consumer_done;
  std::vector<std::uint64_t> send_errors(producers, 0);

  std::thread consumer([&] {
    ready.arrive_and_wait();
    consume(ctx, "consumer", expected, producers, cres, consumer_done);
  });
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < producers; ++i) {
    threads.emplace_back([&, i] {
      const beehive::message proto =
          beehive::new_message().build_router(names[i], "bench", "resource", "insert");
      ready.arrive_and_wait();
      std::uint64_t errs = 0;
      for (std::uint64_t s = 0; s < per_producer; ++s) {
        beehive::message m;
        if (prebuilt) {
          m = proto;
        } else {
          m = beehive::new_message();
          m.build_router(names[i], "bench", "resource", "insert");
        }
        tag(m, s);
        if (!ctx.send("consumer", std::move(m))) ++errs;
      }
      send_errors[i] = errs;
    });
  }
  ready.arrive_and_wait();
  const double cpu0 = beehive::bench::cpu_seconds();
  const auto t0 = clock::now();
  for (auto& t : threads) t.join();
  if (!consumer_done.wait_for(drain_limit)) {
    (void)ctx.cleanup("consumer");  // wakes the consumer with channel_closed
  }
  consumer.join();
  const double cpu = beehive::bench::cpu_seconds() - cpu0;

  std::uint64_t errors = setup_errors + cres.errors + (expected - cres.received);
  for (auto e : send_errors) errors += e;
  const double secs = std::chrono::duration<double>(cres.last - t0).count();
  json out;
  out["producers"] = producers;
  out["msgs"] = expected;
  out["received"] = cres.received;
  out["errors"] = errors;
  out["seconds"] = round_to(secs, 4);
  out["msgs_per_s"] = round_to(static_cast<double>(cres.received) / secs, 0);
  // CPU time of all threads per message: what the machine's load cannot inflate much.
  out["cpu_ns_per_msg"] = round_to(cpu * 1e9 / static_cast<double>(expected), 1);
  (void)ctx.cleanup("consumer");
  for (auto& n : names) (void)ctx.cleanup(n);
  return out;
}

// One requester, one responder (receive + send_resp); `calls` send_sync round trips.
json send_sync_rtt() {
  constexpr std::uint64_t warmup = 1000;
  constexpr std::uint64_t calls = 200'000;
  beehive::context ctx;
  std::uint64_t errors = 0;
  if (!add(ctx, "requester") || !add(ctx, "responder")) ++errors;

  std::atomic<std::uint64_t> resp_errors{0};
  std::thread responder([&] {
    const beehive::content pong("pong");
    for (;;) {
      auto r = ctx.receive("responder");
      if (!r) {
        if (r.error() != beehive::errc::channel_closed) ++resp_errors;
        break;
      }
      if (!ctx.send_resp(beehive::new_resp_by_message(*r, pong))) ++resp_errors;
    }
  });

  std::vector<std::uint64_t> samples;
  samples.reserve(calls);
  std::uint64_t call_errors = 0, timeouts = 0, mismatched = 0;
  const auto t0 = clock::now();
  std::thread requester([&] {
    for (std::uint64_t i = 0; i < warmup + calls; ++i) {
      beehive::message req =
          beehive::new_message().build_router("requester", "bench", "resource", "query");
      const std::string id = req.header.id.str();
      const auto s = clock::now();
      auto reply = ctx.send_sync("responder", std::move(req), 1s);
      const auto e = clock::now();
      if (!reply) {
        ++call_errors;
        if (reply.error() == beehive::errc::timed_out) ++timeouts;
      } else if (reply->header.parent_id != id) {
        ++mismatched;
      }
      if (i >= warmup) {
        samples.push_back(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(e - s).count()));
      }
    }
  });
  requester.join();
  const double secs = seconds_since(t0);
  (void)ctx.cleanup("responder");
  responder.join();
  (void)ctx.cleanup("requester");

  errors += call_errors + mismatched + resp_errors.load();
  json out;
  out["calls"] = calls;
  out["warmup_calls"] = warmup;
  out["errors"] = errors;
  out["timeouts"] = timeouts;
  out["mismatched_replies"] = mismatched;
  out["calls_per_s"] = round_to(static_cast<double>(calls + warmup) / secs, 0);
  beehive::bench::add_percentiles(out, samples);
  out["orphan_responses"] = ctx.orphan_responses();
  return out;
}

// send_to_group to `members` members, `broadcasts` times; every member checks count and order.
json fan_out(std::size_t members, std::uint64_t broadcasts) {
  beehive::context ctx;
  std::uint64_t errors = 0;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < members; ++i) {
    names.push_back(numbered("m", i));
    if (!add(ctx, names.back(), "fan")) ++errors;
  }
  if (!add(ctx, "broadcaster")) ++errors;

  std::latch ready(static_cast<std::ptrdiff_t>(members + 2));
  std::vector<consumer_result> res(members);
  std::vector<beehive::bench::done_flag> done(members);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < members; ++i) {
    threads.emplace_back([&, i] {
      ready.arrive_and_wait();
      consume(ctx, names[i], broadcasts, 1, res[i], done[i]);
    });
  }
  std::uint64_t send_errors = 0, partial = 0;
  std::thread broadcaster([&] {
    // One content shared by every message and every member: a broadcast never copies it.
    const beehive::content body("hello");
    ready.arrive_and_wait();
    for (std::uint64_t s = 0; s < broadcasts; ++s) {
      beehive::message m =
          beehive::new_message().build_router("broadcaster", "fan", "resource", "update");
      m.fill_body(body);
      tag(m, s);
      auto r = ctx.send_to_group("fan", std::move(m));
      if (!r) {
        ++send_errors;
      } else if (r->delivered != members || !r->failed.empty()) {
        ++partial;
      }
    }
  });
  ready.arrive_and_wait();
  const double cpu0 = beehive::bench::cpu_seconds();
  const auto t0 = clock::now();
  broadcaster.join();
  const double send_secs = seconds_since(t0);
  const auto deadline = clock::now() + drain_limit;
  for (std::size_t i = 0; i < members; ++i) {
    if (!done[i].wait_for(std::max(deadline - clock::now(), clock::duration{0}))) {
      (void)ctx.cleanup(names[i]);
    }
  }
  for (auto& t : threads) t.join();
  const double cpu = beehive::bench::cpu_seconds() - cpu0;

  std::uint64_t delivered = 0;
  clock::time_point last = t0;
  for (auto& r : res) {
    delivered += r.received;
    errors += r.errors + (broadcasts - r.received);
    last = std::max(last, r.last);
  }
  errors += send_errors + partial;
  const double secs = std::chrono::duration<double>(last - t0).count();
  json out;
  out["members"] = members;
  out["broadcasts"] = broadcasts;
  out["deliveries"] = delivered;
  out["errors"] = errors;
  out["seconds"] = round_to(secs, 4);
  out["send_seconds"] = round_to(send_secs, 4);
  out["deliveries_per_s"] = round_to(static_cast<double>(delivered) / secs, 0);
  out["cpu_ns_per_delivery"] = round_to(cpu * 1e9 / static_cast<double>(members * broadcasts), 1);
  for (auto& n : names) (void)ctx.cleanup(n);
  (void)ctx.cleanup("broadcaster");
  return out;
}

// send_to_group_sync to `members` members that each reply; as many ops as fit in
// `max_ops` or `max_time`, whichever ends first.
json group_sync(std::size_t members, std::uint64_t max_ops, std::chrono::seconds max_time) {
  beehive::context ctx;
  std::uint64_t errors = 0;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < members; ++i) {
    names.push_back(numbered("g", i));
    if (!add(ctx, names.back(), "gs")) ++errors;
  }
  if (!add(ctx, "requester")) ++errors;

  std::atomic<std::uint64_t> resp_errors{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < members; ++i) {
    threads.emplace_back([&, i] {
      const beehive::content pong("pong");
      for (;;) {
        auto r = ctx.receive(names[i]);
        if (!r) {
          if (r.error() != beehive::errc::channel_closed) ++resp_errors;
          break;
        }
        if (!ctx.send_resp(beehive::new_resp_by_message(*r, pong))) ++resp_errors;
      }
    });
  }

  std::vector<std::uint64_t> samples;
  samples.reserve(max_ops);
  std::uint64_t ops = 0, call_errors = 0, incomplete = 0, wrong_count = 0;
  const auto t0 = clock::now();
  std::thread requester([&] {
    const auto end = t0 + max_time;
    while (ops < max_ops && clock::now() < end) {
      beehive::message req =
          beehive::new_message().build_router("requester", "gs", "resource", "query");
      const auto s = clock::now();
      auto r = ctx.send_to_group_sync("gs", std::move(req), 1s);
      const auto e = clock::now();
      if (!r) {
        ++call_errors;
      } else if (!r->complete()) {
        ++incomplete;
      } else if (r->replies.size() != members) {
        ++wrong_count;
      }
      samples.push_back(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(e - s).count()));
      ++ops;
    }
  });
  requester.join();
  const double secs = seconds_since(t0);
  for (auto& n : names) (void)ctx.cleanup(n);
  for (auto& t : threads) t.join();
  (void)ctx.cleanup("requester");

  errors += call_errors + incomplete + wrong_count + resp_errors.load();
  json out;
  out["members"] = members;
  out["ops"] = ops;
  out["errors"] = errors;
  out["incomplete"] = incomplete;
  out["ops_per_s"] = round_to(static_cast<double>(ops) / secs, 0);
  beehive::bench::add_percentiles(out, samples);
  out["orphan_responses"] = ctx.orphan_responses();
  return out;
}

// 10 modules blocked in receive for 2 s: the process's CPU time over wall time.
json idle_cpu() {
  constexpr std::size_t modules = 10;
  constexpr auto idle = 2s;
  beehive::context ctx;
  std::uint64_t errors = 0;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < modules; ++i) {
    names.push_back(numbered("idle", i));
    if (!add(ctx, names.back(), "idle")) ++errors;
  }
  std::atomic<std::uint64_t> unexpected{0};
  std::vector<std::thread> threads;
  for (auto& n : names) {
    threads.emplace_back([&ctx, &unexpected, &n] {
      for (;;) {
        auto r = ctx.receive(n);
        if (!r) {
          if (r.error() != beehive::errc::channel_closed) ++unexpected;
          break;
        }
        ++unexpected;  // nobody sends: any message is wrong
      }
    });
  }
  // Let every module reach its blocking wait (a brief spin before blocking is allowed).
  std::this_thread::sleep_for(200ms);
  const double cpu0 = beehive::bench::cpu_seconds();
  const auto t0 = clock::now();
  std::this_thread::sleep_for(idle);
  const double cpu = beehive::bench::cpu_seconds() - cpu0;
  const double wall = seconds_since(t0);
  for (auto& n : names) (void)ctx.cleanup(n);
  for (auto& t : threads) t.join();
  errors += unexpected.load();
  json out;
  out["modules"] = modules;
  out["errors"] = errors;
  out["idle_s"] = round_to(wall, 3);
  out["cpu_ms"] = round_to(cpu * 1e3, 2);
  out["cpu_percent"] = round_to(100.0 * cpu / wall, 3);
  return out;
}

// Diagnostic, not a target: the CPU cost of the send and receive paths without a second thread
// (no contention, no wake-ups, hot caches). One thread sends a batch of 512 copies of a prebuilt
// message (below the inbox capacity), then receives them; send and receive are timed apart.
// The gap between this and the two-thread scenarios is what crossing threads costs.
json send_receive_1t() {
  constexpr std::size_t batch = 512;
  constexpr std::size_t rounds = 4000;
  beehive::context ctx;
  std::uint64_t errors = 0;
  if (!add(ctx, "consumer")) ++errors;
  const beehive::message proto =
      beehive::new_message().build_router("p0", "bench", "resource", "insert");
  std::vector<beehive::message> msgs(batch, proto);
  clock::duration send_time{}, receive_time{};
  for (std::size_t r = 0; r < rounds; ++r) {
    for (auto& m : msgs) m = proto;  // outside the timed parts
    const auto t0 = clock::now();
    for (auto& m : msgs) {
      if (!ctx.send("consumer", std::move(m))) ++errors;
    }
    const auto t1 = clock::now();
    for (auto& m : msgs) {
      auto x = ctx.receive("consumer");
      if (!x) {
        ++errors;
        break;
      }
      m = std::move(*x);
    }
    const auto t2 = clock::now();
    send_time += t1 - t0;
    receive_time += t2 - t1;
  }
  const double n = static_cast<double>(batch * rounds);
  json out;
  out["msgs"] = batch * rounds;
  out["errors"] = errors;
  out["send_ns_per_msg"] =
      round_to(std::chrono::duration<double, std::nano>(send_time).count() / n, 1);
  out["receive_ns_per_msg"] =
      round_to(std::chrono::duration<double, std::nano>(receive_time).count() / n, 1);
  (void)ctx.cleanup("consumer");
  return out;
}

// --- micro benchmarks (Google Benchmark) ---

// Captures the per-repetition real time of the one benchmark registered, instead of printing.
class capture_reporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      if (r.error_occurred) {
        ++errors;
        continue;
      }
      ns_per_op.push_back(r.GetAdjustedRealTime());  // in the benchmark's unit: ns
      cpu_ns_per_op.push_back(r.GetAdjustedCPUTime());
      iterations += static_cast<std::uint64_t>(r.iterations);
    }
  }
  std::vector<double> ns_per_op;
  std::vector<double> cpu_ns_per_op;
  std::uint64_t iterations = 0;
  std::uint64_t errors = 0;
};

// Runs `fn` under Google Benchmark (5 repetitions of at least 0.2 s) and reports the median
// of the repetitions' ns per op (wall time, as the targets are stated) and CPU ns per op.
template <class Fn>
json run_micro(const char* name, Fn&& fn) {
  static int argc = 1;
  static char arg0[] = "beehive_bench";
  static char* argv[] = {arg0, nullptr};
  static bool initialized = false;
  if (!initialized) {
    benchmark::Initialize(&argc, argv);
    initialized = true;
  }
  benchmark::ClearRegisteredBenchmarks();
  benchmark::RegisterBenchmark(name, std::forward<Fn>(fn))
      ->Unit(benchmark::kNanosecond)
      ->MinTime(0.2)
      ->Repetitions(5)
      ->ReportAggregatesOnly(false);
  capture_reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  json out;
  auto v = rep.ns_per_op;
  std::sort(v.begin(), v.end());
  out["iterations"] = rep.iterations;
  out["errors"] = rep.errors;
  out["ns_per_op"] = v.empty() ? -1.0 : round_to(v[v.size() / 2], 1);
  out["ns_per_op_min"] = v.empty() ? -1.0 : round_to(v.front(), 1);
  // The thread's CPU time per op: close to ns_per_op on a quiet machine, and much less
  // inflated than wall time when other processes take the CPU away.
  auto c = rep.cpu_ns_per_op;
  std::sort(c.begin(), c.end());
  out["cpu_ns_per_op"] = c.empty() ? -1.0 : round_to(c[c.size() / 2], 1);
  return out;
}

json new_message_bench() {
  return run_micro("new_message", [](benchmark::State& st) {
    for (auto _ : st) {
      auto m = beehive::new_message();
      benchmark::DoNotOptimize(m);
    }
  });
}

// A record of tests/data/go-beehive-wire-trace.txt (a sync reply, 280 bytes without its '\n').
constexpr std::string_view trace_record =
    R"({"header":{"msg_id":"709147fd-2bfb-49ee-bda7-aef80690d16f","parent_msg_id":"79319fb7-7f78-4be3-91e1-a78d49e4301c","timestamp":1795721459883,"type":"unixpacket"},"route":{"source":"remotemod","destination":"remotemod","operation":"response","resource":"resource"},"content":"pong"})";

beehive::message trace_message() {
  beehive::message m;
  m.build_header("709147fd-2bfb-49ee-bda7-aef80690d16f", "79319fb7-7f78-4be3-91e1-a78d49e4301c",
                 1795721459883);
  m.set_type("unixpacket");
  m.build_router("remotemod", "", "resource", "response");
  m.set_destination("remotemod");
  m.fill_body(beehive::content("pong"));
  return m;
}

// Diagnostic, not a target: one move of a message (the send and receive paths move each
// message several times, so this is a unit of their cost).
json message_move_bench() {
  json out = run_micro("message_move", [](benchmark::State& st) {
    beehive::message a = beehive::new_message().build_router("p0", "bench", "resource", "insert");
    a.fill_body(beehive::content("hello"));
    for (auto _ : st) {
      beehive::message b(std::move(a));
      benchmark::DoNotOptimize(b);
      a = std::move(b);
      benchmark::DoNotOptimize(a);
    }
  });
  // Two moves per iteration.
  out["ns_per_op"] = round_to(out["ns_per_op"].get<double>() / 2, 1);
  out["ns_per_op_min"] = round_to(out["ns_per_op_min"].get<double>() / 2, 1);
  out["cpu_ns_per_op"] = round_to(out["cpu_ns_per_op"].get<double>() / 2, 1);
  out["sizeof_message"] = sizeof(beehive::message);
  return out;
}

json json_round_trip_bench() {
  // Correctness first: the message built as a user would must encode to the Go bytes, and
  // decode back to the same header and route.
  std::uint64_t check_errors = 0;
  const beehive::message msg = trace_message();
  std::string encoded;
  if (auto e = beehive::encode_message(msg, encoded); !e || encoded != trace_record) {
    ++check_errors;
  }
  if (auto d = beehive::decode_message(encoded);
      !d || d->header != msg.header || d->route != msg.route) {
    ++check_errors;
  }
  std::atomic<std::uint64_t> loop_errors{0};
  json out = run_micro("json_round_trip", [&](benchmark::State& st) {
    std::string buf;
    buf.reserve(512);
    std::uint64_t errs = 0;
    for (auto _ : st) {
      buf.clear();
      auto e = beehive::encode_message(msg, buf);
      auto d = beehive::decode_message(buf);
      benchmark::DoNotOptimize(d);
      if (!e || !d) ++errs;
    }
    loop_errors += errs;
  });
  out["errors"] = out["errors"].get<std::uint64_t>() + check_errors + loop_errors.load();
  out["bytes"] = encoded.size();
  out["matches_go_bytes"] = encoded == trace_record;
  return out;
}

const std::vector<beehive::bench::scenario>& scenarios() {
  static const std::vector<beehive::bench::scenario> all = {
      {"send_1p1c_new", "1 producer -> 1 consumer, 2M messages, new_message per send",
       [] { return send_np1c(1, 2'000'000, false); }},
      {"send_1p1c_prebuilt", "1 producer -> 1 consumer, 2M copies of one prebuilt message",
       [] { return send_np1c(1, 2'000'000, true); }},
      {"send_4p1c_new", "4 producers -> 1 consumer, 2M messages in all, new_message per send",
       [] { return send_np1c(4, 2'000'000, false); }},
      {"send_sync_rtt", "200k send_sync round trips, 1 s timeout", send_sync_rtt},
      {"fan_out_8", "send_to_group to 8 members, 200k broadcasts",
       [] { return fan_out(8, 200'000); }},
      {"group_sync_8", "send_to_group_sync to 8 replying members, up to 50k ops or 10 s",
       [] { return group_sync(8, 50'000, 10s); }},
      {"new_message", "new_message(): id and timestamp", new_message_bench},
      {"json_round_trip", "encode + decode a 280-byte message of the Go wire trace",
       json_round_trip_bench},
      {"idle_cpu", "10 modules blocked in receive for 2 s", idle_cpu},
      {"send_receive_1t", "diagnostic: send and receive path cost on one thread", send_receive_1t},
      {"message_move", "diagnostic: one move of a message", message_move_bench},
  };
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (auto a : args) {
    if (a == "--list") {
      for (const auto& s : scenarios()) std::printf("%s\n", s.name);
      return 0;
    }
    if (a == "--help" || a == "-h") {
      std::printf("usage: %s [--list] NAME...\n", argv[0]);
      for (const auto& s : scenarios()) std::printf("  %-20s %s\n", s.name, s.what);
      return 0;
    }
  }
  for (auto a : args) {
    for (const auto& s : scenarios()) {
      if (a == s.name) beehive::bench::run_scenario(s, std::chrono::seconds(180));
    }
  }
  return 0;
}
