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
//
// The throughput scenarios also count the heap allocations of their measured phase
// (alloc_counter.hpp: `allocs_per_msg`), and run again, in the same process and right after,
// with the same threads, messages and checks over two naive queues instead of the framework
// (baseline_queues.hpp): `vs_bare`, `vs_ring` (1->1) and `vs_lockfree` (N->1, moodycamel's
// queue) are the framework's rate over theirs.

#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>

#include "alloc_counter.hpp"
#include "baseline_queues.hpp"
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

// The capacity of a module's default inbox; the baseline queues get the same.
constexpr std::size_t inbox_capacity = 1024;

using bare_queue = beehive::bench::bare_queue<beehive::message>;
using spsc_ring = beehive::bench::spsc_ring<beehive::message, inbox_capacity>;
using lockfree_queue = beehive::bench::lockfree_queue<beehive::message, inbox_capacity>;

// The sequence number a producer gives each message, so that the consumer can check order.
// It travels in resource_version: a short string (no allocation), a field the library does
// not interpret.
void tag(beehive::message& m, std::uint64_t seq) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), seq);
  (void)ec;
  // (pointer, length): std::string and the library's inline strings both take it.
  m.header.resource_version.assign(buf.data(), static_cast<std::size_t>(end - buf.data()));
}

bool read_tag(const beehive::message& m, std::uint64_t& seq) {
  const auto& rv = m.header.resource_version;
  auto [ptr, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), seq);
  return ec == std::errc{} && ptr == rv.data() + rv.size();
}

// A message id kept by value without allocating (an id has 36 characters, more than a
// std::string holds without allocating), to match a reply's parent id against.
class id_copy {
 public:
  template <class String>
  explicit id_copy(const String& id) : size_(std::min<std::size_t>(id.size(), capacity)) {
    std::memcpy(buf_.data(), id.data(), size_);
  }
  template <class String>
  bool matches(const String& id) const {
    return std::string_view(id.data(), id.size()) == std::string_view(buf_.data(), size_);
  }

 private:
  static constexpr std::size_t capacity = 64;
  std::array<char, capacity> buf_{};
  std::size_t size_;
};

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

double per(std::uint64_t n, std::uint64_t d) {
  return d == 0 ? -1.0 : round_to(static_cast<double>(n) / static_cast<double>(d), 3);
}

// Where a measured phase starts. Every thread of the scenario is created and builds what it
// needs first (its setup), then says so and waits; the caller waits for all of them, takes the
// start snapshot and lets them go. So neither the setup's time nor its allocations count.
class start_gate {
 public:
  struct snapshot {
    std::uint64_t allocs;
    double cpu;
    clock::time_point time;
  };

  explicit start_gate(std::size_t threads) : ready_(static_cast<std::ptrdiff_t>(threads)) {}
  /// In each of the `threads` threads: setup done; returns at the start.
  void arrive_and_wait() {
    ready_.count_down();
    go_.wait();
  }
  /// In the caller: waits for every thread, takes the snapshot, starts the threads.
  snapshot open() {
    ready_.wait();
    const snapshot s{beehive::bench::allocations(), beehive::bench::cpu_seconds(), clock::now()};
    go_.count_down();
    return s;
  }

 private:
  std::latch ready_;
  std::latch go_{1};
};

// What one measured phase (one scenario over one transport) gave.
struct phase_result {
  std::uint64_t received = 0;
  std::uint64_t errors = 0;
  std::uint64_t allocs = 0;  // heap allocations of the whole process in the phase
  double seconds = 0;        // from the start to the last message received
  double send_seconds = 0;   // from the start to the last send returning
  double cpu = 0;            // CPU time of the whole process in the phase

  [[nodiscard]] double rate() const {
    return seconds > 0 ? static_cast<double>(received) / seconds : 0.0;
  }
  // Takes the end snapshot: call when every thread of the phase has been joined.
  void finish(const start_gate::snapshot& start, clock::time_point last) {
    allocs = beehive::bench::allocations() - start.allocs;
    cpu = beehive::bench::cpu_seconds() - start.cpu;
    seconds = std::chrono::duration<double>(last - start.time).count();
  }
};

