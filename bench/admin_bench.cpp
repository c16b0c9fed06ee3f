// SPDX-License-Identifier: Apache-2.0
//
// Usage: admin_bench NAME...   the admin API's scenarios, one JSON line each:
//   tap_attached          1 -> 1 prebuilt sends with a tap on the destination (a reader drains
//                         it, as the admin's tap stream does), against the same run without a
//                         tap, alternated 5 times in this process: key vs_no_tap (median rates);
//                         cpu_vs_no_tap: the sender thread's CPU per message, without / with.
//   metrics_scrape_1000   1,000 modules: one /metrics render (admin::metrics_text), key ms
//                         (median of 20).
//   stats_1000            1,000 modules: `beehive stats --json` end to end (a process started,
//                         connecting over the admin unix socket, printing the JSON), key ms
//                         (median of 10).
// Every scenario counts what it measured: messages lost, renders that miss a module, or a
// command that failed are errors.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <beehive/admin.hpp>
#include <beehive/beehive.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "core/context_state.hpp"

extern char** environ;

#ifndef BEEHIVE_COMMAND
#define BEEHIVE_COMMAND ""  // built without the apps: stats_1000 reports an error
#endif

namespace {

using beehive::bench::json;
using beehive::bench::round_to;
using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

beehive::module_info module(std::string name) {
  beehive::module_info m;
  m.name = std::move(name);
  return m;
}

// CPU time of the calling thread (not counting time other processes took from it).
double thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// One 1 -> 1 run of `n` copies of a prebuilt message; messages per second (0 when some got lost).
// `sender_cpu_ns` gets the sender thread's CPU time per message.
double one_to_one(beehive::context& ctx, std::uint64_t n, std::uint64_t& errors,
                  double& sender_cpu_ns) {
  std::atomic<std::uint64_t> got{0};
  std::thread consumer([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!ctx.receive_for("consumer", std::chrono::seconds(10))) break;
      got.fetch_add(1, std::memory_order_relaxed);
    }
  });
  const auto msg = beehive::new_message().build_router("producer", "bench", "resource", "insert");
  const auto t0 = clock_type::now();
  const double cpu0 = thread_cpu_ns();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (!ctx.send("consumer", msg)) ++errors;
  }
  sender_cpu_ns = (thread_cpu_ns() - cpu0) / static_cast<double>(n);
  consumer.join();
  const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (got.load() != n) errors += n - got.load();
  return static_cast<double>(n) / s;
}

json tap_attached() {
  constexpr std::uint64_t n = 1'000'000;
  constexpr int rounds = 5;
  std::uint64_t errors = 0;
  beehive::context ctx;
  if (!ctx.add_module(module("consumer")) || !ctx.add_module(module("producer"))) ++errors;
  auto& hub = beehive::detail::context_state_of(ctx).tap;
  std::vector<double> bare;
  std::vector<double> tapped;
  std::vector<double> bare_cpu;
  std::vector<double> tapped_cpu;
  double cpu = 0;
  std::uint64_t seen = 0;
  std::uint64_t dropped = 0;
  for (int r = 0; r < rounds; ++r) {
    bare.push_back(one_to_one(ctx, n, errors, cpu));
    bare_cpu.push_back(cpu);
    auto sub = hub.attach({beehive::detail::tap_scope::module, "consumer"}, 4096);
    std::atomic<bool> stop{false};
    std::thread reader([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        seen += sub->take_for(std::chrono::milliseconds(50)).size();
      }
    });
    tapped.push_back(one_to_one(ctx, n, errors, cpu));
    tapped_cpu.push_back(cpu);
    stop = true;
    reader.join();
    dropped += sub->dropped();
    if (sub->delivered() + sub->dropped() != n) ++errors;  // every copy queued or counted
    hub.detach(sub);
  }
  json out;
  out["msgs"] = n;
  out["rounds"] = rounds;
  out["no_tap_msgs_per_s"] = round_to(median(bare), 0);
  out["tap_msgs_per_s"] = round_to(median(tapped), 0);
  out["vs_no_tap"] = round_to(median(tapped) / median(bare), 3);
  // The sender's CPU per message, without and with the tap: what the tap costs the sender,
  // insensitive to the time other processes take from this one.
  out["no_tap_sender_cpu_ns"] = round_to(median(bare_cpu), 1);
  out["tap_sender_cpu_ns"] = round_to(median(tapped_cpu), 1);
  out["cpu_vs_no_tap"] = round_to(median(bare_cpu) / median(tapped_cpu), 3);
  out["tap_copies_read"] = seen;
  out["tap_copies_dropped"] = dropped;
  out["errors"] = errors;
  return out;
}

