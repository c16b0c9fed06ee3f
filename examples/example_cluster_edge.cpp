// SPDX-License-Identifier: Apache-2.0
// An edge process of scripts/example-cluster: hosts module NAME (type nats, group "edges") on
// the leaf node and calls every 200 ms: send_sync to "cloud" (fails at once with not_connected
// while the leaf is cut off) and to the other edge (works through the leaf alone). Prints its
// tally per phase at SIGTERM ("summary:" lines).
//
//   BEEHIVE_NATS_CONFIG=edge.yaml example_cluster_edge edge-1
#include <chrono>
#include <cstdio>
#include <string>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "example_cluster_common.hpp"

int main(int argc, char** argv) {
  const std::string me = argc > 1 ? argv[1] : "edge-1";
  const std::string other = me == "edge-1" ? "edge-2" : "edge-1";
  beehive::signal_waiter signals;
  beehive::context ctx;
  auto nats = demo::join(ctx);
  if (auto r = ctx.add_module({.name = me, .type = "nats", .remote = false, .inbox = {}}); !r) {
    std::fprintf(stderr, "add %s: %s\n", me.c_str(), r.error().message().c_str());
    return 2;
  }
  (void)ctx.add_module_group(me, "edges");
  auto answering = demo::responder(ctx, me);
  std::printf("%s: process %s on %s\n", me.c_str(), nats->process_id().c_str(),
              nats->connected_url().c_str());
  std::fflush(stdout);
  demo::tally t;
  for (;;) {
    if (signals.wait_for(std::chrono::milliseconds(200)).has_value()) break;
    demo::call(ctx, t, me, "cloud");
    demo::call(ctx, t, me, other);
  }
  t.print(me);
  demo::print_stats(me, nats->stats());
  (void)ctx.cleanup(me);
  answering.join();
  return 0;
}