// Checks that each producer's messages come in order (producer i's source is "p<i>" when there
// are several) and tagged.
class order_check {
 public:
  explicit order_check(std::size_t producers) : next_(producers, 0) {}
  bool operator()(const beehive::message& m) {
    const std::size_t producers = next_.size();
    std::size_t p = 0;
    if (producers > 1) {
      const auto& src = m.route.source;
      p = src.size() >= 2 ? static_cast<std::size_t>(src.data()[1] - '0') : producers;
    }
    if (p >= producers) return false;
    std::uint64_t seq = 0;
    if (!read_tag(m, seq) || seq != next_[p]) {
      next_[p] = seq + 1;
      return false;
    }
    ++next_[p];
    return true;
  }

 private:
  std::vector<std::uint64_t> next_;
};

struct consumer_result {
  std::uint64_t received = 0;
  std::uint64_t errors = 0;  // non-ok receive results, order violations, untagged messages
  clock::time_point last{};
};

// Receives up to `expected` messages with `receive(errors, on_message)` (a transport's,
// below) and checks them.
template <class Receive>
void consume(Receive&& receive, std::uint64_t expected, order_check& check, consumer_result& out,
             beehive::bench::done_flag& done) {
  while (out.received < expected) {
    bool ok = true;
    if (!receive(out.errors, [&](const beehive::message& m) { ok = check(m); })) break;
    if (!ok) ++out.errors;
    ++out.received;
  }
  out.last = clock::now();
  done.set();
}

// --- Transports: what carries a scenario's messages. The scenario's code (threads, messages,
// checks) is the same over each, so that their rates compare. ---

// N producers -> the module "consumer", through the global context (the figures of record).
struct framework_np1c {
  beehive::context& ctx;

  bool send(beehive::message&& m) { return static_cast<bool>(ctx.send("consumer", std::move(m))); }
  template <class OnMessage>
  bool receive(std::uint64_t& errors, OnMessage&& on) {
    auto r = ctx.receive("consumer");
    if (!r) {
      // channel_closed: the scenario gave up waiting (lost messages are counted by the caller).
      if (r.error() != beehive::errc::channel_closed) ++errors;
      return false;
    }
    on(*r);
    return true;
  }
  void give_up() { (void)ctx.cleanup("consumer"); }  // wakes the consumer with channel_closed
};

// N producers -> 1 consumer through a baseline queue (`bare_queue` or `spsc_ring`).
template <class Queue>
struct baseline_np1c {
  Queue& queue;

  bool send(beehive::message&& m) { return queue.push(std::move(m)); }
  template <class OnMessage>
  bool receive(std::uint64_t& /*errors*/, OnMessage&& on) {
    auto m = queue.pop();
    if (!m) return false;  // closed: the scenario gave up waiting
    on(*m);
    return true;
  }
  void give_up() { queue.close(); }
};

// send_to_group to the group "fan" of `names`, through the global context.
struct framework_group {
  beehive::context& ctx;
  const std::vector<std::string>& names;

  // False when the send failed; counts a delivery to fewer than all members in `partial`.
  bool broadcast(beehive::message&& m, std::uint64_t& partial) {
    auto r = ctx.send_to_group("fan", std::move(m));
    if (!r) return false;
    if (r->delivered != names.size() || !r->failed.empty()) ++partial;
    return true;
  }
  template <class OnMessage>
  bool receive(std::size_t member, std::uint64_t& errors, OnMessage&& on) {
    auto r = ctx.receive(names[member]);
    if (!r) {
      if (r.error() != beehive::errc::channel_closed) ++errors;
      return false;
    }
    on(*r);
    return true;
  }
  void give_up(std::size_t member) { (void)ctx.cleanup(names[member]); }
};

// A bare_queue per member; the broadcaster pushes a copy to each (the last member takes the
// original, as send_to_group does).
struct bare_group {
  std::vector<std::unique_ptr<bare_queue>> queues;

