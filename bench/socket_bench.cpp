// SPDX-License-Identifier: Apache-2.0
// Socket benchmarks across two processes (JSON lines, as beehive_bench).
//
// Usage: socket_bench NAME...   (unknown names are ignored; --list prints the names)
//   socket_send            process A -> process B, 200k async messages over unixpacket
//   socket_send_sync_rtt   20k send_sync round trips A -> B -> A, 1 s timeout
//   socket_idle_conn_kb    resident memory of process B per idle, handshaken connection:
//                          A opens 100 raw unixpacket connections to B and handshakes each;
//                          kb_per_conn = (B's RSS after - before) / 100 (target <= 128)
//
// Process A (this one) hosts the remote module `remotemod` and connects; process B is this
// program started again with `--serve DIR SCENARIO`: it listens and hosts the channel module
// `sink`. For socket_send, sink checks count and order (sequence number in
// header.resource_version) and, after the last message, tells A with one message back; A's
// clock runs from its first send to that message. For the RTT, sink answers each request.
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/socket.hpp"
#include "bench_util.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using beehive::bench::json;

constexpr std::uint64_t send_count = 200'000;
constexpr std::uint64_t rtt_calls = 20'000;
constexpr std::uint64_t rtt_warmup = 1'000;
constexpr int idle_conns = 100;
constexpr const char* idle_scenario = "socket_idle_conn_kb";

std::string idle_module(int i) { return "idle" + std::to_string(i); }

std::string config_yaml(const std::string& dir, const std::string& scenario) {
  const std::string addr = dir + "/b.sock";
  const bool idle = scenario == idle_scenario;
  std::string y = "- {module: sockserver, server: true, address: " + addr +
                  ", sockettype: unixpacket, connmax: " + (idle ? "512" : "4") +
                  ", buffersize: 65536}\n"
                  "- {module: remotemod, server: false, address: " +
                  addr + ", sockettype: unixpacket, buffersize: 65536}\n";
  // The idle connections' modules (and one to warm up with), listed as clients.
  for (int i = -1; idle && i < idle_conns; ++i) {
    y += "- {module: " + idle_module(i) + ", server: false, address: " + addr +
         ", sockettype: unixpacket, buffersize: 65536}\n";
  }
  return y;
}

// ---- process B ----------------------------------------------------------------------------

int serve(const std::string& dir, const std::string& scenario) {
  if (const char* pin = std::getenv("SOCKET_BENCH_PIN"); pin != nullptr && *pin == '1') {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    sched_setaffinity(0, sizeof set, &set);
  }
  auto cfg = beehive::parse_socket_config(config_yaml(dir, scenario));
  if (!cfg) return 2;
  beehive::context ctx;
  auto sock = beehive::register_socket_context(ctx, *cfg);
  if (!sock) return 3;
  beehive::module_info sink;
  sink.name = "sink";
  sink.inbox.capacity = 4096;
  if (!ctx.add_module(sink)) return 4;
  std::jthread worker([&](const std::stop_token& st) {
    std::uint64_t next = 0;
    std::uint64_t errors = 0;
    while (!st.stop_requested()) {
      auto m = ctx.receive_for("sink", 100ms);
      if (!m) {
        if (m.error() == make_error_code(beehive::errc::timed_out)) continue;
        return;
      }
      if (m->header.sync) {
        auto resp = beehive::new_resp_by_message(*m, beehive::content());
        (void)ctx.send_resp(std::move(resp));
        continue;
      }
      if (scenario == "socket_send") {
        if (m->header.resource_version != std::to_string(next)) ++errors;
        ++next;
        if (next == send_count) {
          auto done = beehive::new_message().fill_body(
              nlohmann::json{{"received", next}, {"errors", errors}});
          (void)ctx.send("remotemod", std::move(done));
          next = 0;
          errors = 0;
        }
      }
    }
  });
  if (!(*sock)->listen()) return 5;
  // Serve until A has come and gone (bounded, in case A never comes).
  if (!(*sock)->wait_connected("remotemod", 30s)) return 6;
  while ((*sock)->connected("remotemod")) std::this_thread::sleep_for(10ms);
  worker.request_stop();
  worker.join();
  (*sock)->stop();
  return 0;
}

