// SPDX-License-Identifier: Apache-2.0
//
// The example system of Go beehive, in C++: a source module sends an asynchronous message and a
// synchronous request to a destination module, and broadcasts to a destination group; the
// receivers print what they get and reply where asked. Then a second process
// (example_remote, built beside this program) joins the system over the unixpacket socket as
// module "remotemod", makes the same four calls to the destination module and group, and
// answers a send_sync of the system. The program narrates on stdout, then shuts the core down
// (or, with --wait, waits for Ctrl-C / SIGTERM first). --no-socket skips the second process.
// The admin API is on when BEEHIVE_ADMIN (or --admin ADDR) gives an address: `beehive top`,
// `beehive tap`, Prometheus and the dashboard then see the system (docs/operations.md);
// BEEHIVE_ADMIN_WRITES=1 (or --admin-writes) lets `beehive send` and `request` in.
//
// Exit code 0 when every message arrived and every reply came back, 1 otherwise.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <beehive/admin.hpp>
#include <beehive/beehive.hpp>
#include <beehive/socket.hpp>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::string_view source_name = "sourcemodule";
constexpr std::string_view destination_name = "destinationmodule";
constexpr std::string_view group_name = "destinationgroup";
constexpr std::string_view group_member_1 = "destinationgroupmodule1";
constexpr std::string_view group_member_2 = "destinationgroupmodule2";

const clock_type::time_point program_start = clock_type::now();

// One line per event, prefixed with the time since start; lines from module threads never mix.
__attribute__((format(printf, 1, 2))) void say(const char* format, ...) {
  static std::mutex mu;
  const double ms =
      std::chrono::duration<double, std::milli>(clock_type::now() - program_start).count();
  std::lock_guard lock(mu);
  std::printf("[%8.3f ms] ", ms);
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
  std::printf("\n");
  std::fflush(stdout);
}

std::string body_of(const beehive::message& m) { return m.content_data().value_or("<no text>"); }

double micros_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t).count();
}

// What the receivers saw, checked at the end.
struct tally {
  std::atomic<int> destination_received{0};
  std::atomic<int> group_received{0};
  std::atomic<int> replies_sent{0};
  std::promise<bool> source_done;  // true when every call of the source succeeded
};

// A receiver's loop: prints each message, replies to sync ones, ends on channel_closed.
void serve(beehive::context& ctx, std::string_view self, std::atomic<int>& received,
           std::atomic<int>& replies_sent) {
  for (;;) {
    auto msg = ctx.receive(self);
    if (!msg) {
      if (msg.error() == beehive::errc::channel_closed) {
        say("%s: inbox closed, module stops", self.data());
      } else {
        say("%s: receive failed: %s", self.data(), msg.error().message().c_str());
      }
      return;
    }
    ++received;
    say("%s <- %s: \"%s\" (%s, operation %s, resource %s)", self.data(), msg->route.source.c_str(),
        body_of(*msg).c_str(), msg->header.sync ? "sync" : "async", msg->route.operation.c_str(),
        msg->route.resource.c_str());
    if (msg->header.sync) {
      auto reply = beehive::new_resp_by_message(*msg, std::string("ack from ") + self.data());
      reply.route.source = std::string(self);
      if (auto r = ctx.send_resp(std::move(reply)); r) {
        ++replies_sent;
        say("%s -> %s: reply \"ack from %s\"", self.data(), msg->route.source.c_str(), self.data());
      } else {
        say("%s: send_resp failed: %s", self.data(), r.error().message().c_str());
      }
    }
  }
}

