// SPDX-License-Identifier: Apache-2.0
//
// `beehive`: looks inside a running beehive process through its admin API (see
// docs/operations.md). It reaches the process at `--admin ADDR` or `BEEHIVE_ADMIN`
// (`unix:/path/admin.sock` or `127.0.0.1:PORT`).
//
//   beehive modules                 modules, types, states, groups
//   beehive stats [--json]          inbox counters, a table or JSON
//   beehive metrics                 the Prometheus text
//   beehive send MODULE --content JSON [--operation O --resource R]
//   beehive request MODULE --content JSON [--timeout S]     prints the reply
//   beehive tap [MODULE | --group G | --all] [--count N]     one JSON line per message
//   beehive top [--once]            live table, refreshed every second; q quits
//   beehive bench MODULE -n N       sends N messages, then reports the rate
//
// Exit codes: see `exit_code` below (also printed by --help).

#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

/// Every way the command ends, one code each.
enum exit_code : int {
  ok = 0,
  failed = 1,             ///< the admin API answered with an error not listed below
  usage = 2,              ///< bad command line
  unreachable = 3,        ///< no admin address, nothing listening there, or the connection failed
  permission_denied = 4,  ///< the admin socket belongs to another user
  unknown_module = 5,     ///< no module (or group) of that name
  malformed_json = 6,     ///< --content is not JSON
  writes_disabled = 7,    ///< send/request on an admin API without writes enabled
  errc_base = 10,         ///< request: 10 + the errc value (timed_out = 15, queue_full = 13, ...)
};

constexpr const char* exit_codes_help =
    "Exit codes: 0 ok; 1 other error; 2 usage; 3 admin API unreachable; 4 permission denied; "
    "5 unknown module or group; 6 malformed JSON content; 7 writes not enabled; "
    "10+errc for a failed request (13 queue_full, 14 channel_closed, 15 timed_out, "
    "17 cancelled, 24 not_connected).";

[[noreturn]] void die(int code, const std::string& what) {
  std::fprintf(stderr, "beehive: %s\n", what.c_str());
  std::exit(code);
}

/// The admin API of one process.
class admin_client {
 public:
  explicit admin_client(std::string address) : address_(std::move(address)) {
    if (address_.empty()) {
      die(unreachable, "no admin address: give --admin ADDR or set BEEHIVE_ADMIN");
    }
    if (address_.rfind("unix:", 0) == 0) {
      const std::string path = address_.substr(5);
      probe_unix(path);
      client_ = std::make_unique<httplib::Client>(path);
      client_->set_address_family(AF_UNIX);
    } else {
      std::string host = address_;
      const auto colon = host.rfind(':');
      if (colon == std::string::npos) die(usage, "admin address not understood: " + address_);
      const int port = std::atoi(host.c_str() + colon + 1);
      host.resize(colon);
      if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
      client_ = std::make_unique<httplib::Client>(host, port);
    }
    client_->set_keep_alive(true);
    client_->set_connection_timeout(std::chrono::seconds(5));
    client_->set_read_timeout(std::chrono::seconds(120));
  }

  httplib::Client& http() { return *client_; }

  /// GET `path`; dies on a transport failure or an error answer.
  json get_json(const std::string& path) { return json::parse(get_text(path)); }
  std::string get_text(const std::string& path) {
    auto r = client_->Get(path);
    check(r);
    if (r->status != 200) die_on_error(*r);
    return r->body;
  }
  httplib::Result post(const std::string& path, const json& body) {
    auto r = client_->Post(path, body.dump(), "application/json");
    check(r);
    return r;
  }

  void check(const httplib::Result& r) const {
    if (!r) {
      die(unreachable,
          "admin API at " + address_ + " unreachable: " + httplib::to_string(r.error()));
    }
  }

