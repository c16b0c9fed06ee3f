// SPDX-License-Identifier: Apache-2.0
#include "beehive/admin.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "beehive/context.hpp"
#include "bounded_wait.hpp"
#include "channel_module.hpp"
#include "type/context_type.hpp"

namespace beehive {
namespace {

using json = nlohmann::json;
using test::mod;
using test::watchdog;

struct temp_dir {
  temp_dir() {
    char tmpl[] = "/tmp/beehive-admin-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  std::string path;
};

httplib::Client unix_client(const std::string& path) {
  httplib::Client c(path);
  c.set_address_family(AF_UNIX);
  c.set_read_timeout(watchdog);
  return c;
}

struct Admin : ::testing::Test {
  void SetUp() override {
    ASSERT_TRUE(ctx.add_module(mod("a")));
    ASSERT_TRUE(ctx.add_module(mod("b")));
    ASSERT_TRUE(ctx.add_module_group("a", "g"));
  }
  std::unique_ptr<admin> start(bool writes = false, std::size_t max_bytes = 64 * 1024) {
    admin_options o;
    o.address = "unix:" + sock;
    o.allow_writes = writes;
    o.max_request_bytes = max_bytes;
    auto a = start_admin(ctx, o);
    EXPECT_TRUE(a) << a.error().message();
    return a ? std::move(*a) : nullptr;
  }
  context ctx;
  temp_dir dir;
  std::string sock = dir.path + "/admin.sock";
};

TEST_F(Admin, UnixSocketIsOwnerOnlyAndServesModulesGroupsStats) {
  auto a = start();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->address(), "unix:" + sock);
  struct stat st {};
  ASSERT_EQ(::stat(sock.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  auto c = unix_client(sock);
  auto mods = c.Get("/api/modules");
  ASSERT_TRUE(mods);
  ASSERT_EQ(mods->status, 200);
  const auto m = json::parse(mods->body).at("modules");
  ASSERT_EQ(m.size(), 2U);
  EXPECT_EQ(m[0].at("name"), "a");
  EXPECT_EQ(m[0].at("type"), "channel");
  EXPECT_EQ(m[0].at("state"), "live");
  EXPECT_EQ(m[0].at("host"), "local");
  EXPECT_EQ(m[0].at("groups"), json::array({"g"}));
  auto groups = c.Get("/api/groups");
  ASSERT_TRUE(groups);
  EXPECT_EQ(json::parse(groups->body).at("groups").at("g"), json::array({"a"}));
  ASSERT_TRUE(ctx.send("a", new_message()));
  auto stats = c.Get("/api/stats");
  ASSERT_TRUE(stats);
  const auto s = json::parse(stats->body);
  EXPECT_EQ(s.at("modules").at("a").at("inbox").at("accepted"), 1);
  EXPECT_EQ(s.at("modules").at("a").at("inbox").at("queued"), 1);
  EXPECT_EQ(s.at("modules").at("a").at("inbox").at("capacity"), 1024);
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(R"(beehive_inbox_messages_total{module="a",outcome="accepted"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics->body.find(R"(beehive_inbox_depth{module="a"} 1)"), std::string::npos);
  a->stop();
  EXPECT_FALSE(std::filesystem::exists(sock));
}

TEST_F(Admin, WritesAreRefusedUnlessEnabled) {
  auto a = start(false);
  auto c = unix_client(sock);
  auto r = c.Post("/api/send", R"({"module":"a","content":{"x":1}})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(json::parse(r->body).at("error"), "writes_disabled");
  r = c.Post("/api/request", R"({"module":"a"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(ctx.stats("a")->accepted, 0U);
  EXPECT_NE(a->metrics_text().find(R"(beehive_admin_refused_total{reason="writes_disabled"} 2)"),
            std::string::npos);
}

TEST_F(Admin, SendAndRequestWhenEnabled) {
  auto a = start(true);
  auto c = unix_client(sock);
  auto r = c.Post("/api/send", R"({"module":"a","operation":"insert","content":{"x":1}})",
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  auto got = ctx.receive_for("a", watchdog);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->route.operation, "insert");
  EXPECT_EQ(got->content.to_json().value(), (json{{"x", 1}}));
  std::thread echo([&] {
    auto req = ctx.receive_for("b", watchdog);
    if (req) (void)ctx.send_resp(new_resp_by_message(*req, "pong"));
  });
  r = c.Post("/api/request", R"({"module":"b","content":"ping","timeout_ms":20000})",
             "application/json");
  echo.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).at("content"), "pong");
  r = c.Post("/api/request", R"({"module":"b","timeout_ms":1})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(json::parse(r->body).at("error"), "timed_out");
  r = c.Post("/api/send", R"({"module":"nobody"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body).at("error"), "module_not_found");
  r = c.Post("/api/send", R"({"group":"g","content":1})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(json::parse(r->body).at("delivered"), 1);
}

TEST_F(Admin, AFullInboxIsRefusedNotWaitedOnForEver) {
  ASSERT_TRUE(ctx.add_module(mod("tiny", 1)));
  ASSERT_TRUE(ctx.send("tiny", new_message()));
  auto a = start(true);
  auto c = unix_client(sock);
  // Nobody receives: after its bound the admin answers queue_full instead of blocking.
  auto r = c.Post("/api/send", R"({"module":"tiny"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(json::parse(r->body).at("error"), "queue_full");
  EXPECT_EQ(ctx.stats("tiny")->accepted, 1U);
}

TEST_F(Admin, MalformedAndOversizedRequestsAreRefusedAndServingGoesOn) {
  auto a = start(true, 1024);
  auto c = unix_client(sock);
  auto r = c.Post("/api/send", R"({"module":"a",)", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body).at("error"), "malformed_json");
  r = c.Post("/api/send", R"({"module":7})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body).at("error"), "invalid_argument");
  r = c.Post("/api/send", std::string(4096, ' ') + "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  // Raw garbage instead of HTTP.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    sock.copy(addr.sun_path, sizeof addr.sun_path - 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string junk = "\x01\x02 not http at all\r\n\r\n";
    ASSERT_GT(::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL), 0);
    char buf[256];
    EXPECT_GT(::recv(fd, buf, sizeof buf, 0), 0);  // an answer (400), then close
    ::close(fd);
  }
  EXPECT_EQ(ctx.stats("a")->accepted, 0U);
  auto ok = c.Get("/api/modules");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  const auto s = json::parse(c.Get("/api/stats")->body).at("admin");
  EXPECT_GE(s.at("malformed"), 2);
  EXPECT_EQ(s.at("oversized"), 1);
}

// Runs `fn` in a child process as user `nobody`; returns its exit code.
template <class Fn>
int as_nobody(Fn fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) std::_Exit(100);
    std::_Exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

TEST_F(Admin, AnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a child as nobody";
  ::chmod(dir.path.c_str(), 0755);
  auto a = start(true);
  // The socket file's mode keeps it out.
  EXPECT_EQ(as_nobody([&] {
              const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
              sockaddr_un addr{};
              addr.sun_family = AF_UNIX;
              sock.copy(addr.sun_path, sizeof addr.sun_path - 1);
              const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
              if (r == 0) return 1;
              return errno == EACCES ? 0 : 10 + errno;
            }),
            0);
  // With the mode opened up, its uid still does (SO_PEERCRED): 403, nothing sent.
  ::chmod(sock.c_str(), 0666);
  EXPECT_EQ(as_nobody([&] {
              auto c = unix_client(sock);
              auto r = c.Post("/api/send", R"({"module":"a"})", "application/json");
              return r && r->status == 403 && r->body.find("permission_denied") != std::string::npos
                         ? 0
                         : 1;
            }),
            0);
  EXPECT_EQ(ctx.stats("a")->accepted, 0U);
  EXPECT_EQ(json::parse(a->stats_json()).at("admin").at("refused_peer"), 1);
}

TEST_F(Admin, TapStreamsOneJsonLinePerMessage) {
  auto a = start();
  auto c = unix_client(sock);
  std::string got;  // the reader's alone
  std::atomic<bool> seen{false};
  const auto until = std::chrono::steady_clock::now() + watchdog;
  std::thread sender([&] {
    // Sends until the tap has seen one (the tap attaches when the request arrives).
    while (!seen.load() && std::chrono::steady_clock::now() < until) {
      (void)ctx.send("a", new_message().fill_body("tapped"));
      (void)ctx.receive("a");
      std::this_thread::yield();
    }
  });
  auto r = c.Get("/api/tap?module=a", [&](const char* data, std::size_t n) {
    got.append(data, n);
    if (got.find("tapped") != std::string::npos) seen = true;
    // Stops after the first message, or at the watchdog (the stream's idle lines come each
    // second).
    return !seen.load() && std::chrono::steady_clock::now() < until;
  });
  sender.join();
  const auto line = json::parse(got.substr(0, got.find('\n')));
  EXPECT_EQ(line.at("target"), "a");
  EXPECT_EQ(line.at("group"), false);
  EXPECT_EQ(line.at("message").at("content"), "tapped");
  // The reader went away: its tap is detached.
  EXPECT_TRUE(
      test::eventually([&] { return json::parse(a->stats_json()).at("tap").at("attached") == 0; }));
}

// A reply given to send_resp is tapped, marked as one, under its requester (route.source).
TEST_F(Admin, TapShowsRepliesMarkedAsReplies) {
  auto a = start();
  auto c = unix_client(sock);
  std::string got;  // the reader's alone
  std::atomic<bool> seen{false};
  const auto until = std::chrono::steady_clock::now() + watchdog;
  const message request = new_message().build_router("a", "", "pod", "get");
  std::thread replier([&] {
    while (!seen.load() && std::chrono::steady_clock::now() < until) {
      (void)ctx.send_resp(new_resp_by_message(request, "answered"));
      std::this_thread::yield();
    }
  });
  auto r = c.Get("/api/tap?module=a", [&](const char* data, std::size_t n) {
    got.append(data, n);
    if (got.find("answered") != std::string::npos) seen = true;
    return !seen.load() && std::chrono::steady_clock::now() < until;
  });
  replier.join();
  const auto line = json::parse(got.substr(0, got.find('\n')));
  EXPECT_EQ(line.at("target"), "a");
  EXPECT_EQ(line.at("reply"), true);
  EXPECT_EQ(line.at("message").at("header").at("parent_msg_id"), request.header.id);
  EXPECT_EQ(line.at("message").at("content"), "answered");
}

// A context type that only lists counters (the admin exports what a type lists, knowing no
// type by name).
class counting_type final : public detail::context_type {
 public:
  void attach(detail::type_host& /*host*/) override {}
  expected<std::shared_ptr<detail::endpoint>> make_endpoint(const module_info& /*info*/) override {
    return unexpected(errc::unsupported_type);
  }
  std::vector<detail::type_counter> counters() const override {
    return {{"frames_sent", "Frames sent.", frames.load()}, {"odd-name", "", 2}};
  }
  void stop() override {}
  std::atomic<std::uint64_t> frames{7};
};

// Every lane's counters and every installed type's counters are in /metrics and /api/stats.
TEST_F(Admin, LaneAndTypeCountersAreExported) {
  module_info laned = mod("laned");
  laned.inbox.lanes.lanes = {{.capacity = 4}, {.capacity = 8}};
  laned.inbox.lanes.rules = {{route_field::resource, "heartbeat", 0}};
  laned.inbox.lanes.default_lane = 1;
  ASSERT_TRUE(ctx.add_module(laned));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ctx.send("laned", new_message()));
  ASSERT_TRUE(ctx.send("laned", new_message().build_router("t", "", "heartbeat", "update")));
  ASSERT_TRUE(ctx.receive("laned"));  // lane 0 first
  auto type = std::make_shared<counting_type>();
  ASSERT_TRUE(detail::install_type(ctx, "counting", type));
  auto a = start();
  ASSERT_TRUE(a);

  const std::string text = a->metrics_text();
  for (const char* line : {
           R"(beehive_lane_capacity{module="laned",lane="0"} 4)",
           R"(beehive_lane_capacity{module="laned",lane="1"} 8)",
           R"(beehive_lane_depth{module="laned",lane="1"} 3)",
           R"(beehive_lane_messages_total{module="laned",lane="0",outcome="accepted"} 1)",
           R"(beehive_lane_messages_total{module="laned",lane="0",outcome="received"} 1)",
           R"(beehive_lane_messages_total{module="laned",lane="1",outcome="accepted"} 3)",
           R"(beehive_lane_messages_total{module="laned",lane="1",outcome="dropped"} 0)",
           "# TYPE beehive_counting_frames_sent_total counter",
           "# HELP beehive_counting_frames_sent_total Frames sent.",
           "\nbeehive_counting_frames_sent_total 7\n",
           "\nbeehive_counting_odd_name_total 2\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
  // A module without lanes has no lane series.
  EXPECT_EQ(text.find(R"(beehive_lane_depth{module="a")"), std::string::npos);
  EXPECT_EQ(text.find("# TYPE beehive_lane_depth gauge"),
            text.rfind("# TYPE beehive_lane_depth gauge"));

  type->frames = 9;  // read at each request
  const json j = json::parse(a->stats_json());
  const auto& lanes = j.at("modules").at("laned").at("inbox").at("lanes");
  ASSERT_EQ(lanes.size(), 2U);
  EXPECT_EQ(lanes[0].at("received"), 1);
  EXPECT_EQ(lanes[1].at("queued"), 3);
  EXPECT_EQ(lanes[1].at("capacity"), 8);
  EXPECT_FALSE(j.at("modules").at("a").at("inbox").contains("lanes"));
  EXPECT_EQ(j.at("types").at("counting").at("frames_sent"), 9);
  EXPECT_EQ(j.at("types").at("counting").at("odd-name"), 2);
  EXPECT_FALSE(j.at("types").contains("channel"));  // its counters are the inboxes'
}

TEST_F(Admin, LoopbackPortZeroPicksAPortAndOtherHostsAreRefused) {
  auto a = start_admin(ctx, {.address = "127.0.0.1:0"});
  ASSERT_TRUE(a);
  const std::string addr = (*a)->address();
  const int port = std::stoi(addr.substr(addr.rfind(':') + 1));
  EXPECT_GT(port, 0);
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(start_admin(ctx, {.address = "0.0.0.0:0"}).error(), errc::invalid_argument);
  EXPECT_EQ(start_admin(ctx, {.address = "unix:relative"}).error(), errc::invalid_argument);
}

TEST_F(Admin, ALiveSocketIsNotTakenAndAStaleOneIsReplaced) {
  auto a = start();
  EXPECT_EQ(start_admin(ctx, {.address = "unix:" + sock}).error(), errc::already_exists);
  a.reset();
  // A stale socket file (nobody listens): replaced.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  sock.copy(addr.sun_path, sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  auto b = start_admin(ctx, {.address = "unix:" + sock});
  EXPECT_TRUE(b);
}

TEST(AdminOptions, FromEnvironment) {
  ::unsetenv("BEEHIVE_ADMIN");
  EXPECT_FALSE(admin_options_from_env());
  ::setenv("BEEHIVE_ADMIN", "127.0.0.1:9", 1);
  ::setenv("BEEHIVE_ADMIN_WRITES", "1", 1);
  auto o = admin_options_from_env();
  ASSERT_TRUE(o);
  EXPECT_EQ(o->address, "127.0.0.1:9");
  EXPECT_TRUE(o->allow_writes);
  ::unsetenv("BEEHIVE_ADMIN");
  ::unsetenv("BEEHIVE_ADMIN_WRITES");
}

}  // namespace
}  // namespace beehive