// The source: one of each kind of call, each result printed.
void run_source(beehive::context& ctx, tally& t) {
  bool ok = true;
  const std::string src(source_name);
  const std::string dst(destination_name);
  const std::string grp(group_name);

  // 1. Asynchronous send.
  auto async_msg = beehive::new_message()
                       .build_router(src, grp, "resource", std::string(beehive::insert_operation))
                       .fill_body("hello, destination (async)");
  say("%s -> %s: send \"%s\" (async, id %s)", src.c_str(), dst.c_str(), body_of(async_msg).c_str(),
      async_msg.header.id.c_str());
  if (auto r = ctx.send(dst, async_msg); !r) {
    say("%s: send failed: %s", src.c_str(), r.error().message().c_str());
    ok = false;
  }

  // 2. Synchronous request: waits for the destination's reply.
  auto request = beehive::new_message()
                     .build_router(src, grp, "resource", std::string(beehive::query_operation))
                     .fill_body("are you there? (sync)");
  say("%s -> %s: send_sync \"%s\" (id %s, timeout 5 s)", src.c_str(), dst.c_str(),
      body_of(request).c_str(), request.header.id.c_str());
  const auto sent_at = clock_type::now();
  auto reply = ctx.send_sync(dst, request, 5s);
  const double rtt_us = micros_since(sent_at);
  if (reply) {
    say("%s <- %s: reply \"%s\" (parent id %s), round trip %.1f us (the receiver prints before it "
        "replies)",
        src.c_str(), reply->route.source.c_str(), body_of(*reply).c_str(),
        reply->header.parent_id.c_str(), rtt_us);
    if (reply->header.parent_id != request.header.id) ok = false;
  } else {
    say("%s: send_sync failed: %s", src.c_str(), reply.error().message().c_str());
    ok = false;
  }

  // 3. Group broadcast: every member of the group gets the message.
  auto broadcast = beehive::new_message()
                       .build_router(src, grp, "resource", std::string(beehive::update_operation))
                       .fill_body("hello, group (broadcast)");
  say("%s -> group %s: send_to_group \"%s\"", src.c_str(), grp.c_str(), body_of(broadcast).c_str());
  if (auto d = ctx.send_to_group(grp, broadcast); d) {
    say("%s: broadcast delivered to %zu members, %zu failed", src.c_str(), d->delivered,
        d->failed.size());
    if (d->delivered != 2 || !d->failed.empty()) ok = false;
  } else {
    say("%s: send_to_group failed: %s", src.c_str(), d.error().message().c_str());
    ok = false;
  }

  // 4. Group request: waits until every member has replied.
  auto poll = beehive::new_message()
                  .build_router(src, grp, "resource", std::string(beehive::query_operation))
                  .fill_body("roll call (group sync)");
  say("%s -> group %s: send_to_group_sync \"%s\" (timeout 5 s)", src.c_str(), grp.c_str(),
      body_of(poll).c_str());
  const auto polled_at = clock_type::now();
  auto replies = ctx.send_to_group_sync(grp, poll, 5s);
  const double poll_us = micros_since(polled_at);
  if (replies) {
    for (const auto& r : replies->replies) {
      say("%s <- %s: reply \"%s\"", src.c_str(), r.route.source.c_str(), body_of(r).c_str());
    }
    say("%s: %zu replies, %zu missing, %zu undeliverable, in %.1f us", src.c_str(),
        replies->replies.size(), replies->missing.size(), replies->failed.size(), poll_us);
    if (replies->replies.size() != 2 || !replies->complete()) ok = false;
  } else {
    say("%s: send_to_group_sync failed: %s", src.c_str(), replies.error().message().c_str());
    ok = false;
  }

  // 5. An error path, as a value: nobody is called "nosuchmodule".
  auto lost = ctx.send("nosuchmodule", beehive::new_message().fill_body("anyone?"));
  say("%s -> nosuchmodule: send -> %s", src.c_str(),
      lost ? "ok (unexpected!)" : lost.error().message().c_str());
  if (lost) ok = false;

  t.source_done.set_value(ok);
}