  bool broadcast(beehive::message&& m, std::uint64_t& partial) {
    const std::size_t n = queues.size();
    std::size_t delivered = 0;
    for (std::size_t i = 0; i + 1 < n; ++i) {
      if (queues[i]->push(beehive::message(m))) ++delivered;
    }
    if (queues[n - 1]->push(std::move(m))) ++delivered;
    if (delivered != n) ++partial;
    return true;
  }
  template <class OnMessage>
  bool receive(std::size_t member, std::uint64_t& /*errors*/, OnMessage&& on) {
    auto m = queues[member]->pop();
    if (!m) return false;
    on(*m);
    return true;
  }
  void give_up(std::size_t member) { queues[member]->close(); }
};

// --- Scenarios ---

// N producers (sources `names`) -> 1 consumer over `tr`, `per_producer` messages each.
// `prebuilt`: each send is a copy of one prebuilt message; otherwise each send is a fresh
// `new_message()` with a route.
template <class Transport>
phase_result run_np1c(Transport& tr, const std::vector<std::string>& names,
                      std::uint64_t per_producer, bool prebuilt) {
  const std::size_t producers = names.size();
  const std::uint64_t expected = per_producer * producers;
  start_gate gate(producers + 1);
  consumer_result cres;
  beehive::bench::done_flag consumer_done;
  std::vector<std::uint64_t> send_errors(producers, 0);

  std::thread consumer([&] {
    order_check check(producers);
    gate.arrive_and_wait();
    consume([&](std::uint64_t& errors, auto&& on) { return tr.receive(errors, on); }, expected,
            check, cres, consumer_done);
  });
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < producers; ++i) {
    threads.emplace_back([&, i] {
      const beehive::message proto =
          beehive::new_message().build_router(names[i], "bench", "resource", "insert");
      gate.arrive_and_wait();
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
        if (!tr.send(std::move(m))) ++errs;
      }
      send_errors[i] = errs;
    });
  }
  const auto start = gate.open();
  for (auto& t : threads) t.join();
  if (!consumer_done.wait_for(drain_limit)) tr.give_up();
  consumer.join();

  phase_result out;
  out.finish(start, cres.last);
  out.received = cres.received;
  out.errors = cres.errors + (expected - cres.received);
  for (auto e : send_errors) out.errors += e;
  return out;
}

// N producers -> 1 consumer through the framework, then through a bare_queue and (1 -> 1 only)
// through an spsc_ring, one after the other in this process.
json send_np1c(std::size_t producers, std::uint64_t total, bool prebuilt) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < producers; ++i) names.push_back(numbered("p", i));
  const std::uint64_t per_producer = total / producers;
  const std::uint64_t expected = per_producer * producers;

  phase_result ours;
  {
    beehive::context ctx;
    std::uint64_t setup_errors = 0;
    if (!add(ctx, "consumer")) ++setup_errors;
    for (const auto& n : names) {
      if (!add(ctx, n)) ++setup_errors;
    }
    framework_np1c tr{ctx};
    ours = run_np1c(tr, names, per_producer, prebuilt);
    ours.errors += setup_errors;
    (void)ctx.cleanup("consumer");
    for (const auto& n : names) (void)ctx.cleanup(n);
  }
  // BEEHIVE_BENCH_ONLY_OURS=1 skips the baselines (for profiling the framework alone); the
  // ratios then read 1.
  const bool baselines = std::getenv("BEEHIVE_BENCH_ONLY_OURS") == nullptr;
  phase_result bare = ours;
  if (baselines) {
    bare_queue queue(inbox_capacity);
    baseline_np1c<bare_queue> tr{queue};
    bare = run_np1c(tr, names, per_producer, prebuilt);
  }
  // Many producers: moodycamel's lock-free queue, the reference for the inbox's producer side.
  std::optional<phase_result> lockfree;
  if (producers > 1 && baselines) {
    lockfree_queue queue;
    baseline_np1c<lockfree_queue> tr{queue};
    lockfree = run_np1c(tr, names, per_producer, prebuilt);
  }
  std::optional<phase_result> ring;
  if (producers == 1 && !baselines) ring = ours;
  if (producers == 1 && baselines) {
    spsc_ring queue;
    baseline_np1c<spsc_ring> tr{queue};
    ring = run_np1c(tr, names, per_producer, prebuilt);
  }

  json out;
  out["producers"] = producers;
  out["msgs"] = expected;
  out["received"] = ours.received;
  out["errors"] = ours.errors;
  out["seconds"] = round_to(ours.seconds, 4);
  out["msgs_per_s"] = round_to(ours.rate(), 0);
  // CPU time of all threads per message: what the machine's load cannot inflate much.
  out["cpu_ns_per_msg"] = round_to(ours.cpu * 1e9 / static_cast<double>(expected), 1);
  out["allocs_per_msg"] = per(ours.allocs, expected);
  out["bare_msgs_per_s"] = round_to(bare.rate(), 0);
  out["vs_bare"] = round_to(ours.rate() / bare.rate(), 3);
  out["bare_allocs_per_msg"] = per(bare.allocs, expected);
  std::uint64_t baseline_errors = bare.errors;
  if (ring) {
    out["ring_msgs_per_s"] = round_to(ring->rate(), 0);
    out["vs_ring"] = round_to(ours.rate() / ring->rate(), 3);
    out["ring_allocs_per_msg"] = per(ring->allocs, expected);
    baseline_errors += ring->errors;
  }
  if (lockfree) {
    out["lockfree_msgs_per_s"] = round_to(lockfree->rate(), 0);
    out["vs_lockfree"] = round_to(ours.rate() / lockfree->rate(), 3);
    baseline_errors += lockfree->errors;
  }
  out["baseline_errors"] = baseline_errors;
  return out;
}