  /// An error answer: its exit code by the error's name.
  [[noreturn]] static void die_on_error(const httplib::Response& r) {
    const json j = json::parse(r.body, nullptr, false);
    const std::string name = j.is_object() ? j.value("error", "") : "";
    const std::string text = j.is_object() ? j.value("message", r.body) : r.body;
    if (name == "permission_denied") die(permission_denied, "permission denied: " + text);
    if (name == "writes_disabled") die(writes_disabled, text);
    if (name == "module_not_found" || name == "group_not_found") {
      die(unknown_module, name + ": " + text);
    }
    if (name == "malformed_json") die(malformed_json, text);
    if (j.is_object() && j.contains("errc") && j["errc"].is_number() && j["errc"].get<int>() > 0) {
      die(errc_base + j["errc"].get<int>(), name + ": " + text);
    }
    die(failed,
        "HTTP " + std::to_string(r.status) + ": " + (name.empty() ? text : name + ": " + text));
  }

 private:
  // A unix socket's failures told apart before HTTP hides them: missing or refused (nothing
  // listens) versus permission denied (another user's socket).
  void probe_unix(const std::string& path) const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) die(usage, "admin socket path too long: " + path);
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    const int err = errno;
    ::close(fd);
    if (r == 0) return;
    if (err == EACCES || err == EPERM) {
      die(permission_denied, "permission denied on admin socket " + path);
    }
    die(unreachable, "admin socket " + path + " unreachable: " + std::strerror(err));
  }

  std::string address_;
  std::unique_ptr<httplib::Client> client_;
};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string human_seconds(const json& v) {
  if (!v.is_number()) return v.is_string() ? ">10s" : "-";
  const double s = v.get<double>();
  if (s < 0.001) return fixed(s * 1e6, 0) + "us";
  if (s < 1) return fixed(s * 1e3, 1) + "ms";
  return fixed(s, 2) + "s";
}

/// Rows printed with columns padded to their widest cell.
void print_table(const std::vector<std::vector<std::string>>& rows, std::string& out) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
}

