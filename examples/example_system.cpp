// SPDX-License-Identifier: Apache-2.0
//
// The example system of Go beehive, in C++: a source module sends an asynchronous message and a
// synchronous request to a destination module, and broadcasts to a destination group; the
// receivers print what they get and reply where asked. The program narrates on stdout, then
// shuts the core down (or, with --wait, waits for Ctrl-C / SIGTERM first).
//
// Exit code 0 when every message arrived and every reply came back, 1 otherwise.

#include <atomic>
#include <beehive/beehive.hpp>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

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

}  // namespace

int main(int argc, char** argv) {
  bool wait_for_signal = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--wait") == 0) {
      wait_for_signal = true;
    } else {
      std::fprintf(stderr, "usage: %s [--wait]\n  --wait  after the demo, wait for Ctrl-C\n",
                   argv[0]);
      return 2;
    }
  }

  beehive::context ctx;
  beehive::core core(ctx);
  tally t;
  auto source_done = t.source_done.get_future();

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

  if (waiter) {
    say("core: demo done; waiting for Ctrl-C (SIGINT, SIGTERM, SIGHUP or SIGQUIT)");
  }
  const auto report = waiter ? core.graceful_shutdown(*waiter) : core.shutdown();
  std::string stopped;
  for (const auto& m : report.stopped) stopped += (stopped.empty() ? "" : ", ") + m;
  say("core: shutdown stopped (in order) %s%s", stopped.c_str(),
      report.clean() ? "" : "; some modules overran the deadline");

  // The destination got the async message and the request; each group member the broadcast and
  // the group request; three replies were sent (the request's and one per member).
  const bool counts_ok =
      t.destination_received == 2 && t.group_received == 4 && t.replies_sent == 3;
  const bool success = source_ok && counts_ok && report.clean();
  say("result: %s (destination received %d, group members received %d, replies sent %d)",
      success ? "OK" : "FAILED", t.destination_received.load(), t.group_received.load(),
      t.replies_sent.load());
  return success ? 0 : 1;
}
