// SPDX-License-Identifier: Apache-2.0
// The admin API end to end: the example system runs with its admin API on, and the real
// `beehive` command, promtool, a Prometheus server and tmux look inside it. Every process a test
// starts is stopped by its owner (test::process), also when an assertion fails.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/process.hpp"
#include "support/socket_support.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::process;
using test::process_spec;
using test::run_command;
using test::run_result;

constexpr auto long_bound = std::chrono::milliseconds(60000);

process_spec cmd(std::vector<std::string> argv) {
  process_spec s;
  s.argv = std::move(argv);
  return s;
}

// One example system with its admin API on a unix socket, for the whole suite.
class example_system {
 public:
  example_system(const std::string& dir, const std::string& admin, bool writes) : dir_(dir) {
    process_spec spec;
    spec.argv = {BEEHIVE_EXAMPLE_SYSTEM, "--wait"};
    spec.env["BEEHIVE_ADMIN"] = admin;
    if (writes) spec.env["BEEHIVE_ADMIN_WRITES"] = "1";
    spec.unset = {"BEEHIVE_LOG", "BEEHIVE_ADMIN_WRITES"};
    spec.stdout_file = dir + "/example.out";
    spec.stderr_file = dir + "/example.err";
    proc_ = std::make_unique<process>(spec);
    ready_ = test::wait_for_text(spec.stdout_file, "demo done", long_bound);
  }
  [[nodiscard]] bool ready() const { return ready_; }
  /// Its stdout, then its stderr (a sanitizer's report is there).
  [[nodiscard]] std::string output() const {
    return test::read_text(dir_ + "/example.out") + "\n--- stderr:\n" +
           test::read_text(dir_ + "/example.err");
  }
  process& proc() { return *proc_; }

 private:
  std::string dir_;
  std::unique_ptr<process> proc_;
  bool ready_ = false;
};

