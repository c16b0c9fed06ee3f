// SPDX-License-Identifier: Apache-2.0
// The registry's scale (issue 11): what adding and removing modules costs, and what it costs a
// send that runs meanwhile.
//
// Usage: registry_bench NAME...   runs those scenarios, one JSON line each;
//        registry_bench --list    prints the names it knows.
//
// registry_add_100k: adds 100,000 channel modules to a context, one `add_module` call each,
//   then sends one message to every 100th (checks routing) and cleans every one up. Key
//   `seconds`: the adds alone (target <= 1).
// send_under_churn: 1 producer -> 1 consumer through a context that holds 50,000 modules, in
//   alternating phases of 1M messages: quiet, then while a third thread adds 1,000 new modules
//   per second (each joins a group) and cleans up 1,000 per second (each leaves its group):
//   3,000 routing publications per second. Five rounds of a quiet then a churn phase of 500k
//   messages each. Key `vs_quiet`: the median over the rounds of the churn phase's rate over
//   the quiet phase's rate, in the same process (target >= 0.9). Each phase also runs the same
//   sends and receives on one thread (`vs_quiet_1t`): with two threads on two vCPUs the rate
//   follows where the scheduler puts them, which a third thread waking every millisecond
//   changes (it can make the churn phase faster); on one thread only the churn's cost remains.

#include <time.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "beehive/beehive.hpp"
#include "bench_util.hpp"

namespace {

using namespace std::chrono_literals;
using beehive::bench::clock;
using beehive::bench::json;
using beehive::bench::round_to;
using beehive::bench::seconds_since;

// CPU time of the calling thread, in seconds: what the machine's other load cannot inflate.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

beehive::module_info mod(std::string name, std::size_t capacity) {
  beehive::module_info i;
  i.name = std::move(name);
  i.inbox.capacity = capacity;
  return i;
}

json registry_add_100k() {
  constexpr int n = 100'000;
  beehive::context ctx;
  std::uint64_t errors = 0;
  std::vector<std::string> names;
  names.reserve(n);
  for (int i = 0; i < n; ++i) names.push_back("module_" + std::to_string(i));
  const double cpu0 = thread_cpu_seconds();
  const auto t0 = clock::now();
  for (const auto& name : names) {
    if (!ctx.add_module(mod(name, 4))) ++errors;
  }
  const double add_s = seconds_since(t0);
  const double add_cpu_s = thread_cpu_seconds() - cpu0;
  for (int i = 0; i < n; i += 100) {
    if (!ctx.send(names[static_cast<std::size_t>(i)], beehive::new_message())) ++errors;
  }
  const auto t1 = clock::now();
  for (const auto& name : names) {
    if (!ctx.cleanup(name)) ++errors;
  }
  const double cleanup_s = seconds_since(t1);
  json out;
  out["modules"] = n;
  out["errors"] = errors;
  out["seconds"] = round_to(add_s, 4);
  out["us_per_add"] = round_to(add_s * 1e6 / n, 2);
  out["add_cpu_s"] = round_to(add_cpu_s, 4);
  out["cleanup_seconds"] = round_to(cleanup_s, 4);
  return out;
}

// One phase: `msgs` messages from a producer thread to a consumer thread; messages per second.
double one_to_one(beehive::context& ctx, std::uint64_t msgs, std::uint64_t& errors) {
  std::atomic<std::uint64_t> got{0};
  std::thread consumer([&] {
    for (std::uint64_t i = 0; i < msgs; ++i) {
      auto m = ctx.receive_for("consumer", 20s);
      if (!m) break;
      ++got;
    }
  });
  const auto t0 = clock::now();
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < msgs; ++i) {
      if (!ctx.send("consumer", beehive::new_message())) ++errors;
    }
  });
  producer.join();
  consumer.join();
  const double s = seconds_since(t0);
  errors += msgs - got.load();
  return static_cast<double>(msgs) / s;
}