std::string join(const json& list) {
  std::string out;
  for (const auto& g : list) {
    if (!out.empty()) out += ',';
    out += g.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

int cmd_modules(admin_client& c) {
  const json j = c.get_json("/api/modules");
  std::vector<std::vector<std::string>> rows = {
      {"MODULE", "TYPE", "STATE", "RESTARTS", "HOST", "GROUPS"}};
  for (const auto& m : j.at("modules")) {
    rows.push_back({m.at("name"), m.at("type"), m.at("state"),
                    std::to_string(m.at("restarts").get<long>()), m.at("host"),
                    join(m.at("groups"))});
  }
  std::string out;
  print_table(rows, out);
  std::fputs(out.c_str(), stdout);
  return ok;
}

std::uint64_t field(const json& m, const char* name) {
  if (!m.contains("inbox")) return 0;
  const auto& v = m.at("inbox").value(name, json(0));
  return v.is_number() ? v.get<std::uint64_t>() : 0;
}

std::uint64_t drops(const json& m) {
  return field(m, "rejected_full") + field(m, "dropped_oldest") + field(m, "dropped_on_close");
}

int cmd_stats(admin_client& c, bool as_json) {
  const std::string body = c.get_text("/api/stats");
  if (as_json) {
    std::fputs(body.c_str(), stdout);
    std::fputc('\n', stdout);
    return ok;
  }
  const json j = json::parse(body);
  std::vector<std::vector<std::string>> rows = {
      {"MODULE", "DEPTH", "CAPACITY", "ACCEPTED", "RECEIVED", "DROPPED", "SYNC_CALLS", "SYNC_P99"}};
  for (const auto& [name, m] : j.at("modules").items()) {
    const bool local = m.contains("inbox");
    const bool sync = m.contains("sync");
    rows.push_back({name, local ? std::to_string(field(m, "queued")) : "-",
                    local ? std::to_string(field(m, "capacity")) : "-",
                    local ? std::to_string(field(m, "accepted")) : "-",
                    local ? std::to_string(field(m, "received")) : "-",
                    local ? std::to_string(drops(m)) : "-",
                    sync ? std::to_string(m.at("sync").at("count").get<std::uint64_t>()) : "0",
                    sync ? human_seconds(m.at("sync").at("p99_seconds")) : "-"});
  }
  std::string out;
  print_table(rows, out);
  out += "orphan responses: " + std::to_string(j.at("orphan_responses").get<std::uint64_t>()) +
         ", taps: " + std::to_string(j.at("tap").at("attached").get<std::uint64_t>()) + "\n";
  std::fputs(out.c_str(), stdout);
  return ok;
}

struct write_args {
  std::string module;
  std::string group;
  std::string operation = "update";
  std::string resource;
  std::string source = "beehive";
  std::string content;
  double timeout_s = 5;
};

json write_body(const write_args& a) {
  json body = {{"operation", a.operation}, {"resource", a.resource}, {"source", a.source}};
  if (!a.module.empty()) body["module"] = a.module;
  if (!a.group.empty()) body["group"] = a.group;
  if (!a.content.empty()) {
    json content = json::parse(a.content, nullptr, false);
    if (content.is_discarded()) die(malformed_json, "--content is not JSON: " + a.content);
    body["content"] = std::move(content);
  }
  return body;
}

int cmd_send(admin_client& c, const write_args& a) {
  auto r = c.post("/api/send", write_body(a));
  if (r->status != 202) admin_client::die_on_error(*r);
  const json j = json::parse(r->body);
  std::printf("sent %s\n", j.value("id", "").c_str());
  return ok;
}

int cmd_request(admin_client& c, const write_args& a) {
  json body = write_body(a);
  body["timeout_ms"] = static_cast<std::uint64_t>(std::max(0.0, a.timeout_s) * 1000);
  auto r = c.post("/api/request", body);
  if (r->status != 200) admin_client::die_on_error(*r);
  std::printf("%s\n", r->body.c_str());
  return ok;
}

int cmd_tap(admin_client& c, const std::string& module, const std::string& group, bool all,
            long count) {
  std::string path = "/api/tap";
  if (!all && !module.empty()) path += "?module=" + httplib::detail::encode_query_param(module);
  if (!all && module.empty() && !group.empty())
    path += "?group=" + httplib::detail::encode_query_param(group);
  std::string pending;
  long seen = 0;
  int status = 0;
  std::string error_body;
  auto r = c.http().Get(
      path,
      [&](const httplib::Response& res) {
        status = res.status;
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (status != 200) {
          error_body.append(data, n);
          return true;
        }
        pending.append(data, n);
        for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
          const std::string line = pending.substr(0, nl);
          pending.erase(0, nl + 1);
          if (line.empty()) continue;  // the server's keep-alive
          if (line.rfind("{\"dropped\":", 0) == 0) {
            std::fprintf(stderr, "beehive: tap: %s\n", line.c_str());
            continue;
          }
          std::printf("%s\n", line.c_str());
          std::fflush(stdout);
          if (count > 0 && ++seen >= count) return false;
        }
        return true;
      });
  if (count > 0 && seen >= count) return ok;
  if (status != 0 && status != 200) {
    httplib::Response res;
    res.status = status;
    res.body = error_body;
    admin_client::die_on_error(res);
  }
  c.check(r);
  return ok;
}

// ---- top ------------------------------------------------------------------------------------

struct sample {
  clock_type::time_point at;
  json stats;
};

// p99 of the calls between two samples (from the bucket deltas); the whole history otherwise.
std::string interval_p99(const json* before, const json& now) {
  if (!now.contains("sync")) return "-";
  const auto& s = now.at("sync");
  if (before == nullptr || !before->contains("sync")) return human_seconds(s.at("p99_seconds"));
  const auto& b = before->at("sync");
  const auto& bounds = s.at("bounds");
  std::vector<std::uint64_t> delta;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < s.at("buckets").size(); ++i) {
    const auto d =
        s.at("buckets")[i].get<std::uint64_t>() - b.at("buckets")[i].get<std::uint64_t>();
    delta.push_back(d);
    total += d;
  }
  if (total == 0) return "-";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < delta.size(); ++i) {
    cumulative += delta[i];
    if (static_cast<double>(cumulative) >= 0.99 * static_cast<double>(total)) {
      return i < bounds.size() ? human_seconds(bounds[i]) : ">10s";
    }
  }
  return ">10s";
}

