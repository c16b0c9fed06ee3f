// SPDX-License-Identifier: Apache-2.0
//
// The cost of the global context's routing: `send` through `beehive::context` against `send`
// on the `channel_context` directly, same inbox work (drop_oldest, so a send never blocks and
// no consumer is needed). With 2 threads each sends to its own module, so any cross-core write
// on the routing lookup would show as a gap between the two.

#include <benchmark/benchmark.h>

#include <beehive/beehive.hpp>
#include <string>

namespace {

beehive::module_info sink(std::string name) {
  beehive::module_info info;
  info.name = std::move(name);
  info.inbox.capacity = 4096;
  info.inbox.overflow = beehive::overflow_policy::drop_oldest;
  return info;
}

std::string module_of(const benchmark::State& state) {
  return "sink" + std::to_string(state.thread_index());
}

beehive::context& shared_context() {
  static beehive::context* ctx = [] {
    auto* c = new beehive::context;  // lives for the whole run
    for (int i = 0; i < 4; ++i) (void)c->add_module(sink("sink" + std::to_string(i)));
    // Some other modules, so that the lookup is not in a one-entry table.
    for (int i = 0; i < 60; ++i) (void)c->add_module(sink("other" + std::to_string(i)));
    return c;
  }();
  return *ctx;
}

void BM_send_via_context(benchmark::State& state) {
  auto& ctx = shared_context();
  const std::string module = module_of(state);
  const auto msg = beehive::new_message().fill_body("payload");
  for (auto _ : state) {
    auto r = ctx.send(module, msg);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_send_via_channel_context(benchmark::State& state) {
  auto& ch = shared_context().channel();
  const std::string module = module_of(state);
  const auto msg = beehive::new_message().fill_body("payload");
  for (auto _ : state) {
    auto r = ch.send(module, msg);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// What a by-value virtual hop costs by itself: one more move and one more destruction.
void BM_message_copy(benchmark::State& state) {
  const auto msg = beehive::new_message().fill_body("payload");
  for (auto _ : state) {
    beehive::message a = msg;
    benchmark::DoNotOptimize(a);
  }
}

void BM_message_copy_and_move(benchmark::State& state) {
  const auto msg = beehive::new_message().fill_body("payload");
  for (auto _ : state) {
    beehive::message a = msg;
    beehive::message b(std::move(a));
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
}

BENCHMARK(BM_message_copy);
BENCHMARK(BM_message_copy_and_move);
BENCHMARK(BM_send_via_context)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_send_via_channel_context)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
