// SPDX-License-Identifier: Apache-2.0
// Direct measurements of `beehive::channel_context` (no global context in between), for tuning
// the inbox and the reply table. One JSON line per scenario.
//
// Usage: channel_bench [NAME...]   (1p1c_new 1p1c_prebuilt 4p1c_new rtt fan_out_8 group_sync_8)

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "beehive/channel_context.hpp"
#include "bench_util.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

void tag(beehive::message& m, std::uint64_t seq) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), seq);
  (void)ec;
  m.header.resource_version.assign(buf.data(), end);
}

beehive::module_info mod(std::string name) {
  beehive::module_info info;
  info.name = std::move(name);
  return info;
}

void np1c(const char* name, std::size_t producers, std::uint64_t total, bool prebuilt) {
  beehive::channel_context ctx;
  (void)ctx.add_module(mod("consumer"));
  const std::uint64_t per = total / producers;
  std::latch ready(static_cast<std::ptrdiff_t>(producers + 2));
  std::uint64_t got = 0;
  std::uint64_t errors = 0;
  std::thread consumer([&] {
    ready.arrive_and_wait();
    for (std::uint64_t i = 0; i < per * producers; ++i) {
      auto r = ctx.receive("consumer");
      if (!r) {
        ++errors;
        break;
      }
      ++got;
    }
  });
  std::vector<std::thread> ts;
  for (std::size_t p = 0; p < producers; ++p) {
    ts.emplace_back([&, p] {
      const auto src = "p" + std::to_string(p);
      const auto proto = beehive::new_message().build_router(src, "bench", "resource", "insert");
      ready.arrive_and_wait();
      for (std::uint64_t s = 0; s < per; ++s) {
        beehive::message m;
        if (prebuilt) {
          m = proto;
        } else {
          m = beehive::new_message();
          m.build_router(src, "bench", "resource", "insert");
        }
        tag(m, s);
        (void)ctx.send("consumer", std::move(m));
      }
    });
  }
  ready.arrive_and_wait();
  const double cpu0 = beehive::bench::cpu_seconds();
  const auto t0 = clock_type::now();
  for (auto& t : ts) t.join();
  consumer.join();
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  const double cpu = beehive::bench::cpu_seconds() - cpu0;
  std::printf(
      "{\"scenario\":\"%s\",\"msgs\":%llu,\"errors\":%llu,\"msgs_per_s\":%.0f,"
      "\"cpu_ns_per_msg\":%.1f}\n",
      name, static_cast<unsigned long long>(got), static_cast<unsigned long long>(errors),
      static_cast<double>(got) / secs, cpu * 1e9 / static_cast<double>(got));
}

void rtt(std::uint64_t calls) {
  beehive::channel_context ctx;
  (void)ctx.add_module(mod("dst"));
  std::thread responder([&] {
    for (;;) {
      auto r = ctx.receive("dst");
      if (!r) return;
      (void)ctx.send_resp(beehive::new_resp_by_message(*r, {}));
    }
  });
  std::vector<double> us;
  us.reserve(calls);
  std::uint64_t errors = 0;
  const double cpu0 = beehive::bench::cpu_seconds();
  for (std::uint64_t i = 0; i < calls; ++i) {
    const auto t0 = clock_type::now();
    auto r = ctx.send_sync("dst", beehive::new_message(), std::chrono::seconds(1));
    const auto t1 = clock_type::now();
    if (!r) ++errors;
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  const double cpu = beehive::bench::cpu_seconds() - cpu0;
  (void)ctx.cleanup("dst");
  responder.join();
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    return us[static_cast<std::size_t>(p * static_cast<double>(us.size() - 1))];
  };
  std::printf(
      "{\"scenario\":\"rtt\",\"calls\":%llu,\"errors\":%llu,\"p50_us\":%.2f,\"p99_us\":%.2f,"
      "\"p999_us\":%.2f,\"cpu_us_per_call\":%.2f,\"orphans\":%llu}\n",
      static_cast<unsigned long long>(calls), static_cast<unsigned long long>(errors), pct(0.5),
      pct(0.99), pct(0.999), cpu * 1e6 / static_cast<double>(calls),
      static_cast<unsigned long long>(ctx.orphan_responses()));
}