std::string top_frame(const sample& before, const sample& now, const std::string& address) {
  const double dt = std::chrono::duration<double>(now.at - before.at).count();
  std::vector<std::vector<std::string>> rows = {
      {"MODULE", "STATE", "IN/s", "OUT/s", "DEPTH", "DROPS", "SYNC_P99"}};
  const auto& prev = before.stats.at("modules");
  for (const auto& item : now.stats.at("modules").items()) {
    // Not a structured binding: clang 14 cannot capture one in the lambda below.
    const std::string& name = item.key();
    const json& m = item.value();
    const json* b = prev.contains(name) ? &prev.at(name) : nullptr;
    auto rate = [&](const char* f) {
      if (!m.contains("inbox")) return std::string("-");
      const double d = static_cast<double>(field(m, f)) - static_cast<double>(b ? field(*b, f) : 0);
      return fixed(dt > 0 ? d / dt : 0, 1);
    };
    rows.push_back({name, m.value("state", "?"), rate("accepted"), rate("received"),
                    m.contains("inbox") ? std::to_string(field(m, "queued")) : "-",
                    m.contains("inbox") ? std::to_string(drops(m)) : "-", interval_p99(b, m)});
  }
  std::string out = "beehive top - " + address + " - pid " +
                    std::to_string(now.stats.value("pid", 0L)) + " - " +
                    std::to_string(now.stats.at("modules").size()) + " modules - q quits\n\n";
  print_table(rows, out);
  return out;
}

// The terminal in non-canonical, no-echo mode while `top` runs, restored on every exit path.
class raw_terminal {
 public:
  raw_terminal() : active_(::isatty(0) == 1 && ::tcgetattr(0, &saved_) == 0) {
    if (!active_) return;
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(0, TCSANOW, &raw);
  }
  ~raw_terminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }
  raw_terminal(const raw_terminal&) = delete;
  raw_terminal& operator=(const raw_terminal&) = delete;

 private:
  termios saved_{};
  bool active_;
};

// Waits up to `timeout` for a key on stdin; true when it was q (or stdin ended).
bool quit_pressed(std::chrono::milliseconds timeout) {
  const auto until = clock_type::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now());
    if (left.count() <= 0) return false;
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char ch = 0;
    const ssize_t n = ::read(0, &ch, 1);
    if (n == 0) return false;  // stdin closed: keep running until interrupted
    if (n == 1 && (ch == 'q' || ch == 'Q')) return true;
  }
}

int cmd_top(admin_client& c, const std::string& address, bool once, double interval_s) {
  const auto interval =
      std::chrono::milliseconds(static_cast<long>(std::max(0.05, interval_s) * 1000));
  sample before{clock_type::now(), c.get_json("/api/stats")};
  if (once) {
    std::this_thread::sleep_for(interval);  // a rate needs two samples
    const sample now{clock_type::now(), c.get_json("/api/stats")};
    std::fputs(top_frame(before, now, address).c_str(), stdout);
    return ok;
  }
  raw_terminal term;
  for (;;) {
    if (quit_pressed(interval)) return ok;
    const sample now{clock_type::now(), c.get_json("/api/stats")};
    std::string frame = "\x1b[H\x1b[2J" + top_frame(before, now, address);
    std::fputs(frame.c_str(), stdout);
    std::fflush(stdout);
    before = now;
  }
}

