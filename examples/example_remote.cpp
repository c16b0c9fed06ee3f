// SPDX-License-Identifier: Apache-2.0
// A second process joining a beehive system over the socket.
//
//   example_remote --serve            # a small system: module "hub" (group "hubs") listening
//   example_remote                    # joins it as remote module "remotemod" and uses it
//   example_remote --to M --group G   # joins any system whose server hosts module M, group G
//   example_remote ... --answer N     # and, before leaving, answers N sync requests of the system
//
// The socket config comes from $SOCKET_MODULE_CONFIG (Go's socket_module.yaml); without it,
// both sides use /tmp/beehive-example/socket_module.yaml, written on first use. The joining
// side sends a message, makes a send_sync, a send_to_group and a send_to_group_sync, answers
// the server's sync requests, prints what happens and exits.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "beehive/beehive.hpp"
#include "beehive/socket.hpp"

using namespace std::chrono_literals;

namespace {

beehive::expected<beehive::socket_config> load_config() {
  if (const char* env = std::getenv("SOCKET_MODULE_CONFIG"); env != nullptr && *env != '\0') {
    return beehive::load_socket_config_from_env();
  }
  const std::string dir = "/tmp/beehive-example";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/socket_module.yaml";
  if (!std::filesystem::exists(path)) {
    std::ofstream(path) << "- module: sockserver\n  server: true\n  address: " << dir
                        << "/beehive.sock\n  sockettype: unixpacket\n  connmax: 8\n"
                        << "- module: remotemod\n  server: false\n  address: " << dir
                        << "/beehive.sock\n  sockettype: unixpacket\n";
  }
  return beehive::load_socket_config(path);
}

// The system side: "hub" prints what it gets and answers sync requests.
int serve(const beehive::socket_config& cfg) {
  beehive::context ctx;
  auto sock = beehive::register_socket_context(ctx, cfg);
  if (!sock) return 1;
  beehive::core core(ctx);
  (void)core.register_module(
      std::make_shared<beehive::simple_module>("hub", "hubs", [](beehive::context& c) {
        for (;;) {
          auto m = c.receive("hub");
          if (!m) return;
          const std::string body =
              m->content.to_string().value_or(m->content.json_text().value_or(""));
          std::printf("hub: got \"%s\" from %s%s\n", body.c_str(), m->route.source.c_str(),
                      m->header.sync ? " (sync)" : "");
          std::fflush(stdout);
          if (m->header.sync)
            (void)c.send_resp(beehive::new_resp_by_message(*m, "hub got " + body));
        }
      }));
  if (auto r = (*sock)->listen(); !r) {
    std::fprintf(stderr, "cannot listen: %s\n", r.error().message().c_str());
    return 1;
  }
  std::printf("system listening on %s; run example_remote in another shell\n",
              cfg.server()->address.c_str());
  std::fflush(stdout);
  auto r = core.run();  // until SIGINT/SIGTERM
  (*sock)->stop();
  return r ? 0 : 1;
}

// The joining side.
int join(const beehive::socket_config& cfg, const std::string& to, const std::string& group,
         int answer) {
  beehive::context ctx;
  auto sock = beehive::register_socket_context(ctx, cfg);
  if (!sock) return 1;
  beehive::module_info me;
  me.name = "remotemod";
  me.type = "unixpacket";
  me.remote = true;
  if (auto r = ctx.add_module(me); !r) {
    std::fprintf(stderr, "remotemod: %s\n", r.error().message().c_str());
    return 1;
  }
  if (!(*sock)->wait_connected(to, 5s)) {
    std::fprintf(stderr, "remotemod: no system with module '%s' (is the server running?)\n",
                 to.c_str());
    (*sock)->stop();
    return 1;
  }
  // remotemod's own inbox: requests of the system arrive here; each sync one is answered.
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::thread server_side([&] {
    for (;;) {
      auto m = ctx.receive("remotemod");
      if (!m) return;  // channel_closed: we are leaving
      const std::string body = m->content.to_string().value_or("?");
      std::printf("remotemod: got \"%s\" from %s%s\n", body.c_str(), m->route.source.c_str(),
                  m->header.sync ? " (sync)" : "");
      std::fflush(stdout);
      if (!m->header.sync) continue;
      auto resp = beehive::new_resp_by_message(*m, "pong from another process");
      resp.route.source = "remotemod";
      if (auto r = ctx.send_resp(std::move(resp)); !r) {
        std::printf("remotemod: send_resp -> %s\n", r.error().message().c_str());
      }
      std::lock_guard lock(mu);
      ++answered;
      cv.notify_all();
    }
  });
  std::printf("remotemod: joined; the system hosts:");
  for (const auto& p : (*sock)->peers()) std::printf(" %s", p.c_str());
  std::printf("\n");

  auto hello = beehive::new_message().build_router("remotemod", "", "greeting", "insert");
  auto sent = ctx.send(to, hello.fill_body("hello from another process"));
  std::printf("remotemod: send -> %s\n", sent ? "ok" : sent.error().message().c_str());

  auto reply = ctx.send_sync(
      to,
      beehive::new_message()
          .build_router("remotemod", "", "resource", std::string(beehive::query_operation))
          .fill_body("ping"),
      2s);
  std::printf("remotemod: send_sync -> %s\n", reply
                                                  ? reply->content.to_string().value_or("?").c_str()
                                                  : reply.error().message().c_str());

  auto d = ctx.send_to_group(
      group, beehive::new_message()
                 .build_router("remotemod", "", "resource", std::string(beehive::update_operation))
                 .fill_body("hello, group"));
  std::printf(
      "remotemod: send_to_group %s -> %s\n", group.c_str(),
      d ? (std::to_string(d->delivered) + " delivered").c_str() : d.error().message().c_str());

  auto gs = ctx.send_to_group_sync(
      group,
      beehive::new_message()
          .build_router("remotemod", "", "resource", std::string(beehive::query_operation))
          .fill_body("roll call"),
      2s);
  if (gs) {
    std::printf("remotemod: send_to_group_sync %s -> %zu replies, %zu missing\n", group.c_str(),
                gs->replies.size(), gs->missing.size());
  } else {
    std::printf("remotemod: send_to_group_sync -> %s\n", gs.error().message().c_str());
  }
  bool answered_all = true;
  if (answer > 0) {
    std::unique_lock lock(mu);
    answered_all = cv.wait_for(lock, 10s, [&] { return answered >= answer; });
    if (!answered_all) std::printf("remotemod: the system did not call within 10 s\n");
  }
  (*sock)->stop();
  (void)ctx.cleanup("remotemod");
  server_side.join();
  return sent && reply && answered_all ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool server = false;
  std::string to = "hub";
  std::string group = "hubs";
  int answer = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--serve") {
      server = true;
    } else if (a == "--to" && i + 1 < argc) {
      to = argv[++i];
    } else if (a == "--group" && i + 1 < argc) {
      group = argv[++i];
    } else if (a == "--answer" && i + 1 < argc) {
      answer = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--serve] [--to MODULE] [--group GROUP] [--answer N]\n",
                   argv[0]);
      return 2;
    }
  }
  auto cfg = load_config();
  if (!cfg) {
    std::fprintf(stderr, "socket config: %s\n", cfg.error().message().c_str());
    return 1;
  }
  return server ? serve(*cfg) : join(*cfg, to, group, answer);
}