// The socket part: this process listens as "sockserver"; example_remote joins as "remotemod".
// Returns true when the second process made its calls and answered ours.
bool run_socket_demo(beehive::context& ctx, const char* argv0, beehive::admin* admin) {
  char dir_template[] = "/tmp/beehive-example-XXXXXX";
  const char* dir = ::mkdtemp(dir_template);
  if (dir == nullptr) {
    say("socket: cannot make a temporary directory: %s", std::strerror(errno));
    return false;
  }
  const std::string config_path = std::string(dir) + "/socket_module.yaml";
  const std::string address = std::string(dir) + "/beehive.sock";
  std::ofstream(config_path) << "- module: sockserver\n  server: true\n  address: " << address
                             << "\n  sockettype: unixpacket\n  connmax: 4\n  buffersize: 65536\n"
                             << "- module: remotemod\n  server: false\n  address: " << address
                             << "\n  sockettype: unixpacket\n  buffersize: 65536\n";
  auto cfg = beehive::load_socket_config(config_path);
  if (!cfg) {
    say("socket: config: %s", cfg.error().message().c_str());
    return false;
  }
  auto sock = beehive::register_socket_context(ctx, *cfg);
  if (!sock) {
    say("socket: %s", sock.error().message().c_str());
    return false;
  }
  if (auto r = (*sock)->listen(); !r) {
    say("socket: listen: %s", r.error().message().c_str());
    return false;
  }
  say("sockserver: listening on %s (config %s)", address.c_str(), config_path.c_str());
  if (admin != nullptr) admin->watch("sockserver", *sock);

  // example_remote sits beside this program.
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  const std::string remote = (self.parent_path() / "example_remote").string();
  const std::string env_config = "SOCKET_MODULE_CONFIG=" + config_path;
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  env.push_back(const_cast<char*>(env_config.c_str()));
  env.push_back(nullptr);
  std::vector<std::string> args = {
      remote,     "--to", std::string(destination_name), "--group", std::string(group_name),
      "--answer", "1"};
  std::vector<char*> argv_remote;
  for (auto& a : args) argv_remote.push_back(a.data());
  argv_remote.push_back(nullptr);
  pid_t pid = 0;
  if (int rc =
          ::posix_spawn(&pid, remote.c_str(), nullptr, nullptr, argv_remote.data(), env.data());
      rc != 0) {
    say("socket: cannot start %s (%s): %s", remote.c_str(), argv0, std::strerror(rc));
    (*sock)->stop();
    return false;
  }
  say("sockserver: started a second process, pid %d: %s", static_cast<int>(pid), remote.c_str());

  bool ok = true;
  if ((*sock)->wait_connected("remotemod", 10s)) {
    say("sockserver: remotemod joined over the socket; the system calls it");
    const auto sent_at = clock_type::now();
    auto reply = ctx.send_sync(
        "remotemod",
        beehive::new_message()
            .build_router("sockserver", "", "resource", std::string(beehive::query_operation))
            .fill_body("ping from the system"),
        5s);
    if (reply) {
      say("sockserver <- remotemod: reply \"%s\", round trip across processes %.1f us",
          body_of(*reply).c_str(), micros_since(sent_at));
    } else {
      say("sockserver: send_sync to remotemod failed: %s", reply.error().message().c_str());
      ok = false;
    }
  } else {
    say("sockserver: remotemod did not join within 10 s");
    ok = false;
  }

  // Bounded wait for the second process; killed if it hangs.
  int status = 0;
  std::promise<void> exited;
  auto exited_f = exited.get_future();
  std::thread reaper([&] {
    ::waitpid(pid, &status, 0);
    exited.set_value();
  });
  if (exited_f.wait_for(15s) != std::future_status::ready) {
    say("sockserver: the second process did not finish within 15 s; killing it");
    ::kill(pid, SIGKILL);
    ok = false;
  }
  reaper.join();
  const bool child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  say("sockserver: second process exited (%s)", child_ok ? "status 0" : "failed");
  const auto st = (*sock)->stats();
  say("sockserver: socket counters: %llu records in, %llu out, %llu rejected",
      static_cast<unsigned long long>(st.records_in),
      static_cast<unsigned long long>(st.records_out),
      static_cast<unsigned long long>(st.malformed_records + st.oversized_records + st.bad_frames +
                                      st.handshakes_rejected));
  (*sock)->stop();
  std::filesystem::remove_all(dir);
  return ok && child_ok;
}

}  // namespace