// One requester, one responder (receive + send_resp); `calls` send_sync round trips.
json send_sync_rtt() {
  constexpr std::uint64_t warmup = 1000;
  constexpr std::uint64_t calls = 200'000;
  beehive::context ctx;
  std::uint64_t errors = 0;
  if (!add(ctx, "requester") || !add(ctx, "responder")) ++errors;

  start_gate gate(2);
  std::atomic<std::uint64_t> resp_errors{0};
  std::thread responder([&] {
    const beehive::content pong("pong");
    gate.arrive_and_wait();
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
  std::thread requester([&] {
    gate.arrive_and_wait();
    for (std::uint64_t i = 0; i < warmup + calls; ++i) {
      beehive::message req =
          beehive::new_message().build_router("requester", "bench", "resource", "query");
      const id_copy id(req.header.id);
      const auto s = clock::now();
      auto reply = ctx.send_sync("responder", std::move(req), 1s);
      const auto e = clock::now();
      if (!reply) {
        ++call_errors;
        if (reply.error() == beehive::errc::timed_out) ++timeouts;
      } else if (!id.matches(reply->header.parent_id)) {
        ++mismatched;
      }
      if (i >= warmup) {
        samples.push_back(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(e - s).count()));
      }
    }
  });
  const auto start = gate.open();
  requester.join();
  const double secs = seconds_since(start.time);
  // The responder may still be finishing its last send_resp: allocations are read after the
  // requester alone (the last reply has arrived, so the responder allocates nothing more).
  const std::uint64_t allocs = beehive::bench::allocations() - start.allocs;
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
  // Per call: a request and its reply, warm-up calls included.
  out["allocs_per_call"] = per(allocs, calls + warmup);
  return out;
}

// send_to_group of `broadcasts` messages to `members` members over `tr`; every member checks
// count and order.
template <class Transport>
phase_result run_fan_out(Transport& tr, std::size_t members, std::uint64_t broadcasts) {
  start_gate gate(members + 1);
  std::vector<consumer_result> res(members);
  std::vector<beehive::bench::done_flag> done(members);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < members; ++i) {
    threads.emplace_back([&, i] {
      order_check check(1);
      gate.arrive_and_wait();
      consume([&](std::uint64_t& errors, auto&& on) { return tr.receive(i, errors, on); },
              broadcasts, check, res[i], done[i]);
    });
  }
  std::uint64_t send_errors = 0, partial = 0;
  std::thread broadcaster([&] {
    // One content shared by every message and every member: a broadcast never copies it.
    const beehive::content body("hello");
    gate.arrive_and_wait();
    for (std::uint64_t s = 0; s < broadcasts; ++s) {
      beehive::message m =
          beehive::new_message().build_router("broadcaster", "fan", "resource", "update");
      m.fill_body(body);
      tag(m, s);
      if (!tr.broadcast(std::move(m), partial)) ++send_errors;
    }
  });
  const auto start = gate.open();
  broadcaster.join();
  const double send_secs = seconds_since(start.time);
  const auto deadline = clock::now() + drain_limit;
  for (std::size_t i = 0; i < members; ++i) {
    if (!done[i].wait_for(std::max(deadline - clock::now(), clock::duration{0}))) {
      tr.give_up(i);
    }
  }
  for (auto& t : threads) t.join();

  phase_result out;
  clock::time_point last = start.time;
  for (auto& r : res) {
    out.received += r.received;
    out.errors += r.errors + (broadcasts - r.received);
    last = std::max(last, r.last);
  }
  out.errors += send_errors + partial;
  out.finish(start, last);
  out.send_seconds = send_secs;
  return out;
}