// ---- process A ----------------------------------------------------------------------------

struct peer {
  pid_t pid = -1;
  std::string dir;
  ~peer() {
    if (pid > 0) {
      int status = 0;
      // B exits when A disconnects; bound the wait, then make sure.
      for (int i = 0; i < 300 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(10ms);
      }
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// Starts process B and connects A to it; returns the client's context pieces.
struct client {
  peer b;
  beehive::context ctx;
  std::shared_ptr<beehive::socket_context> sock;
  bool ok = false;

  explicit client(const std::string& scenario) {
    char tmpl[] = "/tmp/bhbXXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return;
    b.dir = tmpl;
    std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::string a0 = self;
    std::string a1 = "--serve";
    std::string a2 = b.dir;
    std::string a3 = scenario;
    char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), nullptr};
    if (::posix_spawn(&b.pid, self.c_str(), nullptr, nullptr, argv, environ) != 0) return;
    auto cfg = beehive::parse_socket_config(config_yaml(b.dir, scenario));
    if (!cfg) return;
    auto s = beehive::register_socket_context(ctx, *cfg);
    if (!s) return;
    sock = *s;
    beehive::module_info info;
    info.name = "remotemod";
    info.type = "unixpacket";
    info.remote = true;
    if (!ctx.add_module(info)) return;  // retries in the background until B listens
    ok = sock->wait_connected("sink", 30s);
  }
  ~client() {
    if (sock) sock->stop();
  }
};

json socket_send() {
  json out;
  client c("socket_send");
  if (!c.ok) {
    out["errors"] = 1;
    out["error"] = "peer process did not come up";
    return out;
  }
  std::uint64_t errors = 0;
  const auto t0 = beehive::bench::clock::now();
  for (std::uint64_t i = 0; i < send_count; ++i) {
    auto m = beehive::new_message().build_router("remotemod", "bench", "bench", "insert");
    m.header.resource_version = std::to_string(i);
    if (!c.ctx.send("sink", std::move(m))) ++errors;
  }
  const double send_s = beehive::bench::seconds_since(t0);
  auto done = c.ctx.receive_for("remotemod", 120s);
  const double wall = beehive::bench::seconds_since(t0);
  std::uint64_t received = 0;
  if (done) {
    auto j = done->content.to_json();
    if (j && j->is_object()) {
      received = j->value("received", std::uint64_t{0});
      errors += j->value("errors", std::uint64_t{0});
    }
  }
  if (received != send_count) errors += send_count - std::min(received, send_count);
  out["msgs"] = send_count;
  out["received"] = received;
  out["errors"] = errors;
  out["msgs_per_s"] = beehive::bench::round_to(static_cast<double>(send_count) / wall, 0);
  out["send_s"] = beehive::bench::round_to(send_s, 3);
  auto st = c.sock->stats();
  out["records_out"] = st.records_out;
  return out;
}

json socket_send_sync_rtt() {
  json out;
  client c("socket_send_sync_rtt");
  if (!c.ok) {
    out["errors"] = 1;
    out["error"] = "peer process did not come up";
    return out;
  }
  std::uint64_t errors = 0;
  std::uint64_t timeouts = 0;
  auto call = [&](std::vector<std::uint64_t>* samples) {
    auto m = beehive::new_message().build_router("remotemod", "bench", "bench", "query");
    const auto t = beehive::bench::clock::now();
    auto r = c.ctx.send_sync("sink", std::move(m), 1s);
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(beehive::bench::clock::now() - t)
            .count();
    if (!r) {
      ++errors;
      if (r.error() == make_error_code(beehive::errc::timed_out)) ++timeouts;
    }
    if (samples != nullptr) samples->push_back(static_cast<std::uint64_t>(ns));
  };
  for (std::uint64_t i = 0; i < rtt_warmup; ++i) call(nullptr);
  const std::uint64_t warm_errors = errors;
  errors = 0;
  timeouts = 0;
  std::vector<std::uint64_t> samples;
  samples.reserve(rtt_calls);
  const auto t0 = beehive::bench::clock::now();
  for (std::uint64_t i = 0; i < rtt_calls; ++i) call(&samples);
  const double wall = beehive::bench::seconds_since(t0);
  out["calls"] = rtt_calls;
  out["warmup_calls"] = rtt_warmup;
  out["errors"] = errors + warm_errors;
  out["timeouts"] = timeouts;
  out["calls_per_s"] = beehive::bench::round_to(static_cast<double>(rtt_calls) / wall, 0);
  beehive::bench::add_percentiles(out, samples);
  return out;
}

// Resident set of process `pid` in KiB (/proc/<pid>/statm), or -1.
long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  long size = 0;
  long resident = -1;
  if (!(in >> size >> resident)) return -1;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// A raw unixpacket connection that handshakes as `module` and then stays idle.
class idle_peer {
 public:
  idle_peer(const std::string& path, const std::string& module) {
    fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    beehive::message hs = beehive::new_message();
    hs.header.sync = true;
    hs.header.type = "unixpacket";
    hs.route.source = module;
    hs.route.operation = "add";
    hs.route.resource = "module";
    hs.content = beehive::content(std::string());
    auto text = beehive::encode_message(hs);
    if (!text) return;
    *text += '\n';
    if (::send(fd_, text->data(), text->size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(text->size())) {
      return;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10'000) != 1) return;
    std::string reply(1 << 16, '\0');
    const ssize_t r = ::recv(fd_, reply.data(), reply.size(), 0);
    ok_ = r > 0 && std::string_view(reply.data(), static_cast<std::size_t>(r))
                           .find("\"operation\":\"response\"") != std::string_view::npos;
  }
  ~idle_peer() {
    if (fd_ >= 0) ::close(fd_);
  }
  idle_peer(const idle_peer&) = delete;
  idle_peer& operator=(const idle_peer&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

json socket_idle_conn_kb() {
  json out;
  client c(idle_scenario);
  if (!c.ok) {
    out["errors"] = 1;
    out["error"] = "peer process did not come up";
    return out;
  }
  const std::string path = c.b.dir + "/b.sock";
  std::uint64_t errors = 0;
  // One connection first: what the first one costs once (thread arenas, tables) is not per
  // connection.
  idle_peer warm(path, idle_module(-1));
  if (!warm.ok()) ++errors;
  std::this_thread::sleep_for(300ms);
  const long before = rss_kb(c.b.pid);
  std::vector<std::unique_ptr<idle_peer>> conns;
  conns.reserve(idle_conns);
  for (int i = 0; i < idle_conns; ++i) {
    conns.push_back(std::make_unique<idle_peer>(path, idle_module(i)));
    if (!conns.back()->ok()) ++errors;
  }
  // Idle: long enough for every reader to be asleep and to have given back what it releases
  // when idle.
  std::this_thread::sleep_for(500ms);
  const long after = rss_kb(c.b.pid);
  if (before < 0 || after < 0) ++errors;
  out["conns"] = idle_conns;
  out["errors"] = errors;
  out["rss_before_kb"] = before;
  out["rss_after_kb"] = after;
  out["kb_per_conn"] = beehive::bench::round_to(
      static_cast<double>(after - before) / static_cast<double>(idle_conns), 1);
  return out;
}

const std::vector<beehive::bench::scenario>& scenarios() {
  static const std::vector<beehive::bench::scenario> all = {
      {"socket_send", "process A -> process B, 200k async messages over unixpacket", socket_send},
      {"socket_send_sync_rtt", "20k send_sync round trips across processes, 1 s timeout",
       socket_send_sync_rtt},
      {idle_scenario, "resident KiB per idle, handshaken unixpacket connection (100 of them)",
       socket_idle_conn_kb},
  };
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "--serve") {
    spdlog::set_level(spdlog::level::warn);
    return serve(args[1], args[2]);
  }
  for (const auto& a : args) {
    if (a == "--list") {
      for (const auto& s : scenarios()) std::printf("%s\n", s.name);
      return 0;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  if (const char* pin = std::getenv("SOCKET_BENCH_PIN"); pin != nullptr && *pin == '1') {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);
  }
  for (const auto& a : args) {
    for (const auto& s : scenarios()) {
      if (a == s.name) beehive::bench::run_scenario(s, std::chrono::seconds(180));
    }
  }
  return 0;
}
