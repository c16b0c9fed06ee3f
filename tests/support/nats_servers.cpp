// SPDX-License-Identifier: Apache-2.0
#include "support/nats_servers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

namespace beehive::test {
namespace {

using namespace std::chrono_literals;

// A port the kernel just gave out, released for the server to bind. Another process can take
// it in between: start_all() sees "address already in use" in the log and starts again.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("nats_servers: no free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string http_get(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  timeval tv{1, 0};  // a hung (SIGSTOPped) server accepts in the kernel but never answers
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[16384];
      ssize_t n = 0;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        response.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  const auto body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) return {};
  return response.substr(body + 4);
}

nlohmann::json parse(const std::string& body) {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

// Polls `pred` until it holds or `timeout` expires. Why a pause between polls: each poll is an
// HTTP request to a server that is starting up on a machine with two cores; yielding in a busy
// loop would take the CPU the server needs. The pause grows from 2 ms to 50 ms.
template <class Pred>
bool poll_until(Pred pred, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  auto pause = 2ms;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 50ms);
  }
  return true;
}

// True when the subscription `filter` (tokens, '*' for one, '>' for the rest) matches `subject`.
// A queue subscription is listed as "subject queue": the queue name is ignored.
bool subject_matches(std::string filter, const std::string& subject) {
  if (const auto sp = filter.find(' '); sp != std::string::npos) filter.resize(sp);
  std::size_t f = 0;
  std::size_t s = 0;
  for (;;) {
    const std::size_t fe = std::min(filter.find('.', f), filter.size());
    const std::size_t se = std::min(subject.find('.', s), subject.size());
    const std::string_view ft(filter.data() + f, fe - f);
    if (ft == ">") return s < subject.size();
    if (s > subject.size()) return false;
    if (ft != "*" && ft != std::string_view(subject.data() + s, se - s)) return false;
    const bool f_end = fe == filter.size();
    const bool s_end = se == subject.size();
    if (f_end || s_end) return f_end && s_end;
    f = fe + 1;
    s = se + 1;
  }
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("nats_servers: cannot write " + path);
}

}  // namespace

nats_servers nats_servers::single(const nats_server_options& options) {
  return nats_servers(1, false, options);
}

nats_servers nats_servers::cluster(std::size_t nodes, const nats_server_options& options) {
  if (nodes == 0) throw std::logic_error("nats_servers::cluster: no nodes");
  return nats_servers(nodes, false, options);
}

nats_servers nats_servers::hub_and_leaf(std::size_t hub_nodes, const nats_server_options& options) {
  if (hub_nodes == 0) throw std::logic_error("nats_servers::hub_and_leaf: no hub nodes");
  return nats_servers(hub_nodes, true, options);
}

nats_servers::nats_servers(std::size_t hub_nodes, bool leaf, const nats_server_options& options)
    : dir_(std::make_unique<temp_dir>()), options_(options), hub_nodes_(hub_nodes) {
  if (const char* p = std::getenv("BEEHIVE_NATS_SERVER"); p != nullptr && *p != '\0') {
    server_program_ = find_program(p);
  } else {
    server_program_ = find_program("nats-server");
  }
  if (server_program_.empty()) {
    throw std::runtime_error("nats_servers: nats-server not found (scripts/setup installs it)");
  }
  for (std::size_t i = 0; i < hub_nodes; ++i) {
    node n;
    n.name = hub_nodes == 1 && !leaf ? "n0" : "hub-" + std::to_string(i);
    n.config = dir_->file(n.name + ".conf");
    n.log = dir_->file(n.name + ".log");
    nodes_.push_back(std::move(n));
  }
  if (leaf) {
    node n;
    n.name = "leaf";
    n.is_leaf = true;
    n.config = dir_->file("leaf.conf");
    n.log = dir_->file("leaf.log");
    nodes_.push_back(std::move(n));
  }
  if (options_.tls != nats_tls::off) make_tls_files();
  if (options_.nkey) {
    if (leaf) throw std::logic_error("nats_servers: nkey authentication with a leaf");
    nkey_ = make_user_nkey(dir_->path(), "user");
    other_nkey_ = make_user_nkey(dir_->path(), "other");
  }
  for (int attempt = 0;; ++attempt) {
    if (start_all()) break;
    if (attempt == 4) fail(0, "a port stayed taken after 5 attempts");
  }
}