// A context with 1,000 modules (each with a message queued, in a group of 10) and its admin API.
struct thousand {
  explicit thousand(const std::string& address) {
    for (int i = 0; i < 1000; ++i) {
      const std::string name = "module" + std::to_string(i);
      if (!ctx.add_module(module(name)) ||
          !ctx.add_module_group(name, "group" + std::to_string(i % 100)) ||
          !ctx.send(name, beehive::new_message())) {
        ++errors;
      }
    }
    beehive::admin_options o;
    o.address = address;
    auto a = beehive::start_admin(ctx, o);
    if (a) {
      admin = std::move(*a);
    } else {
      ++errors;
    }
  }
  beehive::context ctx;
  std::unique_ptr<beehive::admin> admin;
  std::uint64_t errors = 0;
};

json metrics_scrape_1000() {
  thousand t("127.0.0.1:0");
  std::vector<double> ms;
  std::size_t bytes = 0;
  for (int i = 0; i < 20 && t.admin; ++i) {
    const auto t0 = clock_type::now();
    const std::string text = t.admin->metrics_text();
    ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    bytes = text.size();
    if (text.find("beehive_inbox_depth{module=\"module999\"} 1") == std::string::npos) ++t.errors;
  }
  json out;
  out["modules"] = 1000;
  out["ms"] = round_to(median(ms), 2);
  out["max_ms"] = round_to(ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()), 2);
  out["bytes"] = bytes;
  out["errors"] = t.errors;
  return out;
}

json stats_1000() {
  char tmpl[] = "/tmp/beehive-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string sock = dir + "/admin.sock";
  std::vector<double> ms;
  std::uint64_t errors = 0;
  {
    thousand t("unix:" + sock);
    errors += t.errors;
    const std::string out_file = dir + "/stats.json";
    std::string exe = BEEHIVE_COMMAND;
    std::string a1 = "--admin", a2 = "unix:" + sock, a3 = "stats", a4 = "--json";
    char* argv[] = {exe.data(), a1.data(), a2.data(), a3.data(), a4.data(), nullptr};
    for (int i = 0; i < 10 && t.admin; ++i) {
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                       0644);
      pid_t pid = 0;
      const auto t0 = clock_type::now();
      if (::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, environ) != 0) {
        ++errors;
        posix_spawn_file_actions_destroy(&fa);
        break;
      }
      int status = 0;
      ::waitpid(pid, &status, 0);
      ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
      posix_spawn_file_actions_destroy(&fa);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++errors;
      std::ifstream in(out_file);
      const auto j = nlohmann::json::parse(in, nullptr, false);
      if (j.is_discarded() || j["modules"].size() != 1000) ++errors;
    }
  }
  std::filesystem::remove_all(dir);
  json out;
  out["modules"] = 1000;
  out["ms"] = round_to(median(ms), 2);
  out["max_ms"] = round_to(ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()), 2);
  out["errors"] = errors;
  return out;
}

const std::vector<beehive::bench::scenario>& scenarios() {
  static const std::vector<beehive::bench::scenario> all = {
      {"tap_attached", "1 -> 1 prebuilt sends with a tap on the destination vs none", tap_attached},
      {"metrics_scrape_1000", "one /metrics render for 1,000 modules", metrics_scrape_1000},
      {"stats_1000", "`beehive stats --json` for 1,000 modules, end to end", stats_1000},
  };
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  return beehive::bench::run_named(argc, argv, scenarios(), std::chrono::seconds(180));
}