// send_to_group to `members` members, `broadcasts` times, through the framework, then through
// a bare_queue per member.
json fan_out(std::size_t members, std::uint64_t broadcasts) {
  const std::uint64_t deliveries = members * broadcasts;
  phase_result ours;
  {
    beehive::context ctx;
    std::uint64_t setup_errors = 0;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < members; ++i) {
      names.push_back(numbered("m", i));
      if (!add(ctx, names.back(), "fan")) ++setup_errors;
    }
    if (!add(ctx, "broadcaster")) ++setup_errors;
    framework_group tr{ctx, names};
    ours = run_fan_out(tr, members, broadcasts);
    ours.errors += setup_errors;
    for (auto& n : names) (void)ctx.cleanup(n);
    (void)ctx.cleanup("broadcaster");
  }
  phase_result bare;
  {
    bare_group tr;
    for (std::size_t i = 0; i < members; ++i) {
      tr.queues.push_back(std::make_unique<bare_queue>(inbox_capacity));
    }
    bare = run_fan_out(tr, members, broadcasts);
  }

  json out;
  out["members"] = members;
  out["broadcasts"] = broadcasts;
  out["deliveries"] = ours.received;
  out["errors"] = ours.errors;
  out["seconds"] = round_to(ours.seconds, 4);
  out["send_seconds"] = round_to(ours.send_seconds, 4);
  out["deliveries_per_s"] = round_to(ours.rate(), 0);
  out["cpu_ns_per_delivery"] = round_to(ours.cpu * 1e9 / static_cast<double>(deliveries), 1);
  // Per delivered message (each member's copy is a message).
  out["allocs_per_msg"] = per(ours.allocs, deliveries);
  out["bare_deliveries_per_s"] = round_to(bare.rate(), 0);
  out["vs_bare"] = round_to(ours.rate() / bare.rate(), 3);
  out["bare_allocs_per_msg"] = per(bare.allocs, deliveries);
  out["baseline_errors"] = bare.errors;
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

  start_gate gate(members + 1);
  std::atomic<std::uint64_t> resp_errors{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < members; ++i) {
    threads.emplace_back([&, i] {
      const beehive::content pong("pong");
      gate.arrive_and_wait();
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
  std::thread requester([&] {
    gate.arrive_and_wait();
    const auto end = clock::now() + max_time;
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
  const auto start = gate.open();
  requester.join();
  const double secs = seconds_since(start.time);
  // Read before the members are stopped; a member still finishing its last send_resp may add
  // an allocation or two (out of several per op).
  const std::uint64_t allocs = beehive::bench::allocations() - start.allocs;
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
  // Per op: the request, its copy to each member and their replies.
  out["allocs_per_op"] = per(allocs, ops);
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
  return beehive::bench::run_named(argc, argv, scenarios(), std::chrono::seconds(180));
}