int cmd_bench(admin_client& c, const write_args& a, long n) {
  if (n <= 0) die(usage, "-n must be positive");
  json body = write_body(a);
  // 100 requests at most, so that the bar moves and HTTP is not what is measured.
  const long chunk = std::max(1L, std::min(n / 100 + (n % 100 != 0 ? 1 : 0), 1000000L));
  const bool tty = ::isatty(2) == 1;
  const auto start = clock_type::now();
  long sent = 0;
  while (sent < n) {
    const long k = std::min(chunk, n - sent);
    body["repeat"] = k;
    auto r = c.post("/api/send", body);
    if (r->status != 202) admin_client::die_on_error(*r);
    sent += k;
    if (tty) {
      const int width = 40;
      const int filled = static_cast<int>(width * sent / n);
      std::fprintf(stderr, "\r[%s%s] %ld/%ld",
                   std::string(static_cast<std::size_t>(filled), '#').c_str(),
                   std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), sent, n);
    }
  }
  const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
  if (tty) std::fputc('\n', stderr);
  std::printf("sent %ld messages to %s in %.3f s: %.0f msg/s\n", n, a.module.c_str(), secs,
              secs > 0 ? static_cast<double>(n) / secs : 0.0);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"beehive: look inside a running beehive process through its admin API"};
  app.footer(exit_codes_help);
  app.require_subcommand(1);
  std::string address;
  if (const char* env = std::getenv("BEEHIVE_ADMIN")) address = env;
  app.add_option("--admin", address,
                 "Admin API: unix:/path/admin.sock or 127.0.0.1:PORT (default $BEEHIVE_ADMIN)");

  auto* modules = app.add_subcommand("modules", "Modules: type, state, restarts, host, groups");
  bool as_json = false;
  auto* stats = app.add_subcommand("stats", "Inbox counters and send_sync latency");
  stats->add_flag("--json", as_json, "The JSON of /api/stats");
  auto* metrics = app.add_subcommand("metrics", "The Prometheus text of /metrics");

  write_args w;
  auto add_write = [&](CLI::App* sub) {
    sub->add_option("module", w.module, "Destination module")->required();
    sub->add_option("--operation", w.operation, "Route operation")->capture_default_str();
    sub->add_option("--resource", w.resource, "Route resource");
    sub->add_option("--source", w.source, "Route source")->capture_default_str();
    sub->add_option("--content", w.content, "Content, as JSON (a string is \"quoted\")");
  };
  auto* send = app.add_subcommand("send", "Send a message (needs writes enabled)");
  add_write(send);
  auto* request = app.add_subcommand("request", "send_sync a message and print the reply");
  add_write(request);
  request->add_option("--timeout", w.timeout_s, "Seconds to wait for the reply")
      ->capture_default_str();

  auto* tap = app.add_subcommand("tap", "Print a JSON line per message sent (like nats sub)");
  std::string tap_module;
  std::string tap_group;
  bool tap_all = false;
  long tap_count = 0;
  tap->add_option("module", tap_module, "Messages sent to this module");
  tap->add_option("--group", tap_group, "Messages sent to this group");
  tap->add_flag("--all", tap_all, "Every message (the default)");
  tap->add_option("--count", tap_count, "Exit after this many messages");

  auto* top = app.add_subcommand("top", "Live table: rates in and out, depth, drops, sync p99");
  bool once = false;
  double interval = 1.0;
  top->add_flag("--once", once, "Print one frame (two samples --interval apart) and exit");
  top->add_option("--interval", interval, "Seconds between frames")->capture_default_str();

  auto* bench = app.add_subcommand("bench", "Send N messages to a module and report the rate");
  long n = 10000;
  bench->add_option("module", w.module, "Destination module")->required();
  bench->add_option("-n", n, "Messages to send")->capture_default_str();
  bench->add_option("--content", w.content, "Content, as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? ok : usage;
  }

  // Content is checked before the process is reached: malformed JSON is the caller's fault.
  if (!w.content.empty() && json::parse(w.content, nullptr, false).is_discarded()) {
    die(malformed_json, "--content is not JSON: " + w.content);
  }
  admin_client c(address);
  if (modules->parsed()) return cmd_modules(c);
  if (stats->parsed()) return cmd_stats(c, as_json);
  if (metrics->parsed()) {
    std::fputs(c.get_text("/metrics").c_str(), stdout);
    return ok;
  }
  if (send->parsed()) return cmd_send(c, w);
  if (request->parsed()) return cmd_request(c, w);
  if (tap->parsed()) return cmd_tap(c, tap_module, tap_group, tap_all, tap_count);
  if (top->parsed()) return cmd_top(c, address, once, interval);
  if (bench->parsed()) return cmd_bench(c, w, n);
  return usage;
}
