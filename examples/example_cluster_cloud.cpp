// SPDX-License-Identifier: Apache-2.0
// The cloud process of scripts/example-cluster: hosts module "cloud" (type nats) on the hub
// cluster and calls the edge modules every 200 ms: send_sync to each, send_to_group_sync to
// group "edges", a one-way send. Prints its tally per phase at SIGTERM ("summary:" lines).
//
//   BEEHIVE_NATS_CONFIG=cloud.yaml example_cluster_cloud
#include <chrono>
#include <cstdio>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "example_cluster_common.hpp"

int main() {
  beehive::signal_waiter signals;
  beehive::context ctx;
  auto nats = demo::join(ctx);
  if (auto r = ctx.add_module({.name = "cloud", .type = "nats", .remote = false, .inbox = {}});
      !r) {
    std::fprintf(stderr, "add cloud: %s\n", r.error().message().c_str());
    return 2;
  }
  auto answering = demo::responder(ctx, "cloud");
  std::printf("cloud: process %s on %s\n", nats->process_id().c_str(),
              nats->connected_url().c_str());
  std::fflush(stdout);
  demo::tally t;
  for (;;) {
    if (signals.wait_for(std::chrono::milliseconds(200)).has_value()) break;
    for (const char* edge : {"edge-1", "edge-2"}) {
      demo::call(ctx, t, "cloud", edge);
    }
    demo::call_group(ctx, t, "cloud", "edges");
    t.count("send edge-1", ctx.send("edge-1", beehive::new_message().fill_body("one-way")));
  }
  t.print("cloud");
  demo::print_stats("cloud", nats->stats());
  (void)ctx.cleanup("cloud");
  answering.join();
  return 0;
}