class AdminProcess : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test::temp_dir>();
    ::chmod(dir_->path().c_str(), 0755);  // `nobody` may reach the socket file (and be refused)
    sock_ = dir_->file("admin.sock");
    system_ = std::make_unique<example_system>(dir_->path(), "unix:" + sock_, true);
  }
  static void TearDownTestSuite() {
    if (system_) {
      // SIGTERM: the example shuts its core down and exits 0 when every message arrived.
      const auto code = system_->proc().stop();
      EXPECT_EQ(code, 0) << system_->output();
    }
    system_.reset();
    dir_.reset();
  }
  void SetUp() override { ASSERT_TRUE(system_ && system_->ready()) << system_->output(); }

  static run_result beehive(std::vector<std::string> args,
                            std::map<std::string, std::string> env = {},
                            std::optional<uid_t> user = std::nullopt) {
    process_spec spec;
    spec.argv = {BEEHIVE_COMMAND};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = std::move(env);
    if (spec.env.count("BEEHIVE_ADMIN") == 0) spec.env["BEEHIVE_ADMIN"] = "unix:" + sock_;
    spec.user = user;
    return run_command(spec, dir_->path(), long_bound);
  }
  static json stats() {
    auto r = beehive({"stats", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  static inline std::unique_ptr<test::temp_dir> dir_;
  static inline std::string sock_;
  static inline std::unique_ptr<example_system> system_;
};

TEST_F(AdminProcess, ModulesListsTheExamplesModulesWithTypeStateAndGroups) {
  auto r = beehive({"modules"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("MODULE"), std::string::npos);
  for (const char* m : {"sourcemodule", "destinationmodule", "destinationgroupmodule1",
                        "destinationgroupmodule2"}) {
    EXPECT_NE(r.out.find(m), std::string::npos) << m << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("running"), std::string::npos);
  EXPECT_NE(r.out.find("destinationgroup"), std::string::npos);
}

TEST_F(AdminProcess, StatsAsTableAndJson) {
  auto table = beehive({"stats"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("DEPTH"), std::string::npos);
  const json j = stats();
  ASSERT_TRUE(j.is_object());
  EXPECT_GE(j["modules"]["destinationmodule"]["inbox"]["accepted"].get<int>(), 2);
  EXPECT_EQ(j["modules"]["destinationmodule"]["state"], "running");
  EXPECT_EQ(j["modules"]["destinationmodule"]["sync"]["count"], 1);  // the source's send_sync
  EXPECT_GE(j["sockets"]["sockserver"]["records_in"].get<int>(), 1);
}

TEST_F(AdminProcess, MetricsPassPromtool) {
  auto r = beehive({"metrics"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(
      r.out.find("beehive_inbox_messages_total{module=\"destinationmodule\",outcome=\"accepted\"}"),
      std::string::npos);
  EXPECT_NE(r.out.find("beehive_send_sync_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(r.out.find("beehive_socket_records_total{socket=\"sockserver\",direction=\"in\"}"),
            std::string::npos);
  const std::string file = dir_->file("metrics.txt");
  std::ofstream(file) << r.out;
  process_spec check;
  check.argv = {"/usr/bin/promtool", "check", "metrics"};
  check.stdin_file = file;
  auto p = run_command(check, dir_->path(), long_bound);
  EXPECT_EQ(p.code, 0) << p.out << p.err;
}

TEST_F(AdminProcess, SendAndRequestReachTheModule) {
  const auto before = stats()["modules"]["destinationmodule"]["inbox"]["accepted"].get<int>();
  auto s =
      beehive({"send", "destinationmodule", "--operation", "insert", "--content", R"({"n":1})"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.out.rfind("sent ", 0), 0U);
  auto q = beehive({"request", "destinationmodule", "--content", R"("ping")", "--timeout", "10"});
  ASSERT_EQ(q.code, 0) << q.err;
  const json reply = json::parse(q.out);
  EXPECT_EQ(reply["content"], "ack from destinationmodule");
  EXPECT_EQ(reply["route"]["operation"], "response");
  EXPECT_EQ(stats()["modules"]["destinationmodule"]["inbox"]["accepted"].get<int>(), before + 2);
}

TEST_F(AdminProcess, EachErrorHasItsExitCode) {
  EXPECT_EQ(beehive({"request", "nosuchmodule", "--timeout", "1"}).code, 5);
  EXPECT_EQ(beehive({"send", "nosuchmodule"}).code, 5);
  EXPECT_EQ(beehive({"send", "destinationmodule", "--content", "{not json"}).code, 6);
  EXPECT_EQ(beehive({"modules"}, {{"BEEHIVE_ADMIN", "unix:" + dir_->file("none.sock")}}).code, 3);
  EXPECT_EQ(
      beehive({"modules"}, {{"BEEHIVE_ADMIN", "127.0.0.1:" + std::to_string(test::free_port())}})
          .code,
      3);
  EXPECT_EQ(beehive({"nosuchcommand"}).code, 2);
  // sourcemodule has returned: nobody answers it, the request times out (10 + errc 5).
  auto r = beehive({"request", "sourcemodule", "--timeout", "0.2"});
  EXPECT_EQ(r.code, 15) << r.err;
  EXPECT_NE(r.err.find("timed_out"), std::string::npos);
}

TEST_F(AdminProcess, AnotherUserIsDenied) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the command as nobody";
  auto r = beehive({"modules"}, {}, 65534);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_NE(r.err.find("permission denied"), std::string::npos);
}

TEST_F(AdminProcess, WritesAreRefusedWhenNotEnabled) {
  test::temp_dir other;
  example_system readonly(other.path(), "unix:" + other.file("admin.sock"), false);
  ASSERT_TRUE(readonly.ready()) << readonly.output();
  const std::map<std::string, std::string> env = {
      {"BEEHIVE_ADMIN", "unix:" + other.file("admin.sock")}};
  auto s = beehive({"send", "destinationmodule", "--content", "1"}, env);
  EXPECT_EQ(s.code, 7) << s.err;
  EXPECT_EQ(beehive({"request", "destinationmodule"}, env).code, 7);
  EXPECT_EQ(beehive({"bench", "destinationmodule", "-n", "10"}, env).code, 7);
  EXPECT_EQ(beehive({"modules"}, env).code, 0);  // reads still work
  EXPECT_EQ(readonly.proc().stop(), 0) << readonly.output();
}

TEST_F(AdminProcess, TapPrintsOneJsonLinePerMessage) {
  process_spec spec;
  spec.argv = {BEEHIVE_COMMAND, "tap", "destinationmodule", "--count", "1"};
  spec.env["BEEHIVE_ADMIN"] = "unix:" + sock_;
  spec.stdout_file = dir_->file("tap.out");
  spec.stderr_file = dir_->file("tap.err");
  process tap(spec);
  // The tap is attached once its request is served: keep sending until it saw one.
  std::optional<int> code;
  ASSERT_TRUE(test::eventually_within(long_bound, [&] {
    EXPECT_EQ(beehive({"send", "destinationmodule", "--content", R"({"tapped":true})"}).code, 0);
    code = tap.wait_for(100ms);
    return code.has_value();
  })) << test::read_text(dir_->file("tap.err"));
  EXPECT_EQ(*code, 0);
  const std::string out = test::read_text(dir_->file("tap.out"));
  const json line = json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(line["target"], "destinationmodule");
  EXPECT_EQ(line["message"]["content"]["tapped"], true);
  EXPECT_EQ(line["message"]["route"]["source"], "beehive");
}

TEST_F(AdminProcess, AStoppedTapNeverHoldsSendersBackAndItsDropsAreCounted) {
  process_spec spec;
  spec.argv = {BEEHIVE_COMMAND, "tap", "--all"};
  spec.env["BEEHIVE_ADMIN"] = "unix:" + sock_;
  process tap(spec);
  ASSERT_TRUE(test::eventually_within(long_bound,
                                      [&] { return stats()["tap"]["attached"].get<int>() == 1; }));
  tap.signal(SIGSTOP);  // a reader that stops reading
  const auto dropped_before = stats()["tap"]["dropped"].get<std::uint64_t>();
  auto b = beehive({"bench", "destinationmodule", "-n", "100000"});
  ASSERT_EQ(b.code, 0) << b.err;  // every send went through
  EXPECT_NE(b.out.find("sent 100000 messages"), std::string::npos);
  const json j = stats();
  EXPECT_GT(j["tap"]["dropped"].get<std::uint64_t>(), dropped_before);
  tap.signal(SIGCONT);
}

TEST_F(AdminProcess, BenchReportsTheRate) {
  auto r = beehive({"bench", "destinationmodule", "-n", "5000"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("sent 5000 messages to destinationmodule"), std::string::npos);
  EXPECT_NE(r.out.find("msg/s"), std::string::npos);
}

TEST_F(AdminProcess, TopOncePrintsOneFrame) {
  auto r = beehive({"top", "--once", "--interval", "0.2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("IN/s"), std::string::npos);
  EXPECT_NE(r.out.find("SYNC_P99"), std::string::npos);
  EXPECT_NE(r.out.find("destinationmodule"), std::string::npos);
}

// `top` in a real terminal: tmux runs it, capture-pane reads the screen, `q` ends it.
TEST_F(AdminProcess, TopUnderTmuxRefreshesAndQuitsOnQ) {
  const std::string tmux_sock = dir_->file("tmux.sock");
  struct tmux_server {
    std::string sock;
    std::string dir;
    ~tmux_server() { run_command(cmd({"/usr/bin/tmux", "-S", sock, "kill-server"}), dir, 10s); }
  } server{tmux_sock, dir_->path()};
  const std::string top_cmd =
      std::string("BEEHIVE_ADMIN=unix:") + sock_ + " " + BEEHIVE_COMMAND + " top";
  auto started = run_command(cmd({"/usr/bin/tmux", "-S", tmux_sock, "new-session", "-d", "-x",
                                  "120", "-y", "30", "-s", "top", top_cmd}),
                             dir_->path(), long_bound);
  ASSERT_EQ(started.code, 0) << started.err;
  std::string screen;
  const auto pane = [&] {
    auto c = run_command(cmd({"/usr/bin/tmux", "-S", tmux_sock, "capture-pane", "-p", "-t", "top"}),
                         dir_->path(), 10s);
    screen = c.out;
    return c.code == 0;
  };
  ASSERT_TRUE(test::eventually_within(long_bound, [&] {
    return pane() && screen.find("destinationmodule") != std::string::npos;
  })) << screen;
  EXPECT_NE(screen.find("beehive top"), std::string::npos);
  EXPECT_NE(screen.find("IN/s"), std::string::npos);
  EXPECT_NE(screen.find("DEPTH"), std::string::npos);
  auto q = run_command(cmd({"/usr/bin/tmux", "-S", tmux_sock, "send-keys", "-t", "top", "q"}),
                       dir_->path(), 10s);
  ASSERT_EQ(q.code, 0);
  // q ends `top`, and with it the session.
  EXPECT_TRUE(test::eventually_within(long_bound, [&] {
    return run_command(cmd({"/usr/bin/tmux", "-S", tmux_sock, "has-session", "-t", "top"}),
                       dir_->path(), 10s)
               .code != 0;
  }));
}

// A real Prometheus server scrapes an example whose admin API is on loopback HTTP, and returns
// the series through its query API.
TEST_F(AdminProcess, PrometheusScrapesTheExample) {
  test::temp_dir pdir;
  const int admin_port = test::free_port();
  example_system scraped(pdir.path(), "127.0.0.1:" + std::to_string(admin_port), false);
  ASSERT_TRUE(scraped.ready()) << scraped.output();
  const int prom_port = test::free_port();
  const std::string config = pdir.file("prometheus.yml");
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                        << "scrape_configs:\n  - job_name: beehive\n    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << admin_port << "']\n";
  process_spec spec;
  spec.argv = {"/usr/bin/prometheus", "--config.file=" + config,
               "--storage.tsdb.path=" + pdir.file("data"),
               "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)};
  spec.stderr_file = pdir.file("prometheus.err");
  process prometheus(spec);
  httplib::Client client("127.0.0.1", prom_port);
  client.set_connection_timeout(2s);
  json result;
  const bool found = test::eventually_within(std::chrono::milliseconds(120000), [&] {
    auto r = client.Get(
        "/api/v1/query?query=" +
        httplib::detail::encode_query_param(
            R"(beehive_inbox_messages_total{job="beehive",module="destinationmodule",outcome="accepted"})"));
    if (!r || r->status != 200) return false;
    result = json::parse(r->body, nullptr, false);
    return result.is_object() && result["status"] == "success" && !result["data"]["result"].empty();
  });
  ASSERT_TRUE(found) << test::read_text(pdir.file("prometheus.err"));
  const auto& series = result["data"]["result"][0];
  EXPECT_EQ(series["metric"]["module"], "destinationmodule");
  EXPECT_GE(std::stoi(series["value"][1].get<std::string>()), 2);
  EXPECT_EQ(prometheus.stop(), 0);
  EXPECT_EQ(scraped.proc().stop(), 0) << scraped.output();
}

}  // namespace
}  // namespace beehive
