// SPDX-License-Identifier: Apache-2.0
// The dashboard in a real browser: the example system serves its admin API on loopback HTTP,
// traffic flows to one of its modules, and headless Chromium loads `/`, runs its script (a
// virtual-time budget lets its one-second polls run) and dumps the rendered DOM, which must show
// every module of the example, the graph of modules and groups, and a non-zero rate.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "support/process.hpp"
#include "support/socket_support.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::process;
using test::process_spec;

constexpr auto long_bound = std::chrono::milliseconds(60000);

TEST(AdminDashboard, ChromiumRendersModulesGroupsAndLiveRates) {
  test::temp_dir dir;
  const int port = test::free_port();
  process_spec spec;
  spec.argv = {BEEHIVE_EXAMPLE_SYSTEM, "--wait"};
  spec.env["BEEHIVE_ADMIN"] = "127.0.0.1:" + std::to_string(port);
  spec.env["BEEHIVE_ADMIN_WRITES"] = "1";
  spec.stdout_file = dir.file("example.out");
  process example(spec);
  ASSERT_TRUE(test::wait_for_text(dir.file("example.out"), "demo done", long_bound))
      << test::read_text(dir.file("example.out"));

  // Traffic to destinationmodule while the page polls, through the admin API itself.
  std::atomic<bool> stop{false};
  std::atomic<int> posted{0};
  std::thread traffic([&] {
    httplib::Client c("127.0.0.1", port);
    while (!stop.load()) {
      auto r =
          c.Post("/api/send", R"({"module":"destinationmodule","repeat":200})", "application/json");
      if (r && r->status == 202) ++posted;
    }
  });
  struct joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~joiner() {
      stop = true;
      t.join();
    }
  } join_traffic{stop, traffic};
  ASSERT_TRUE(test::eventually_within(long_bound, [&] { return posted.load() > 0; }));

  process_spec browser;
  browser.argv = {"/usr/bin/chromium",
                  "--headless",
                  "--no-sandbox",
                  "--disable-gpu",
                  "--disable-background-networking",
                  "--disable-component-update",
                  "--disable-sync",
                  "--no-first-run",
                  "--user-data-dir=" + dir.file("chromium"),
                  "--virtual-time-budget=5000",
                  "--dump-dom",
                  "http://127.0.0.1:" + std::to_string(port) + "/"};
  auto dom = test::run_command(browser, dir.path(), std::chrono::milliseconds(120000));
  ASSERT_EQ(dom.code, 0) << dom.err;
  const std::string& html = dom.out;

  // Every module of the example: a row in the table and a node in the graph; every group too.
  for (const char* m : {"sourcemodule", "destinationmodule", "destinationgroupmodule1",
                        "destinationgroupmodule2"}) {
    EXPECT_NE(html.find(std::string("<tr data-module=\"") + m + "\""), std::string::npos) << m;
    EXPECT_NE(html.find(std::string("class=\"node module\" data-name=\"") + m + "\""),
              std::string::npos)
        << m;
  }
  EXPECT_NE(html.find("class=\"node group\" data-name=\"destinationgroup\""), std::string::npos);
  EXPECT_NE(html.find("data-edge=\"destinationgroupmodule1-&gt;destinationgroup\""),
            std::string::npos);
  // The page polled more than once, and the module under traffic shows a non-zero rate in.
  std::smatch polls;
  ASSERT_TRUE(std::regex_search(html, polls, std::regex(R"re(data-polls="(\d+)")re"))) << html;
  EXPECT_GE(std::stoi(polls[1]), 2);
  std::smatch rate;
  ASSERT_TRUE(std::regex_search(
      html, rate, std::regex(R"re(data-module="destinationmodule" data-rate-in="([0-9.]+)")re")))
      << html;
  EXPECT_GT(std::stod(rate[1]), 0.0) << html;
  // Nothing from outside the machine: no absolute URL to another host in the page.
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
}

}  // namespace
}  // namespace beehive
