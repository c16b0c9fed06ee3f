// SPDX-License-Identifier: Apache-2.0
// A second process for the multi-process socket tests: hosts the remote module `remotemod`
// (through a core, so the core's reconnect hook is exercised), joins the server named in
// $SOCKET_MODULE_CONFIG, then runs every call toward the server once:
//   send srvmod, send_sync srvmod, send_to_group srvgroup, send_to_group_sync srvgroup,
// reporting each outcome to srvmod as "result:<call>:ok|fail:<why>". Its module answers sync
// requests with "pong:<content>" and reports plain messages to srvmod as "echo:<content>".
// Runs until SIGTERM/SIGINT or until its module receives "exit"; then stops cleanly, exit 0.
#include <signal.h>
#include <sys/prctl.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "beehive/beehive.hpp"
#include "beehive/socket.hpp"

using namespace std::chrono_literals;

namespace {

// Set by "exit" (or a termination signal): main then stops everything and exits.
std::mutex exit_mu;
std::condition_variable exit_cv;
bool exit_requested = false;

void request_exit() {
  {
    std::lock_guard lock(exit_mu);
    exit_requested = true;
  }
  exit_cv.notify_all();
}

void report(beehive::context& ctx, const std::string& call, bool ok, const std::string& why = {}) {
  auto m = beehive::new_message().fill_body("result:" + call + ":" + (ok ? "ok" : "fail:" + why));
  m.route.source = "remotemod";
  (void)ctx.send("srvmod", std::move(m));
}

void module_loop(beehive::context& ctx) {
  for (;;) {
    auto m = ctx.receive("remotemod");
    if (!m) return;  // channel_closed: the connection dropped; the core reconnects
    const std::string body = m->content.to_string().value_or("");
    if (body == "exit") {
      request_exit();
      continue;
    }
    if (m->header.sync) {
      auto resp = beehive::new_resp_by_message(*m, beehive::content("pong:" + body));
      resp.route.source = "remotemod";
      (void)ctx.send_resp(std::move(resp));
    } else {
      auto echo = beehive::new_message().fill_body("echo:" + body);
      echo.route.source = "remotemod";
      (void)ctx.send("srvmod", std::move(echo));
    }
  }
}

}  // namespace

int main() {
  // Never outlive the test that started us (a test killed by its timeout runs no destructors).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::string why;
  auto cfg = beehive::load_socket_config_from_env(&why);
  if (!cfg) {
    std::fprintf(stderr, "socket_peer: %s\n", why.c_str());
    return 2;
  }
  beehive::context ctx;
  auto sock = beehive::register_socket_context(ctx, *cfg);
  if (!sock) return 3;
  beehive::core core(ctx);
  beehive::register_options opts;
  opts.type = "unixpacket";
  (void)core.register_module(
      std::make_shared<beehive::simple_module>("remotemod", "remotegroup", module_loop), opts);
  beehive::signal_waiter signals;  // before anything can send us a signal
  if (auto r = core.start_modules(); !r) {
    std::fprintf(stderr, "socket_peer: start: %s\n", r.error().message().c_str());
    return 4;
  }
  if (!(*sock)->wait_connected("srvmod", 10s)) {
    std::fprintf(stderr, "socket_peer: not connected\n");
    return 5;
  }

  auto hello = beehive::new_message().fill_body("hello-from-peer");
  hello.route.source = "remotemod";
  (void)ctx.send("srvmod", std::move(hello));

  auto sync = ctx.send_sync("srvmod", beehive::new_message().fill_body("ping"), 5s);
  const bool sync_ok = sync && sync->content.to_string().value_or("") == "pong:ping";
  report(ctx, "send_sync", sync_ok,
         sync ? sync->content.to_string().value_or("?") : sync.error().message());

  auto group = ctx.send_to_group("srvgroup", beehive::new_message().fill_body("group-hello"));
  report(ctx, "send_to_group", group && group->delivered == 2,
         group ? std::to_string(group->delivered) : group.error().message());

  auto gsync = ctx.send_to_group_sync("srvgroup", beehive::new_message().fill_body("gping"), 5s);
  report(ctx, "send_to_group_sync", gsync && gsync->complete() && gsync->replies.size() == 2,
         gsync ? std::to_string(gsync->replies.size()) : gsync.error().message());

  // Why not only signals.wait(): under ThreadSanitizer a signal that arrives while the waiter
  // blocks in read() can stay deferred; the tests end this process with an "exit" message.
  std::thread signal_thread([&signals] {
    signals.wait();
    request_exit();
  });
  signal_thread.detach();
  {
    std::unique_lock lock(exit_mu);
    exit_cv.wait(lock, [] { return exit_requested; });
  }
  (*sock)->stop();
  const auto report = core.shutdown();
  std::fflush(stdout);
  // The detached signal thread still blocks in the signal waiter's read: leave without
  // running the waiter's destructor under it.
  std::_Exit(report.clean() ? 0 : 6);
}
