// SPDX-License-Identifier: Apache-2.0
#include "admin/json_api.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "admin/admin_address.hpp"
#include "admin/metrics_text.hpp"

namespace beehive::detail {
namespace {

using json = nlohmann::json;

TEST(WriteRequest, ParsesEveryField) {
  auto w = parse_write_request(
      R"({"module":"m","operation":"insert","resource":"pod","source":"me","content":{"a":[1]},"timeout_ms":250,"repeat":3})");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->module, "m");
  EXPECT_EQ(w->msg.route.operation, "insert");
  EXPECT_EQ(w->msg.route.resource, "pod");
  EXPECT_EQ(w->msg.route.source, "me");
  EXPECT_EQ(w->msg.route.destination, "m");
  EXPECT_EQ(w->msg.content.to_json().value(), (json{{"a", {1}}}));
  EXPECT_EQ(w->timeout.count(), 250);
  EXPECT_EQ(w->repeat, 3U);
  EXPECT_FALSE(w->msg.header.id.empty());
}

TEST(WriteRequest, DefaultsAndStringContent) {
  auto w = parse_write_request(R"({"group":"g","content":"text"})");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->group, "g");
  EXPECT_EQ(w->msg.route.source, "beehive");
  EXPECT_EQ(w->msg.route.operation, "update");
  EXPECT_EQ(w->msg.content.to_string().value(), "text");
  EXPECT_EQ(w->repeat, 1U);
}

TEST(WriteRequest, RefusesWhatIsNotARequest) {
  for (const char* body : {"", "{", "[1]", "\"module\"", "{\"module\":\"m\",}"}) {
    auto w = parse_write_request(body);
    ASSERT_FALSE(w) << body;
    EXPECT_EQ(w.error(), request_fault::malformed_json) << body;
  }
  for (const char* body :
       {R"({})", R"({"module":7})", R"({"module":"m","group":"g"})",
        R"({"module":"m","timeout_ms":-1})", R"({"module":"m","repeat":0})",
        R"({"module":"m","repeat":2000000})", R"({"module":"m","operation":["x"]})"}) {
    auto w = parse_write_request(body);
    ASSERT_FALSE(w) << body;
    EXPECT_EQ(w.error(), request_fault::bad_field) << body;
  }
}

TEST(Histogram, QuantileIsTheBoundOfItsBucket) {
  latency_histogram h;
  EXPECT_EQ(histogram_quantile(h, 0.99), -1);
  h.buckets[0] = 98;
  h.buckets[6] = 1;
  h.buckets.back() = 1;
  h.count = 100;
  EXPECT_EQ(histogram_quantile(h, 0.5), sync_latency_bounds[0]);
  EXPECT_EQ(histogram_quantile(h, 0.99), sync_latency_bounds[6]);
  EXPECT_EQ(histogram_quantile(h, 1.0), std::numeric_limits<double>::infinity());
}

TEST(ErrcName, NamesEveryCodeAndOthersAsError) {
  EXPECT_EQ(errc_name(make_error_code(errc::timed_out)), "timed_out");
  EXPECT_EQ(errc_name(make_error_code(errc::would_block)), "would_block");
  EXPECT_EQ(errc_name(std::make_error_code(std::errc::io_error)), "error");
}

TEST(MetricsText, EscapesLabelValuesAndRendersEveryModule) {
  std::string out;
  append_label_value(out, "a\"b\\c\nd");
  EXPECT_EQ(out, R"(a\"b\\c\nd)");
  system_snapshot snap;
  module_sample m;
  m.name = "we\"ird";
  m.type = "channel";
  m.state = "running";
  m.host = "local";
  m.inbox = inbox_stats{};
  m.inbox->capacity = 8;
  m.inbox->queued = 2;
  m.inbox->accepted = 5;
  m.sync = latency_histogram{};
  m.sync->buckets[3] = 2;
  m.sync->count = 2;
  m.sync->sum_seconds = 0.0002;
  snap.modules.push_back(m);
  const std::string text = render_metrics(snap);
  EXPECT_NE(text.find(R"(beehive_inbox_depth{module="we\"ird"} 2)"), std::string::npos);
  EXPECT_NE(text.find(R"(beehive_inbox_messages_total{module="we\"ird",outcome="accepted"} 5)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(beehive_module_state{module="we\"ird",state="running"} 1)"),
            std::string::npos);
  EXPECT_NE(
      text.find(R"(beehive_send_sync_duration_seconds_bucket{module="we\"ird",le="0.0001"} 2)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(beehive_send_sync_duration_seconds_bucket{module="we\"ird",le="+Inf"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE beehive_send_sync_duration_seconds histogram"), std::string::npos);
  // Every family once.
  EXPECT_EQ(text.find("# TYPE beehive_inbox_messages_total counter"),
            text.rfind("# TYPE beehive_inbox_messages_total counter"));
}

TEST(AdminAddress, ParsesUnixAndLoopback) {
  auto u = parse_admin_address("unix:/run/x.sock");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->where, admin_address::kind::unix_socket);
  EXPECT_EQ(u->path, "/run/x.sock");
  auto t = parse_admin_address("localhost:9464");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 9464);
  EXPECT_EQ(t->to_string(), "127.0.0.1:9464");
  auto v6 = parse_admin_address("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->to_string(), "[::1]:0");
  for (const char* bad : {"", "unix:", "unix:rel/path", "10.0.0.1:80", "0.0.0.0:80", "127.0.0.1",
                          "127.0.0.1:70000", "127.0.0.1:x", "[::1]80"}) {
    EXPECT_FALSE(parse_admin_address(bad)) << bad;
  }
  EXPECT_FALSE(parse_admin_address("unix:/" + std::string(200, 'a')));
}

}  // namespace
}  // namespace beehive::detail
