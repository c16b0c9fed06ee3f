// SPDX-License-Identifier: Apache-2.0
#pragma once

// Small helpers shared by the benchmark programs: JSON-lines output, resource usage,
// percentiles, a watchdog. Header-only so that every bench/<name>.cpp can use it.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace beehive::bench {

using clock = std::chrono::steady_clock;
/// Keys keep their insertion order so that every line reads scenario first.
using json = nlohmann::ordered_json;

/// Peak resident set of this process so far (getrusage ru_maxrss, KiB on Linux).
inline long peak_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/// User + system CPU time of the whole process (every thread), in seconds.
inline double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

/// Times this process was preempted (involuntary context switches): other load on the machine
/// shows here.
inline long involuntary_switches() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nivcsw;
}

/// The machine's 1-minute load average, so that each line says how busy the machine was.
inline double load_avg_1m() {
  std::ifstream in("/proc/loadavg");
  double v = -1;
  in >> v;
  return v;
}

inline double seconds_since(clock::time_point t0) {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

/// Rounds to `digits` decimals, so that lines stay short and readable.
inline double round_to(double v, int digits) {
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

/// Latency percentiles (in microseconds) of samples given in nanoseconds. Reorders `ns`.
inline void add_percentiles(json& out, std::vector<std::uint64_t>& ns) {
  if (ns.empty()) return;
  auto at = [&](double q) {
    auto k = static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1));
    std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(k), ns.end());
    return static_cast<double>(ns[k]) / 1e3;
  };
  out["p50_us"] = round_to(at(0.50), 2);
  out["p90_us"] = round_to(at(0.90), 2);
  out["p99_us"] = round_to(at(0.99), 2);
  out["p999_us"] = round_to(at(0.999), 2);
  out["max_us"] = round_to(static_cast<double>(*std::max_element(ns.begin(), ns.end())) / 1e3, 2);
}

/// Prints one JSON line and flushes it (a later crash must not eat it).
inline void print_line(const json& line) {
  std::fputs(line.dump().c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

/// Ends the process with an error line when a scenario outlives its limit, so that a library
/// bug (a lost message, a deadlock) shows as a result instead of a hung benchmark run.
class watchdog {
 public:
  watchdog(std::string scenario, std::chrono::seconds limit)
      : thread_([this, scenario = std::move(scenario), limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            json line;
            line["scenario"] = scenario;
            line["errors"] = 1;
            line["error"] = "watchdog: no result after " + std::to_string(limit.count()) + " s";
            line["peak_rss_kb"] = peak_rss_kb();
            print_line(line);
            std::_Exit(3);
          }
        }) {}
  ~watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

/// A one-shot flag a thread raises and another waits for with a bound.
class done_flag {
 public:
  void set() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
  }
  /// True when set before `timeout` expired.
  bool wait_for(std::chrono::nanoseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
};

/// A named scenario: runs in the calling process and returns its JSON line (without the
/// common keys, which `run_scenario` adds).
struct scenario {
  const char* name;
  const char* what;
  std::function<json()> run;
};

/// Runs `s` under a watchdog and prints its line: scenario, the scenario's own keys, then
/// peak_rss_kb, wall_s, cpu_s (user + system of every thread), involuntary_switches and
/// load_avg_1m.
inline void run_scenario(const scenario& s, std::chrono::seconds limit) {
  watchdog dog(s.name, limit);
  const double load = load_avg_1m();
  const double cpu0 = cpu_seconds();
  const long ivcsw0 = involuntary_switches();
  const auto t0 = clock::now();
  json body = s.run();
  const double wall = seconds_since(t0);
  const double cpu = cpu_seconds() - cpu0;
  const long ivcsw = involuntary_switches() - ivcsw0;
  json line;
  line["scenario"] = s.name;
  for (auto& [k, v] : body.items()) line[k] = v;
  if (!line.contains("errors")) line["errors"] = 0;
  line["peak_rss_kb"] = peak_rss_kb();
  line["wall_s"] = round_to(wall, 2);
  line["cpu_s"] = round_to(cpu, 2);
  line["involuntary_switches"] = ivcsw;
  line["load_avg_1m"] = load;
  print_line(line);
}

/// The main of a bench program: `--list` prints the scenarios' names, `--help` what each does;
/// otherwise each scenario named on the command line runs (`run_scenario`, bounded by `limit`).
inline int run_named(int argc, char** argv, const std::vector<scenario>& all,
                     std::chrono::seconds limit) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (auto a : args) {
    if (a == "--list") {
      for (const auto& s : all) std::printf("%s\n", s.name);
      return 0;
    }
    if (a == "--help" || a == "-h") {
      std::printf("usage: %s [--list] NAME...\n", argv[0]);
      for (const auto& s : all) std::printf("  %-20s %s\n", s.name, s.what);
      return 0;
    }
  }
  for (auto a : args) {
    for (const auto& s : all) {
      if (a == s.name) run_scenario(s, limit);
    }
  }
  return 0;
}

}  // namespace beehive::bench