// The same path on one thread: batches of 512 sends, then 512 receives; messages per second.
// No hand-off between threads, so the scheduler's placement of two threads on the CPUs does
// not enter: what is left is what the churn costs a send and a receive.
double one_thread(beehive::context& ctx, std::uint64_t msgs, std::uint64_t& errors) {
  constexpr std::uint64_t batch = 512;
  const auto t0 = clock::now();
  for (std::uint64_t done = 0; done < msgs; done += batch) {
    for (std::uint64_t i = 0; i < batch; ++i) {
      if (!ctx.send("consumer", beehive::new_message())) ++errors;
    }
    for (std::uint64_t i = 0; i < batch; ++i) {
      if (!ctx.receive("consumer")) ++errors;
    }
  }
  return static_cast<double>(msgs) / seconds_since(t0);
}

json send_under_churn() {
  constexpr int modules = 50'000;
  constexpr std::uint64_t msgs = 500'000;
  constexpr int rounds = 5;
  constexpr int per_second = 1000;
  constexpr int alive = 500;  // churned modules alive at once
  beehive::context ctx;
  std::uint64_t errors = 0;
  for (int i = 0; i < modules; ++i) {
    if (!ctx.add_module(mod("module_" + std::to_string(i), 4))) ++errors;
  }
  if (!ctx.add_module(mod("consumer", 1024))) ++errors;

  std::vector<double> quiet;
  std::vector<double> churn;
  std::vector<double> ratio;
  std::vector<double> quiet_1t;
  std::vector<double> churn_1t;
  std::vector<double> ratio_1t;
  std::uint64_t changes = 0;
  double churn_s = 0;
  double churn_cpu_s = 0;
  for (int r = 0; r < rounds; ++r) {
    quiet.push_back(one_to_one(ctx, msgs, errors));
    quiet_1t.push_back(one_thread(ctx, msgs, errors));
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> churn_errors{0};
    std::thread churner([&, r] {
      const double cpu0 = thread_cpu_seconds();
      auto next = clock::now();
      const auto start = next;
      for (int k = 0; !stop.load(std::memory_order_relaxed); ++k) {
        const auto name = "churn_" + std::to_string(r) + "_" + std::to_string(k);
        if (!ctx.add_module(mod(name, 4))) ++churn_errors;
        if (!ctx.add_module_group(name, "churn")) ++churn_errors;
        if (k >= alive) {
          const auto old = "churn_" + std::to_string(r) + "_" + std::to_string(k - alive);
          if (!ctx.cleanup(old)) ++churn_errors;
        }
        changes += 2;
        next += std::chrono::microseconds(1'000'000 / per_second);
        std::this_thread::sleep_until(next);
      }
      churn_s += seconds_since(start);
      churn_cpu_s += thread_cpu_seconds() - cpu0;
    });
    churn.push_back(one_to_one(ctx, msgs, errors));
    churn_1t.push_back(one_thread(ctx, msgs, errors));
    stop = true;
    churner.join();
    errors += churn_errors.load();
    ratio.push_back(churn.back() / quiet.back());
    ratio_1t.push_back(churn_1t.back() / quiet_1t.back());
  }
  json out;
  out["modules"] = modules;
  out["msgs_per_phase"] = msgs;
  out["rounds"] = rounds;
  out["errors"] = errors;
  out["quiet_msgs_per_s"] = round_to(median(quiet), 0);
  out["churn_msgs_per_s"] = round_to(median(churn), 0);
  out["vs_quiet"] = round_to(median(ratio), 3);
  out["quiet_1t_msgs_per_s"] = round_to(median(quiet_1t), 0);
  out["churn_1t_msgs_per_s"] = round_to(median(churn_1t), 0);
  out["vs_quiet_1t"] = round_to(median(ratio_1t), 3);
  out["module_changes_per_s"] = round_to(static_cast<double>(changes) / churn_s, 0);
  out["churn_thread_cpu_percent"] = round_to(100 * churn_cpu_s / churn_s, 2);
  return out;
}

const std::vector<beehive::bench::scenario>& scenarios() {
  static const std::vector<beehive::bench::scenario> all = {
      {"registry_add_100k", "add 100,000 modules one at a time, then clean them up",
       registry_add_100k},
      {"send_under_churn",
       "1 -> 1 sends at 50,000 modules, quiet vs. 1,000 adds + 1,000 removes per second",
       send_under_churn},
  };
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  return beehive::bench::run_named(argc, argv, scenarios(), std::chrono::seconds(300));
}
