// SPDX-License-Identifier: Apache-2.0
// The admin API exports the nats type's counters and every lane's counters, without knowing the
// nats type (it reads `context_type::counters`): a real nats-server, two processes of one
// namespace, and promtool checking the /metrics text.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "beehive/admin.hpp"
#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"
#include "support/process.hpp"
#include "support/socket_support.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

TEST(AdminNats, NatsAndLaneCountersAreInMetricsAndJson) {
  auto servers = nats_servers::single();
  const auto cfg = nats_test_config(servers.url(0), "adminnats");
  nats_process a(cfg);
  nats_process b(cfg);
  inbox_options lanes;
  lanes.lanes.lanes = {{.capacity = 16}, {.capacity = 64}};
  lanes.lanes.rules = {{route_field::resource, "heartbeat", 0}};
  lanes.lanes.default_lane = 1;
  ASSERT_TRUE(b.add("beta", lanes));
  ASSERT_TRUE(a.nats->wait_peer("beta", 5s));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.ctx->send("beta", new_message()));
  ASSERT_TRUE(a.ctx->send("beta", new_message().build_router("a", "", "heartbeat", "update")));
  // All six arrived (two lanes): taken in lane order.
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(b.ctx->receive_for("beta", watchdog));

  temp_dir dir;
  auto admin_a = start_admin(*a.ctx, {.address = "127.0.0.1:0"});
  auto admin_b = start_admin(*b.ctx, {.address = "127.0.0.1:0"});
  ASSERT_TRUE(admin_a && admin_b);

  const json ja = json::parse((*admin_a)->stats_json());
  const json jb = json::parse((*admin_b)->stats_json());
  ASSERT_TRUE(ja.at("types").contains("nats")) << ja.dump();
  EXPECT_EQ(ja.at("types").at("nats").at("published"), a.nats->stats().published);
  EXPECT_GE(ja.at("types").at("nats").at("published").get<std::uint64_t>(), 6U);
  EXPECT_EQ(jb.at("types").at("nats").at("delivered"), b.nats->stats().delivered);
  // Every field of nats_stats is listed.
  EXPECT_EQ(jb.at("types").at("nats").size(), 30U);
  const auto& beta_lanes = jb.at("modules").at("beta").at("inbox").at("lanes");
  ASSERT_EQ(beta_lanes.size(), 2U);
  EXPECT_EQ(beta_lanes[0].at("accepted"), 1);
  EXPECT_EQ(beta_lanes[1].at("accepted"), 5);
  EXPECT_EQ(beta_lanes[1].at("received"), 5);

  const std::string text = (*admin_b)->metrics_text();
  for (const char* family : {"beehive_nats_delivered_total", "beehive_nats_published_total",
                             "beehive_nats_nats_dropped_total", "beehive_nats_unacknowledged_total",
                             "beehive_nats_reconnects_total", "beehive_nats_resent_total",
                             "beehive_nats_duplicates_total", "beehive_nats_sequence_gaps_total",
                             "beehive_nats_batches_total", "beehive_nats_group_batches_total"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " counter"), std::string::npos) << family;
  }
  EXPECT_NE(text.find("\nbeehive_nats_delivered_total " +
                      std::to_string(jb.at("types").at("nats").at("delivered").get<int>())),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(beehive_lane_messages_total{module="beta",lane="1",outcome="received"} 5)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(beehive_lane_capacity{module="beta",lane="0"} 16)"), std::string::npos);

  // The text passes promtool's checks (format and naming conventions).
  const std::string file = dir.file("metrics.txt");
  std::ofstream(file) << text;
  process_spec check;
  check.argv = {"/usr/bin/promtool", "check", "metrics"};
  check.stdin_file = file;
  auto p = run_command(check, dir.path(), 60s);
  EXPECT_EQ(p.code, 0) << p.out << p.err;
}

}  // namespace
}  // namespace beehive::test