int main(int argc, char** argv) {
  bool wait_for_signal = false;
  bool with_socket = true;
  auto admin_options = beehive::admin_options_from_env();
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--admin") == 0 && i + 1 < argc) {
      if (!admin_options) admin_options.emplace();
      admin_options->address = argv[++i];
    } else if (std::strcmp(argv[i], "--admin-writes") == 0 && admin_options) {
      admin_options->allow_writes = true;
    } else if (std::strcmp(argv[i], "--wait") == 0) {
      wait_for_signal = true;
    } else if (std::strcmp(argv[i], "--no-socket") == 0) {
      with_socket = false;
    } else {
      std::fprintf(
          stderr,
          "usage: %s [--wait] [--no-socket] [--admin ADDR [--admin-writes]]\n  --wait       "
          "after the demo, wait for Ctrl-C\n  --no-socket  no second process joining "
          "over the socket\n  --admin ADDR the admin API (unix:/path or 127.0.0.1:PORT; "
          "default $BEEHIVE_ADMIN)\n",
          argv[0]);
      return 2;
    }
  }

  beehive::context ctx;
  beehive::core core(ctx);
  tally t;
  auto source_done = t.source_done.get_future();
  // Declared after the core and the context, so that it stops before they go.
  std::unique_ptr<beehive::admin> admin;
  if (admin_options) {
    auto a = beehive::start_admin(ctx, *admin_options);
    if (!a) {
      say("admin: cannot serve on %s: %s", admin_options->address.c_str(),
          a.error().message().c_str());
      return 1;
    }
    admin = std::move(*a);
    admin->watch(core);
    say("admin: API on %s%s", admin->address().c_str(),
        admin_options->allow_writes ? " (writes enabled)" : "");
  }

  // Registered as a user would: destinations first, so they are started before the source.
  auto add = [&](std::string_view name, std::string_view group,
                 beehive::simple_module::start_fn fn) {
    auto r = core.register_module(
        std::make_shared<beehive::simple_module>(std::string(name), std::string(group), fn));
    if (!r) say("register %s failed: %s", name.data(), r.error().message().c_str());
    return r.has_value();
  };
  bool ok = true;
  ok &= add(destination_name, destination_name, [&](beehive::context& c) {
    serve(c, destination_name, t.destination_received, t.replies_sent);
  });
  ok &= add(group_member_1, group_name, [&](beehive::context& c) {
    serve(c, group_member_1, t.group_received, t.replies_sent);
  });
  ok &= add(group_member_2, group_name, [&](beehive::context& c) {
    serve(c, group_member_2, t.group_received, t.replies_sent);
  });
  ok &= add(source_name, "sourcegroup", [&](beehive::context& c) { run_source(c, t); });
  if (!ok) return 1;

  std::unique_ptr<beehive::signal_waiter> waiter;
  if (wait_for_signal) waiter = std::make_unique<beehive::signal_waiter>();

  say("core: starting %zu modules", core.modules().size());
  if (auto r = core.start_modules(); !r) {
    say("core: start_modules failed: %s", r.error().message().c_str());
    return 1;
  }
  for (const auto& [group, members] : ctx.groups()) {
    std::string list;
    for (const auto& m : members) list += (list.empty() ? "" : ", ") + m;
    say("core: group %s = {%s}", group.c_str(), list.c_str());
  }

  bool source_ok = false;
  if (source_done.wait_for(30s) == std::future_status::ready) {
    source_ok = source_done.get();
  } else {
    say("core: the source did not finish within 30 s");
  }

  bool socket_ok = true;
  if (with_socket && source_ok) {
    socket_ok = run_socket_demo(ctx, argv[0], admin.get());
  }

  if (waiter) {
    say("core: demo done; waiting for Ctrl-C (SIGINT, SIGTERM, SIGHUP or SIGQUIT)");
  }
  const auto report = waiter ? core.graceful_shutdown(*waiter) : core.shutdown();
  std::string stopped;
  for (const auto& m : report.stopped) stopped += (stopped.empty() ? "" : ", ") + m;
  say("core: shutdown stopped (in order) %s%s", stopped.c_str(),
      report.clean() ? "" : "; some modules overran the deadline");

  // Counted once every module has returned (a receiver counts its reply after sending it, so
  // the counts are final only now). In process: the destination got the async message and the
  // request, each group member the broadcast and the group request, and three replies went
  // out. The second process adds as much again.
  const int rounds = with_socket && source_ok ? 2 : 1;
  // With admin writes on, `beehive send` may have added messages: at least as many then.
  const bool extra = admin_options && admin_options->allow_writes;
  const auto fits = [extra](int got, int want) { return extra ? got >= want : got == want; };
  const bool counts_ok = fits(t.destination_received, 2 * rounds) &&
                         fits(t.group_received, 4 * rounds) && fits(t.replies_sent, 3 * rounds);
  const bool success = source_ok && counts_ok && socket_ok && report.clean();
  say("result: %s (destination received %d, group members received %d, replies sent %d)",
      success ? "OK" : "FAILED", t.destination_received.load(), t.group_received.load(),
      t.replies_sent.load());
  return success ? 0 : 1;
}
