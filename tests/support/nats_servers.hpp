// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: real nats-server processes on free loopback ports, for the tests and benchmarks
// of the nats context type. No mock: each node is a `nats-server` started with a config file
// generated in a temporary directory, and every process is ended when the fixture dies (its
// destructor SIGKILLs them; PR_SET_PDEATHSIG ends them if the test binary crashes).
//
// Topologies:
//   nats_servers::single()           one server
//   nats_servers::cluster(3)         a cluster "hub" of n nodes, full mesh of explicit routes
//   nats_servers::hub_and_leaf(3)    a hub cluster (or one server) plus a leaf node whose remote
//                                    lists every hub node, each through a tcp_relay
// Node indices: the hub nodes are 0..hub_size()-1, the leaf (if any) is leaf() == hub_size().
//
// Readiness without sleeping a fixed time: after each start the fixture polls the node's
// monitoring endpoint (/healthz, which also waits for JetStream), then /routez until every
// route is up and /leafz until the leaf link is up, each poll bounded by `ready_timeout`.
//
// Options (nats_server_options): user/password, token or nkey authentication, TLS on the client
// ports with a CA, server and client certificates made by `openssl` in the temporary
// directory, JetStream, the servers' ping interval and write deadline, max_payload, and raw
// config lines.
//
// Control: kill (SIGKILL), hang (SIGSTOP) and resume (SIGCONT) a node, restart it on the same
// ports and data directory, cut the leaf's link to the hub and restore it. Why the cut is a relay:
// killing or stopping the hub would also take the hub's own clients down, while a cut link keeps
// both sides running, as a WAN outage does. `cut_mode::reset` closes the link at once (both
// servers see it drop and drop each other's interest); `cut_mode::silent` stops forwarding
// bytes, and the servers find out through their pings (ping_interval x ping_max).
//
// @code
//   auto servers = beehive::test::nats_servers::hub_and_leaf(3);
//   natsConnection_ConnectTo(&edge, servers.url(servers.leaf()).c_str());
//   servers.cut_leaf();            // the leaf keeps serving its local clients
//   servers.restore_leaf();
//   servers.wait_leaf_connected();
// @endcode

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/nats_nkey.hpp"
#include "support/tcp_relay.hpp"
#include "support/temp_dir.hpp"

namespace beehive::test {

/// TLS on the client ports (routes and leaf links stay plain).
enum class nats_tls {
  off,     ///< plain TCP, URLs start with nats://
  server,  ///< the server presents a certificate of the fixture's CA; URLs start with tls://
  mutual,  ///< as `server`, and the server requires a client certificate of the same CA
};

/// What every node of a topology is configured with.
struct nats_server_options {
  std::string user;      ///< with `password`: clients must present both (authorization block)
  std::string password;  ///< see `user`
  std::string token;     ///< non-empty: clients must present this token (exclusive with user)
  /// Clients must sign with the fixture's user nkey (nkey(); exclusive with user and token).
  /// Not with a leaf: a leaf's remote cannot present a bare nkey (it takes a creds file).
  bool nkey = false;
  nats_tls tls = nats_tls::off;
  /// JetStream on every node (store_dir in the temporary directory; in a hub+leaf topology the
  /// hub has domain "hub" and the leaf domain "leaf").
  bool jetstream = false;
  /// The server's ping interval and max pings out, towards clients, routes and leaf links: how
  /// fast a server notices a silent peer.
  std::chrono::milliseconds ping_interval{1000};
  int ping_max = 2;
  /// The server's write deadline towards a slow client (the server's default is 10 s).
  std::chrono::milliseconds write_deadline{2000};
  /// The server's max_payload in bytes; 0 keeps its default (1 MiB).
  std::int64_t max_payload = 0;
  /// Appended verbatim to every node's config file.
  std::string extra_config;
};

/// The files the fixture made with `openssl` (PEM), when TLS is on.
struct nats_tls_files {
  std::string ca;           ///< the fixture's CA certificate
  std::string client_cert;  ///< a client certificate signed by `ca`
  std::string client_key;
  std::string server_cert;  ///< the servers' certificate (SAN IP:127.0.0.1, DNS:localhost)
  std::string server_key;
  std::string other_ca;  ///< a CA that signed nothing here: trusting only it must fail
};

/// A running topology of nats-server processes. Movable; the destructor ends every process.
/// Not thread-safe: one thread (the test's) drives it.
class nats_servers {
 public:
  /// Bound of each readiness wait (process start, routes, leaf link).
  static constexpr std::chrono::seconds ready_timeout{20};

  /// One server. Throws std::runtime_error (with the server's log) if it does not get ready.
  static nats_servers single(const nats_server_options& options = {});
  /// A cluster of `nodes` servers with routes to each other.
  static nats_servers cluster(std::size_t nodes = 3, const nats_server_options& options = {});
  /// A hub of `hub_nodes` servers (a cluster when more than one) plus a leaf node.
  static nats_servers hub_and_leaf(std::size_t hub_nodes = 3,
                                   const nats_server_options& options = {});

  ~nats_servers();
  nats_servers(nats_servers&&) noexcept;
  nats_servers& operator=(nats_servers&&) noexcept;
  nats_servers(const nats_servers&) = delete;
  nats_servers& operator=(const nats_servers&) = delete;