void fan_out(std::size_t members, std::uint64_t broadcasts) {
  beehive::channel_context ctx;
  std::vector<std::thread> ts;
  std::atomic<std::uint64_t> got{0};
  for (std::size_t i = 0; i < members; ++i) {
    const auto n = "m" + std::to_string(i);
    (void)ctx.add_module(mod(n));
    (void)ctx.add_module_group(n, "g");
  }
  std::latch ready(static_cast<std::ptrdiff_t>(members + 1));
  for (std::size_t i = 0; i < members; ++i) {
    ts.emplace_back([&, i] {
      const auto n = "m" + std::to_string(i);
      ready.arrive_and_wait();
      std::uint64_t mine = 0;
      for (std::uint64_t k = 0; k < broadcasts; ++k) {
        if (!ctx.receive(n)) break;
        ++mine;
      }
      got += mine;
    });
  }
  ready.arrive_and_wait();
  const double cpu0 = beehive::bench::cpu_seconds();
  const auto t0 = clock_type::now();
  std::uint64_t errors = 0;
  for (std::uint64_t k = 0; k < broadcasts; ++k) {
    auto m = beehive::new_message().build_router("src", "g", "resource", "insert");
    tag(m, k);
    auto d = ctx.send_to_group("g", std::move(m));
    if (!d || d->delivered != members) ++errors;
  }
  for (auto& t : ts) t.join();
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  const double cpu = beehive::bench::cpu_seconds() - cpu0;
  std::printf(
      "{\"scenario\":\"fan_out_%zu\",\"deliveries\":%llu,\"errors\":%llu,"
      "\"deliveries_per_s\":%.0f,\"cpu_ns_per_delivery\":%.1f}\n",
      members, static_cast<unsigned long long>(got.load()), static_cast<unsigned long long>(errors),
      static_cast<double>(got.load()) / secs, cpu * 1e9 / static_cast<double>(got.load()));
}

void group_sync(std::size_t members, std::uint64_t ops) {
  beehive::channel_context ctx;
  std::vector<std::thread> ts;
  for (std::size_t i = 0; i < members; ++i) {
    const auto n = "m" + std::to_string(i);
    (void)ctx.add_module(mod(n));
    (void)ctx.add_module_group(n, "g");
    ts.emplace_back([&ctx, n] {
      for (;;) {
        auto r = ctx.receive(n);
        if (!r) return;
        (void)ctx.send_resp(beehive::new_resp_by_message(*r, {}));
      }
    });
  }
  std::uint64_t incomplete = 0;
  const double cpu0 = beehive::bench::cpu_seconds();
  const auto t0 = clock_type::now();
  for (std::uint64_t k = 0; k < ops; ++k) {
    auto r = ctx.send_to_group_sync("g", beehive::new_message(), std::chrono::seconds(1));
    if (!r || !r->complete()) ++incomplete;
  }
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  const double cpu = beehive::bench::cpu_seconds() - cpu0;
  for (std::size_t i = 0; i < members; ++i) (void)ctx.cleanup("m" + std::to_string(i));
  for (auto& t : ts) t.join();
  std::printf(
      "{\"scenario\":\"group_sync_%zu\",\"ops\":%llu,\"incomplete\":%llu,\"ops_per_s\":%.0f,"
      "\"cpu_us_per_op\":%.2f}\n",
      members, static_cast<unsigned long long>(ops), static_cast<unsigned long long>(incomplete),
      static_cast<double>(ops) / secs, cpu * 1e6 / static_cast<double>(ops));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names(argv + 1, argv + argc);
  if (names.empty()) {
    names = {"1p1c_new", "1p1c_prebuilt", "4p1c_new", "rtt", "fan_out_8", "group_sync_8"};
  }
  for (const auto& n : names) {
    if (n == "1p1c_new") np1c("1p1c_new", 1, 2'000'000, false);
    if (n == "1p1c_prebuilt") np1c("1p1c_prebuilt", 1, 2'000'000, true);
    if (n == "4p1c_new") np1c("4p1c_new", 4, 2'000'000, false);
    if (n == "rtt") rtt(200'000);
    if (n == "fan_out_8") fan_out(8, 200'000);
    if (n == "group_sync_8") group_sync(8, 50'000);
  }
}
