// SPDX-License-Identifier: Apache-2.0
// g++ 12 warns (-Wtsan) that the fences in asio's headers are invisible to ThreadSanitizer;
// see socket_io.cpp for why that does not matter here.
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include "socket/socket_server.hpp"

#include <unistd.h>

#include <set>
#include <utility>
#include <vector>

#include "core/log.hpp"
#include "socket/asio_unix.hpp"
#include "socket/connection.hpp"
#include "socket/handshake.hpp"

namespace beehive::detail {
namespace {

void bump(std::atomic<std::uint64_t>& c) { socket_counters::bump(c); }

}  // namespace

socket_server::socket_server(const socket_config& config, const socket_options& options,
                             std::shared_ptr<socket_counters> counters, type_host& host,
                             peer_registry& registry, socket_io& io)
    : cfg_(config),
      opts_(options),
      counters_(std::move(counters)),
      host_(host),
      registry_(registry),
      io_(io) {}

socket_server::~socket_server() { close(); }

expected<void> socket_server::listen(const void* owner, const inbox_options& outbound) {
  const socket_entry* entry = cfg_.server();
  if (entry == nullptr) {
    log().error("socket: the config has no server entry; cannot listen");
    return unexpected(errc::config_error);
  }
  auto kind = link_kind(*entry, opts_);
  if (!kind) return unexpected(kind.error());
  std::lock_guard lock(mu_);
  if (closed_ || registry_.closed()) return unexpected(errc::not_connected);
  if (listener_) {
    if (owner != nullptr) {
      owner_ = owner;
      outbound_ = outbound;
    }
    return {};
  }
  auto l = socket_listener::open(io_.context(), entry->address, *kind);
  if (!l) return unexpected(l.error());
  if (!io_.start()) {
    (*l)->close();
    return unexpected(errc::not_connected);
  }
  listener_ = *l;
  owner_ = owner;
  outbound_ = outbound;
  listener_->start([this, entry, k = *kind](int fd) { on_accepted(fd, *entry, k); });
  log().info("socket: server '{}' listening on {}", entry->module, entry->address);
  return {};
}

void socket_server::stop_listening(const void* owner) {
  std::shared_ptr<socket_listener> l;
  {
    std::lock_guard lock(mu_);
    if (!listener_ || owner_ != owner) return;
    l = std::move(listener_);
    owner_ = nullptr;
  }
  l->close();
}

void socket_server::close() {
  std::shared_ptr<socket_listener> l;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    l = std::move(listener_);
    owner_ = nullptr;
  }
  if (l) l->close();
}

// On the loop.
void socket_server::on_accepted(int fd, const socket_entry& entry, socket_kind kind) {
  if (registry_.server_links() >= static_cast<std::size_t>(entry.effective_conn_max())) {
    // Counted before closing: the refused peer sees EOF as soon as the descriptor closes.
    bump(counters_->connections_refused);
    ::close(fd);
    log().warn("socket: connection refused: connmax {} reached", entry.effective_conn_max());
    return;
  }
  inbox_options outbound;
  {
    std::lock_guard lock(mu_);
    outbound = outbound_;
  }
  auto link =
      std::make_shared<socket_link>(make_connection(fd, kind, entry, outbound, true, counters_),
                                    *this, "client on " + entry.address);
  // Counted before the reader can complete a handshake (and a caller see it connected).
  bump(counters_->connections_accepted);
  if (!registry_.start(link)) return;  // the type stops; the connection closes with `link`
  // One deadline from now: bytes that trickle in do not move it.
  auto deadline = std::make_shared<asio::steady_timer>(io_.context(), opts_.handshake_timeout);
  std::weak_ptr<socket_link> weak = link;
  deadline->async_wait([this, deadline, weak](const asio::error_code& ec) {
    auto expired = weak.lock();
    if (ec || !expired || !registry_.expire(*expired)) return;
    log().warn("socket: no handshake within {} ms of connecting; closing",
               opts_.handshake_timeout.count());
  });
}

bool socket_server::on_handshake(const std::shared_ptr<socket_link>& link, const message& m) {
  const handshake_result checked = check_handshake_request(
      m, [this](std::string_view module) { return cfg_.client(module) != nullptr; });
  if (checked != handshake_result::accepted) {
    reject(*link, m, checked);
    return false;
  }
  const std::string name(m.route.source);
  // The answer goes out before the peer is registered: once it is, this process may write to
  // it, and nothing may reach the client before its answer (its module runs from add_module
  // on, and learns the server's modules from the answer). A name taken meanwhile is refused
  // right after (the client sees the link close and tries again).
  if (!link->conn->write(make_handshake_response(m, module_exchange()))) return false;
  if (auto r = registry_.add_peer(*link, name, handshake_groups(m)); !r) {
    reject(*link, m, handshake_result::name_taken);
    return false;
  }
  if (!registry_.establish(*link)) return false;  // its deadline passed first
  // A peer that reconnects before its old link noticed the loss replaces it.
  registry_.replace_older(*link, name);
  log().info("socket: module '{}' joined", name);
  return true;
}

void socket_server::reject(const socket_link& link, const message& m, handshake_result why) {
  bump(counters_->handshakes_rejected);
  log().warn("socket: handshake from '{}' rejected: {}", std::string_view(m.route.source),
             describe(why));
  (void)link.conn->write(make_handshake_refusal(m, why));
}

void socket_server::on_presence(socket_link& link, const message& m) {
  if (!link.server_side()) return;
  {
    std::lock_guard lock(presence_mu_);
    link.presence_peer = std::string(std::string_view(m.route.source));
  }
  registry_.subscribe(link);
  send_presence(link, module_exchange());
}

void socket_server::publish_presence() {
  const auto links = registry_.presence_links();
  if (links.empty()) return;
  const std::string exchange = module_exchange();
  for (const auto& l : links) send_presence(*l, exchange);
}

void socket_server::send_presence(socket_link& link, const std::string& exchange) {
  std::lock_guard lock(presence_mu_);
  if (link.presence_sent == exchange) return;
  const socket_entry* entry = cfg_.server();
  auto update = make_presence_update(entry != nullptr ? entry->module : std::string(),
                                     link.presence_peer, exchange);
  // As a reply: never waits for room in the peer's queue.
  if (link.conn->write(update, delivery::reply)) link.presence_sent = exchange;
}

// The modules and groups this process hosts (peers excluded) and the server's own socket
// module, as Go's server answers them (handshake.hpp: module_exchange_json).
std::string socket_server::module_exchange() const {
  const auto peers = registry_.peer_names();
  const std::vector<std::string> leave_out(peers.begin(), peers.end());
  const socket_entry* entry = cfg_.server();
  return module_exchange_json(host_.members(), entry != nullptr ? entry->module : std::string(),
                              leave_out);
}

}  // namespace beehive::detail