  [[nodiscard]] std::size_t size() const { return nodes_.size(); }
  [[nodiscard]] std::size_t hub_size() const { return hub_nodes_; }
  [[nodiscard]] bool has_leaf() const { return nodes_.size() > hub_nodes_; }
  /// The leaf's index; throws std::logic_error when the topology has no leaf.
  [[nodiscard]] std::size_t leaf() const;

  /// The client URL of node `i`: nats://127.0.0.1:PORT (tls:// when TLS is on).
  [[nodiscard]] std::string url(std::size_t i) const;
  /// Every hub node's URL, comma-separated (what a client of the hub lists).
  [[nodiscard]] std::string hub_urls() const;
  [[nodiscard]] std::uint16_t client_port(std::size_t i) const;
  [[nodiscard]] std::uint16_t monitor_port(std::size_t i) const;
  [[nodiscard]] pid_t pid(std::size_t i) const { return nodes_.at(i).process.pid(); }
  [[nodiscard]] const std::string& name(std::size_t i) const { return nodes_.at(i).name; }
  [[nodiscard]] const std::string& config_file(std::size_t i) const { return nodes_.at(i).config; }
  /// The server's log so far (for a failure message).
  [[nodiscard]] std::string log(std::size_t i) const;
  [[nodiscard]] const nats_server_options& options() const { return options_; }
  /// The user nkey clients sign with (nats_server_options::nkey), and one the servers do not
  /// know (other_nkey()); empty when the option is off.
  [[nodiscard]] const nats_nkey& nkey() const { return nkey_; }
  [[nodiscard]] const nats_nkey& other_nkey() const { return other_nkey_; }
  /// The certificates; empty paths when TLS is off.
  [[nodiscard]] const nats_tls_files& tls_files() const { return tls_; }
  /// The temporary directory holding configs, logs, certificates and JetStream stores.
  [[nodiscard]] const std::string& dir() const { return dir_->path(); }

  /// True while node `i`'s process exists (a hung node is running).
  [[nodiscard]] bool running(std::size_t i);
  /// SIGKILL node `i` and reap it.
  void kill(std::size_t i);
  /// SIGSTOP node `i`: it holds its sockets open and answers nothing.
  void hang(std::size_t i);
  /// SIGCONT node `i`.
  void resume(std::size_t i);
  /// Ends node `i` if it runs, starts it again with the same config (ports, data) and waits
  /// until it is ready and its routes to the other running hub nodes are up. Throws
  /// std::runtime_error if it does not get ready.
  void restart(std::size_t i);

  /// Cuts the leaf's link to every hub node (see the file comment); the leaf and the hub keep
  /// running and serving their own clients.
  void cut_leaf(cut_mode mode = cut_mode::reset);
  /// Lets the leaf link through again; the leaf reconnects by itself (its remote's reconnect
  /// interval is 1 s). Use wait_leaf_connected() to wait for it.
  void restore_leaf();
  /// True when the leaf reports a connected leaf link (its /leafz).
  [[nodiscard]] bool leaf_connected() const;
  /// Waits (bounded by `timeout`) until leaf_connected() == `connected`; true if it did.
  bool wait_leaf_connected(bool connected = true,
                           std::chrono::milliseconds timeout = ready_timeout);
  /// Waits until node `i` has a route to every other running, not hung hub node.
  bool wait_routes(std::size_t i, std::chrono::milliseconds timeout = ready_timeout);
  /// True when node `i` knows a subscription matching `subject` (local, routed or through a
  /// leaf link): a publish on `i` reaches a subscriber.
  [[nodiscard]] bool has_interest(std::size_t i, const std::string& subject) const;
  /// Waits (bounded) until has_interest(i, subject) holds.
  bool wait_interest(std::size_t i, const std::string& subject,
                     std::chrono::milliseconds timeout = ready_timeout);
  /// GET `path` on node `i`'s monitoring port; the body, empty on any failure (1 s bound).
  [[nodiscard]] std::string monitor(std::size_t i, const std::string& path) const;

 private:
  struct node {
    std::string name;
    bool is_leaf = false;
    std::uint16_t client = 0, cluster = 0, leafnode = 0, http = 0;
    std::string config;
    std::string log;
    child_process process;
    bool hung = false;
  };
  nats_servers(std::size_t hub_nodes, bool leaf, const nats_server_options& options);
  void make_tls_files();
  void assign_ports();
  void write_configs();
  void spawn(std::size_t i);
  void wait_ready(std::size_t i);
  [[noreturn]] void fail(std::size_t i, const std::string& what) const;
  bool start_all();  // false when a port was taken meanwhile (the caller retries)

  std::unique_ptr<temp_dir> dir_;
  nats_server_options options_;
  std::size_t hub_nodes_ = 0;
  std::vector<node> nodes_;
  std::vector<std::unique_ptr<tcp_relay>> relays_;  // one per hub node, for the leaf's remote
  nats_tls_files tls_;
  nats_nkey nkey_;
  nats_nkey other_nkey_;
  std::string server_program_;
};

}  // namespace beehive::test