nats_servers::~nats_servers() {
  // Processes first (the leaf before the relays it goes through), then the files.
  for (auto& n : nodes_) n.process.kill();
  relays_.clear();
}

nats_servers::nats_servers(nats_servers&&) noexcept = default;
nats_servers& nats_servers::operator=(nats_servers&&) noexcept = default;

std::size_t nats_servers::leaf() const {
  if (!has_leaf()) throw std::logic_error("nats_servers: this topology has no leaf");
  return hub_nodes_;
}

std::string nats_servers::url(std::size_t i) const {
  return std::string(options_.tls == nats_tls::off ? "nats://" : "tls://") +
         "127.0.0.1:" + std::to_string(nodes_.at(i).client);
}

std::string nats_servers::hub_urls() const {
  std::string out;
  for (std::size_t i = 0; i < hub_nodes_; ++i) {
    if (i != 0) out.push_back(',');
    out.append(url(i));
  }
  return out;
}

std::uint16_t nats_servers::client_port(std::size_t i) const { return nodes_.at(i).client; }
std::uint16_t nats_servers::monitor_port(std::size_t i) const { return nodes_.at(i).http; }
std::string nats_servers::log(std::size_t i) const { return read_file(nodes_.at(i).log); }

void nats_servers::make_tls_files() {
  const std::string openssl = find_program("openssl");
  if (openssl.empty()) throw std::runtime_error("nats_servers: openssl not found");
  const std::string d = dir_->path() + "/";
  const std::string out = d + "openssl.log";
  tls_ = {d + "ca.pem",     d + "client.pem", d + "client.key",
          d + "server.pem", d + "server.key", d + "other-ca.pem"};
  write_file(d + "server.ext",
             "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  write_file(d + "client.ext", "extendedKeyUsage=clientAuth\n");
  // EC keys: generated in milliseconds, where RSA takes a noticeable fraction of a second.
  auto req = [&](const std::vector<std::string>& tail) {
    std::vector<std::string> argv = {
        openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
    argv.insert(argv.end(), tail.begin(), tail.end());
    return argv;
  };
  const std::vector<std::vector<std::string>> steps = {
      req({"-x509", "-days", "2", "-subj", "/CN=beehive test CA", "-keyout", d + "ca.key", "-out",
           tls_.ca}),
      req({"-x509", "-days", "2", "-subj", "/CN=beehive other CA", "-keyout", d + "other-ca.key",
           "-out", tls_.other_ca}),
      req({"-subj", "/CN=localhost", "-keyout", tls_.server_key, "-out", d + "server.csr"}),
      {openssl, "x509", "-req", "-in", d + "server.csr", "-CA", tls_.ca, "-CAkey", d + "ca.key",
       "-CAcreateserial", "-days", "2", "-extfile", d + "server.ext", "-out", tls_.server_cert},
      req({"-subj", "/CN=beehive test client", "-keyout", tls_.client_key, "-out",
           d + "client.csr"}),
      {openssl, "x509", "-req", "-in", d + "client.csr", "-CA", tls_.ca, "-CAkey", d + "ca.key",
       "-CAcreateserial", "-days", "2", "-extfile", d + "client.ext", "-out", tls_.client_cert},
  };
  for (const auto& argv : steps) {
    if (run_program(argv, out) != 0) {
      throw std::runtime_error("nats_servers: openssl failed:\n" + read_file(out));
    }
  }
}

void nats_servers::assign_ports() {
  for (auto& n : nodes_) {
    n.client = free_port();
    n.http = free_port();
    n.cluster = !n.is_leaf && hub_nodes_ > 1 ? free_port() : 0;
    n.leafnode = !n.is_leaf && has_leaf() ? free_port() : 0;
  }
  relays_.clear();
  if (has_leaf()) {
    for (std::size_t i = 0; i < hub_nodes_; ++i) {
      relays_.push_back(std::make_unique<tcp_relay>(nodes_[i].leafnode));
    }
  }
}

void nats_servers::write_configs() {
  const auto& o = options_;
  for (auto& n : nodes_) {
    std::ostringstream c;
    c << "server_name: " << quoted(n.name) << "\n"
      << "listen: \"127.0.0.1:" << n.client << "\"\n"
      << "http: \"127.0.0.1:" << n.http << "\"\n"
      << "ping_interval: \"" << o.ping_interval.count() << "ms\"\n"
      << "ping_max: " << o.ping_max << "\n"
      << "write_deadline: \"" << o.write_deadline.count() << "ms\"\n";
    if (o.max_payload > 0) c << "max_payload: " << o.max_payload << "\n";
    if (!o.user.empty()) {
      c << "authorization { user: " << quoted(o.user) << ", password: " << quoted(o.password)
        << " }\n";
    } else if (!o.token.empty()) {
      c << "authorization { token: " << quoted(o.token) << " }\n";
    } else if (o.nkey) {
      c << "authorization { users: [ { nkey: " << quoted(nkey_.public_key) << " } ] }\n";
    }
    if (o.tls != nats_tls::off) {
      c << "tls {\n  cert_file: " << quoted(tls_.server_cert)
        << "\n  key_file: " << quoted(tls_.server_key) << "\n  ca_file: " << quoted(tls_.ca)
        << "\n  verify: " << (o.tls == nats_tls::mutual ? "true" : "false")
        << "\n  timeout: 2\n}\n";
    }
    if (o.jetstream) {
      c << "jetstream {\n  store_dir: " << quoted(dir_->file("js-" + n.name))
        << "\n  max_memory_store: 268435456\n  max_file_store: 1073741824\n";
      if (has_leaf()) c << "  domain: " << (n.is_leaf ? "leaf" : "hub") << "\n";
      c << "}\n";
    }
    if (n.cluster != 0) {
      c << "cluster {\n  name: hub\n  listen: \"127.0.0.1:" << n.cluster << "\"\n  routes: [\n";
      for (const auto& other : nodes_) {
        if (&other != &n && other.cluster != 0) {
          c << "    \"nats-route://127.0.0.1:" << other.cluster << "\"\n";
        }
      }
      c << "  ]\n}\n";
    }
    // no_advertise: a hub tells a leaf the other hub nodes' leafnode ports, and the leaf would
    // use them on its next reconnect, around the relays that cut_leaf() cuts.
    if (n.leafnode != 0) {
      c << "leafnodes { listen: \"127.0.0.1:" << n.leafnode << "\", no_advertise: true }\n";
    }
    if (n.is_leaf) {
      // The leaf presents the same credentials as a client would, in the remote's URLs.
      std::string cred;
      if (!o.user.empty()) {
        cred = o.user + ":" + o.password + "@";
      } else if (!o.token.empty()) {
        cred = o.token + "@";
      }
      c << "leafnodes {\n  reconnect: 1\n  remotes: [ { urls: [\n";
      for (const auto& r : relays_) {
        c << "    \"nats-leaf://" << cred << "127.0.0.1:" << r->port() << "\"\n";
      }
      c << "  ] } ]\n}\n";
    }
    c << o.extra_config << "\n";
    write_file(n.config, c.str());
  }
}

void nats_servers::spawn(std::size_t i) {
  node& n = nodes_.at(i);
  n.process.kill();
  n.hung = false;
  n.process = child_process::start({server_program_, "-c", n.config, "-l", n.log});
}

[[noreturn]] void nats_servers::fail(std::size_t i, const std::string& what) const {
  std::string tail = log(i);
  if (tail.size() > 4000) tail = tail.substr(tail.size() - 4000);
  throw std::runtime_error("nats_servers: " + nodes_.at(i).name + ": " + what + "\n--- log ---\n" +
                           tail);
}

void nats_servers::wait_ready(std::size_t i) {
  node& n = nodes_.at(i);
  bool exited = false;
  const bool ready = poll_until(
      [&] {
        if (!n.process.running()) return exited = true;
        const auto j = parse(http_get(n.http, "/healthz"));
        return j.is_object() && j.value("status", "") == "ok";
      },
      ready_timeout);
  if (exited) {
    fail(i, "exited with status " + std::to_string(n.process.exit_status()));
  }
  if (!ready) fail(i, "not ready within " + std::to_string(ready_timeout.count()) + " s");
}

bool nats_servers::start_all() {
  for (auto& n : nodes_) n.process.kill();
  for (auto& n : nodes_) {
    std::error_code ec;
    std::filesystem::remove(n.log, ec);
  }
  assign_ports();
  write_configs();
  for (std::size_t i = 0; i < nodes_.size(); ++i) spawn(i);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    try {
      wait_ready(i);
    } catch (const std::runtime_error&) {
      if (log(i).find("address already in use") != std::string::npos) return false;
      throw;
    }
  }
  for (std::size_t i = 0; i < hub_nodes_; ++i) {
    if (!wait_routes(i)) fail(i, "routes not up");
  }
  if (has_leaf() && !wait_leaf_connected()) fail(leaf(), "leaf link not up");
  return true;
}

bool nats_servers::running(std::size_t i) { return nodes_.at(i).process.running(); }

void nats_servers::kill(std::size_t i) {
  nodes_.at(i).process.kill();
  nodes_.at(i).hung = false;
}

void nats_servers::hang(std::size_t i) {
  nodes_.at(i).process.stop();
  nodes_.at(i).hung = true;
}

void nats_servers::resume(std::size_t i) {
  nodes_.at(i).process.resume();
  nodes_.at(i).hung = false;
}

void nats_servers::restart(std::size_t i) {
  spawn(i);
  wait_ready(i);
  if (i < hub_nodes_ && !wait_routes(i)) fail(i, "routes not up after restart");
}

void nats_servers::cut_leaf(cut_mode mode) {
  (void)leaf();
  for (auto& r : relays_) r->cut(mode);
}

void nats_servers::restore_leaf() {
  (void)leaf();
  for (auto& r : relays_) r->restore();
}

bool nats_servers::leaf_connected() const {
  const auto j = parse(monitor(leaf(), "/leafz"));
  return j.is_object() && j.value("leafnodes", 0) > 0;
}

bool nats_servers::wait_leaf_connected(bool connected, std::chrono::milliseconds timeout) {
  return poll_until([&] { return leaf_connected() == connected; }, timeout);
}

bool nats_servers::wait_routes(std::size_t i, std::chrono::milliseconds timeout) {
  if (i >= hub_nodes_ || hub_nodes_ == 1) return true;
  std::size_t expected = 0;
  for (std::size_t k = 0; k < hub_nodes_; ++k) {
    if (k != i && nodes_[k].process.running() && !nodes_[k].hung) ++expected;
  }
  return poll_until(
      [&] {
        const auto j = parse(monitor(i, "/routez"));
        return j.is_object() && j.value("num_routes", std::size_t{0}) >= expected;
      },
      timeout);
}

bool nats_servers::has_interest(std::size_t i, const std::string& subject) const {
  // /subsz lists this server's own clients' subscriptions; what other servers asked for over a
  // route or a leaf link is listed per connection by /routez?subs=1 and /leafz?subs=1.
  const auto local = parse(monitor(i, "/subsz?subs=1&test=" + subject));
  if (local.is_object() && local.contains("subscriptions_list") &&
      local["subscriptions_list"].is_array() && !local["subscriptions_list"].empty()) {
    return true;
  }
  auto any_match = [&](const nlohmann::json& j, const char* list_key) {
    if (!j.is_object() || !j.contains(list_key) || !j[list_key].is_array()) return false;
    for (const auto& conn : j[list_key]) {
      if (!conn.contains("subscriptions_list")) continue;
      for (const auto& sub : conn["subscriptions_list"]) {
        if (sub.is_string() && subject_matches(sub.get<std::string>(), subject)) return true;
      }
    }
    return false;
  };
  return any_match(parse(monitor(i, "/routez?subs=1")), "routes") ||
         any_match(parse(monitor(i, "/leafz?subs=1")), "leafs");
}

bool nats_servers::wait_interest(std::size_t i, const std::string& subject,
                                 std::chrono::milliseconds timeout) {
  return poll_until([&] { return has_interest(i, subject); }, timeout);
}

std::string nats_servers::monitor(std::size_t i, const std::string& path) const {
  return http_get(nodes_.at(i).http, path);
}

}  // namespace beehive::test
