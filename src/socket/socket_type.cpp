// SPDX-License-Identifier: Apache-2.0
#include "socket/socket_type.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "beehive/codec.hpp"
#include "json_text.hpp"
#include "log.hpp"
#include "reply_table.hpp"
#include "socket/hosted_endpoint.hpp"
#include "socket/peer_endpoint.hpp"

namespace beehive::detail {
namespace {

constexpr std::string_view handshake_operation = "add";
constexpr std::string_view handshake_resource = "module";

void bump(std::atomic<std::uint64_t>& c) { socket_counters::bump(c); }

// A message field as a string_view (fields convert to one, whatever their own type).
template <class Field>
std::string_view sv(const Field& f) {
  return std::string_view(f);
}

bool has_peer(const connection& c, std::string_view module) {
  return std::any_of(c.peers.begin(), c.peers.end(),
                     [&](const auto& p) { return p->name() == module; });
}

}  // namespace

socket_type::socket_type(socket_config config, socket_options options)
    : cfg_(std::move(config)), opts_(options), counters_(std::make_shared<socket_counters>()) {}

socket_type::~socket_type() { stop(); }

void socket_type::attach(type_host& host) {
  std::lock_guard lock(mu_);
  host_ = &host;
}

// ---- hosted modules ----------------------------------------------------------------------

expected<std::shared_ptr<endpoint>> socket_type::make_endpoint(const module_info& info) {
  if (info.name.empty() || info.inbox.capacity == 0) return unexpected(errc::invalid_argument);
  const socket_entry* server = cfg_.server();
  const bool serves = server != nullptr && server->module == info.name;
  const bool connects = cfg_.client(info.name) != nullptr;
  if (!serves && !connects) {
    log().error("socket: module '{}' has no entry in the socket config", info.name);
    return unexpected(errc::config_error);
  }
  auto ep = std::make_shared<hosted_endpoint>(info, weak_from_this(), serves, connects);
  {
    std::lock_guard lock(mu_);
    ep->self = ep;
  }
  if (auto r = host(*ep); !r) return unexpected(r.error());
  return std::shared_ptr<endpoint>(std::move(ep));
}

expected<void> socket_type::host(hosted_endpoint& ep) {
  std::shared_ptr<hosted_endpoint> self;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    if (stopped_ || host_ == nullptr) return unexpected(errc::not_connected);
    self = ep.self.lock();
    generation = ep.generation;
  }
  if (!self) return unexpected(errc::not_connected);
  if (ep.serves) {
    if (auto r = listen(); !r) return r;
    std::lock_guard lock(mu_);
    server_ep_ = &ep;
  }
  if (ep.connects) {
    if (auto r = connect(self, generation); !r) {
      log().warn("socket: module '{}' could not connect yet ({}); retrying", ep.name(),
                 r.error().message());
      std::lock_guard lock(mu_);
      if (!stopped_) {
        reap_locked();
        auto done = std::make_shared<std::atomic<bool>>(false);
        std::weak_ptr<hosted_endpoint> weak = self;
        workers_.push_back({std::thread([this, weak, generation, done] {
                              reconnect_loop(weak, generation);
                              done->store(true);
                            }),
                            done});
      }
    }
  }
  return {};
}

void socket_type::unhost(hosted_endpoint& ep) {
  std::shared_ptr<connection> link;
  bool was_server = false;
  {
    std::lock_guard lock(mu_);
    ++ep.generation;
    link = std::move(ep.link);
    ep.link.reset();
    // Only the endpoint that listens now: an endpoint replaced by a newer one of the same
    // module must not close the newer one's listener.
    was_server = server_ep_ == &ep;
    if (was_server) server_ep_ = nullptr;
  }
  cv_.notify_all();
  if (link) link->wire.shutdown();
  if (was_server) stop_listening();
}

// ---- client side ----------------------------------------------------------------------------

expected<void> socket_type::connect(const std::shared_ptr<hosted_endpoint>& ep,
                                    std::uint64_t generation) {
  const socket_entry* entry = cfg_.client(ep->name());
  if (entry == nullptr) return unexpected(errc::config_error);
  auto kind = socket_kind_of(*entry, opts_);
  if (!kind) return unexpected(errc::config_error);
  auto fd = connect_unix(entry->address, *kind);
  if (!fd) {
    bump(counters_->connect_failures);
    return unexpected(fd.error());
  }
  auto c = std::make_shared<connection>(*fd, *kind, entry->buffer_size, false, counters_,
                                        opts_.outbound);
  c->owner = ep->name();
  c->owner_ep = ep;
  message hs = new_message();
  hs.header.sync = true;
  hs.set_type(std::string(context_type_unixpacket));
  hs.build_router(ep->name(), std::string(), std::string(handshake_resource),
                  std::string(handshake_operation));
  hs.fill_body(content(std::string()));
  c->handshake_id = std::string(sv(hs.header.id));
  {
    std::lock_guard lock(mu_);
    if (stopped_ || host_ == nullptr || ep->generation != generation) {
      return unexpected(errc::not_connected);
    }
    reap_locked();
    conns_.push_back(c);
    start_reader_locked(c, "server of " + ep->name());
  }
  if (!c->write(hs) || !c->wait_handshake(opts_.handshake_timeout)) {
    c->wire.shutdown();
    bump(counters_->connect_failures);
    return unexpected(errc::not_connected);
  }
  {
    std::lock_guard lock(mu_);
    if (stopped_ || ep->generation != generation || !c->alive.load()) {
      c->wire.shutdown();
      return unexpected(errc::not_connected);
    }
    ep->link = c;
    c->established = true;
  }
  bump(counters_->connects);
  cv_.notify_all();
  log().info("socket: module '{}' connected to {}", ep->name(), entry->address);
  return {};
}

void socket_type::reconnect_loop(const std::weak_ptr<hosted_endpoint>& weak,
                                 std::uint64_t generation) {
  auto wait = opts_.reconnect_initial;
  for (;;) {
    std::shared_ptr<hosted_endpoint> ep;  // released after the lock
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, wait, [&] { return stopped_; });
      if (stopped_ || host_->cancelled()) return;
      ep = weak.lock();
      if (!ep || ep->generation != generation || ep->link) return;
    }
    if (connect(ep, generation)) return;
    wait = std::min(wait * 2, opts_.reconnect_max);
  }
}

bool socket_type::finish_handshake(const std::shared_ptr<connection>& c, const message& m) {
  if (sv(m.route.operation) != response_operation) {
    log().warn("socket: server refused module '{}': {}", c->owner,
               m.content.to_string().value_or(""));
    return false;
  }
  auto j = m.content.to_json();
  if (!j || !j->is_object()) {
    log().warn("socket: malformed handshake reply for '{}'", c->owner);
    return false;
  }
  std::vector<std::string> names;
  if (auto it = j->find("modules"); it != j->end() && it->is_array()) {
    for (const auto& v : *it) {
      if (v.is_string()) names.push_back(v.get<std::string>());
    }
  }
  std::map<std::string, std::vector<std::string>, std::less<>> groups_of;
  if (auto it = j->find("groups"); it != j->end() && it->is_object()) {
    for (const auto& [g, members] : it->items()) {
      if (!members.is_array()) continue;
      for (const auto& v : members) {
        if (v.is_string()) groups_of[v.get<std::string>()].push_back(g);
      }
    }
  }
  for (const auto& name : names) {
    auto ep = std::make_shared<peer_endpoint>(name, c);
    if (auto r = host_->add_peer(name, ep, groups_of[name]); !r) {
      log().warn("socket: peer module '{}' shadowed by a module of this process; not bound", name);
      continue;
    }
    std::lock_guard lock(mu_);
    c->peers.push_back(std::move(ep));
  }
  cv_.notify_all();
  return true;
}

// ---- server side ----------------------------------------------------------------------------

expected<void> socket_type::listen() {
  const socket_entry* entry = cfg_.server();
  if (entry == nullptr) {
    log().error("socket: the config has no server entry; cannot listen");
    return unexpected(errc::config_error);
  }
  auto kind = socket_kind_of(*entry, opts_);
  if (!kind) return unexpected(errc::config_error);
  std::lock_guard lock(mu_);
  if (stopped_ || host_ == nullptr) return unexpected(errc::not_connected);
  if (listening_) return {};
  auto fd = listen_unix(entry->address, *kind);
  if (!fd) return unexpected(fd.error());
  listen_fd_ = *fd;
  listen_path_ = entry->address;
  listening_ = true;
  acceptor_ = std::thread([this, lfd = *fd, k = *kind, bs = entry->buffer_size,
                           cm = entry->conn_max] { accept_loop(lfd, k, bs, cm); });
  log().info("socket: server '{}' listening on {}", entry->module, entry->address);
  return {};
}

void socket_type::stop_listening() {
  int fd = -1;
  std::thread t;
  std::string path;
  {
    std::lock_guard lock(mu_);
    if (!listening_) return;
    listening_ = false;
    fd = listen_fd_;
    listen_fd_ = -1;
    path = listen_path_;
    t = std::move(acceptor_);
  }
  ::shutdown(fd, SHUT_RDWR);
  if (t.joinable()) t.join();
  ::close(fd);
  ::unlink(path.c_str());
}

void socket_type::accept_loop(int fd, socket_kind kind, std::size_t buffer_size, int conn_max) {
  for (;;) {
    auto cfd = accept_unix(fd);
    if (!cfd) {
      std::unique_lock lock(mu_);
      if (stopped_ || !listening_) return;
      if (cfd.error() == make_error_code(errc::queue_full)) {
        // Out of descriptors: wait a little rather than spin.
        cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stopped_; });
        continue;
      }
      return;
    }
    std::lock_guard lock(mu_);
    if (stopped_) {
      ::close(*cfd);
      return;
    }
    reap_locked();
    const auto live = std::count_if(conns_.begin(), conns_.end(), [](const auto& c) {
      return c->server_side && c->alive.load();
    });
    if (conn_max > 0 && live >= conn_max) {
      // Counted before closing: the refused peer sees EOF as soon as the fd closes.
      bump(counters_->connections_refused);
      ::close(*cfd);
      log().warn("socket: connection refused: connmax {} reached", conn_max);
      continue;
    }
    auto c = std::make_shared<connection>(*cfd, kind, buffer_size, true, counters_, opts_.outbound);
    conns_.push_back(c);
    start_reader_locked(c, "client on " + listen_path_);
    bump(counters_->connections_accepted);
  }
}

void socket_type::reject_handshake(const std::shared_ptr<connection>& c, const message& m,
                                   std::string_view why) {
  bump(counters_->handshakes_rejected);
  log().warn("socket: handshake from '{}' rejected: {}", sv(m.route.source), why);
  auto err = new_error_message(m, std::string(why));
  err.set_type(std::string(context_type_unixpacket));
  err.set_destination(std::string(sv(m.route.source)));
  (void)c->write(err);
}

bool socket_type::accept_handshake(const std::shared_ptr<connection>& c, const message& m) {
  const std::string name(sv(m.route.source));
  if (sv(m.route.operation) != handshake_operation || sv(m.route.resource) != handshake_resource ||
      name.empty()) {
    reject_handshake(c, m, "the first record must be a module handshake");
    return false;
  }
  if (cfg_.client(name) == nullptr) {
    reject_handshake(c, m, "module is not listed as a client in the socket config");
    return false;
  }
  // Go puts the remote module in a group named after itself.
  std::vector<std::string> groups{name};
  if (const std::string group(sv(m.route.group)); !group.empty() && group != name) {
    groups.push_back(group);
  }
  auto ep = std::make_shared<peer_endpoint>(name, c);
  if (auto r = host_->add_peer(name, ep, groups); !r) {
    reject_handshake(c, m, "module name is taken by a module of this process");
    return false;
  }
  std::vector<std::shared_ptr<connection>> replaced;
  {
    std::lock_guard lock(mu_);
    // A peer that reconnects before its old connection noticed the loss replaces it.
    for (const auto& other : conns_) {
      if (other != c && other->server_side && has_peer(*other, name)) replaced.push_back(other);
    }
    c->peers.push_back(std::move(ep));
    c->established = true;
  }
  for (const auto& old : replaced) old->wire.shutdown();
  auto reply = new_resp_by_message(m, content::from_trusted_json_text(module_exchange()));
  reply.set_type(std::string(context_type_unixpacket));
  reply.set_destination(name);
  if (!c->write(reply)) return false;
  log().info("socket: module '{}' joined", name);
  cv_.notify_all();
  return true;
}

// The modules and groups this process hosts (peers excluded), as Go's server answers them:
// {"modules":[...],"groups":{"<group>":[...]}}.
std::string socket_type::module_exchange() {
  const membership all = host_->members();
  std::set<std::string, std::less<>> peer_names;
  {
    std::lock_guard lock(mu_);
    for (const auto& c : conns_) {
      for (const auto& p : c->peers) peer_names.insert(p->name());
    }
  }
  std::set<std::string_view> listed;
  std::string out = "{\"modules\":[";
  for (const auto& m : all.modules) {
    if (!m.live || peer_names.count(m.name) != 0) continue;
    if (!listed.empty()) out.push_back(',');
    append_go_string(m.name, out);
    listed.insert(m.name);
  }
  out += "],\"groups\":{";
  bool first = true;
  for (const auto& [group, members] : all.groups) {
    bool any = false;
    for (const auto& m : members) {
      if (listed.count(m) == 0) continue;
      if (!any) {
        if (!first) out.push_back(',');
        first = false;
        append_go_string(group, out);
        out += ":[";
      } else {
        out.push_back(',');
      }
      any = true;
      append_go_string(m, out);
    }
    if (any) out.push_back(']');
  }
  out += "}}";
  return out;
}

// ---- both sides -----------------------------------------------------------------------------

void socket_type::start_reader_locked(const std::shared_ptr<connection>& c, std::string label) {
  c->origin = std::make_shared<peer_endpoint>(std::move(label), c);
  c->reader = std::thread([this, c] { run_reader(c); });
}

void socket_type::run_reader(const std::shared_ptr<connection>& c) {
  std::vector<read_item> items;
  std::string who = c->owner;  // for the log: the module on our side, or the peer
  bool handshaken = false;
  if (c->server_side) c->wire.set_receive_timeout(opts_.handshake_timeout);
  bool keep = true;
  while (keep) {
    const read_status st = c->wire.read(items);
    if (st != read_status::ok) {
      switch (st) {
        case read_status::timed_out:
          bump(counters_->handshakes_rejected);
          log().warn("socket: no handshake within {} ms; closing", opts_.handshake_timeout.count());
          break;
        case read_status::bad_frame:
          bump(counters_->bad_frames);
          log().warn("socket: bad frame from '{}'; closing the stream", who);
          break;
        case read_status::truncated:
          bump(counters_->truncated_frames);
          log().warn("socket: '{}' closed in the middle of a frame", who);
          break;
        default:
          break;
      }
      break;
    }
    for (auto& item : items) {
      if (item.oversized != 0) {
        bump(counters_->oversized_records);
        log().warn("socket: record larger than buffersize ({} bytes) rejected",
                   c->wire.buffer_size());
        continue;
      }
      auto m = decode_message(item.record);
      if (!m) {
        bump(counters_->malformed_records);
        log().warn("socket: malformed record ({} bytes) rejected", item.record.size());
        if (c->server_side && !handshaken) {
          bump(counters_->handshakes_rejected);
          keep = false;
          break;
        }
        continue;
      }
      bump(counters_->records_in);
      if (c->server_side && !handshaken) {
        if (!accept_handshake(c, *m)) {
          keep = false;
          break;
        }
        who = std::string(sv(m->route.source));
        handshaken = true;
        c->wire.set_receive_timeout(std::chrono::milliseconds(0));
        continue;
      }
      if (!c->server_side && !handshaken && sv(m->header.parent_id) == c->handshake_id) {
        const bool ok = finish_handshake(c, *m);
        c->set_handshake(ok ? handshake_state::accepted : handshake_state::failed);
        if (!ok) {
          keep = false;
          break;
        }
        handshaken = true;
        continue;
      }
      route(c, std::move(*m));
    }
  }
  on_disconnect(c, who);
  c->set_handshake(handshake_state::failed);
  c->reader_done.store(true);
}

// Only this connection's reader changes its `peers` and `origin`, so it reads them unlocked.
void socket_type::route(const std::shared_ptr<connection>& c, message&& msg) {
  reply_table& replies = host_->replies();
  if (!sv(msg.header.parent_id).empty()) {
    // Counted before the waiter can wake and read the counters.
    const bool waited = replies.waiting(sv(msg.header.parent_id));
    if (waited) bump(counters_->replies_routed);
    const std::string parent(sv(msg.header.parent_id));
    auto r = replies.deliver(std::move(msg));
    if (r) {
      if (!waited) bump(counters_->replies_routed);
      return;
    }
    if (waited) counters_->replies_routed.fetch_sub(1, std::memory_order_relaxed);
    if (r.error() == make_error_code(errc::orphan_response)) {
      bump(counters_->orphan_replies);
      log().debug("socket: reply to {}: nobody waits for it", parent);
    } else {
      bump(counters_->undeliverable);
      log().warn("socket: reply to {} not forwarded: {}", parent, r.error().message());
    }
    return;
  }
  const std::string dest(sv(msg.route.destination));
  if (dest.empty()) {
    bump(counters_->unknown_destination);
    log().warn("socket: record {} has no destination; dropped", sv(msg.header.id));
    return;
  }
  if (!c->server_side && has_peer(*c, dest)) {
    // A client never sends a record back over the link it came from: that would loop.
    bump(counters_->unknown_destination);
    log().warn("socket: record {} for '{}' came from the module's own side; dropped",
               sv(msg.header.id), dest);
    return;
  }
  const bool request = msg.header.sync;
  if (request) replies.expect_remote(sv(msg.header.id), c->origin);
  // The module that opened this connection gets its records straight into its inbox: the
  // server may write to it before the context has published the module.
  std::shared_ptr<hosted_endpoint> owner;
  if (!c->server_side && dest == c->owner) owner = c->owner_ep.lock();
  auto r = owner ? owner->push(std::move(msg), delivery::direct)
                 : host_->deliver(dest, std::move(msg), delivery::direct);
  if (r) {
    bump(counters_->forwarded);
    return;
  }
  if (r.error() == make_error_code(errc::module_not_found)) {
    bump(counters_->unknown_destination);
  } else {
    bump(counters_->undeliverable);
  }
  log().warn("socket: record for '{}' not delivered: {}", dest, r.error().message());
  // The requester gets an error reply at once (the message was not moved from).
  if (request) replies.fail(msg, r.error());
}

void socket_type::on_disconnect(const std::shared_ptr<connection>& c, std::string_view who) {
  bool was_established = false;
  std::vector<std::shared_ptr<peer_endpoint>> peers;
  std::shared_ptr<peer_endpoint> origin;
  std::shared_ptr<hosted_endpoint> owner;
  bool retire = false;
  {
    std::lock_guard lock(mu_);
    was_established = c->established;
    // Copied: the peers stay listed (not "disconnected") until the context has forgotten them.
    peers = c->peers;
    origin = std::move(c->origin);
    if (auto ep = c->owner_ep.lock(); ep && ep->link == c) {
      ep->link.reset();
      retire = !stopped_;
      owner = std::move(ep);
    }
  }
  // Counted before anyone can see the connection gone (wait_disconnected, a failed send).
  if (was_established) bump(counters_->connections_lost);
  c->alive.store(false, std::memory_order_release);
  c->wire.shutdown();
  for (const auto& p : peers) host_->remove_peer(p->name(), *p);
  // Callers waiting on a module of this connection wake now rather than at their timeout.
  for (const auto& p : peers) {
    host_->replies().fail_target(p.get(), make_error_code(errc::not_connected));
  }
  if (origin) host_->replies().forget_origin(origin.get());
  {
    std::lock_guard lock(mu_);
    c->peers.clear();
  }
  if (was_established) log().info("socket: connection of '{}' lost", who);
  cv_.notify_all();
  // The module's start returns when it is cleaned up; a core then re-adds it, which reconnects
  // (Go's moduleKeeper).
  if (retire) host_->cleanup(owner->name(), *owner);
}

void socket_type::reap_locked() {
  std::erase_if(conns_, [](const auto& c) {
    if (!c->reader_done.load()) return false;
    if (c->reader.joinable()) c->reader.join();
    return true;
  });
  std::erase_if(workers_, [](worker& w) {
    if (!w.done->load()) return false;
    if (w.thread.joinable()) w.thread.join();
    return true;
  });
}

// ---- queries and stop -----------------------------------------------------------------------

bool socket_type::connected_locked(std::string_view module) const {
  return std::any_of(conns_.begin(), conns_.end(), [&](const auto& c) {
    return c->alive.load() && c->established && has_peer(*c, module);
  });
}

bool socket_type::listed_locked(std::string_view module) const {
  return std::any_of(conns_.begin(), conns_.end(),
                     [&](const auto& c) { return has_peer(*c, module); });
}

bool socket_type::connected(std::string_view module) const {
  std::lock_guard lock(mu_);
  return connected_locked(module);
}

bool socket_type::wait_connected(std::string_view module, std::chrono::nanoseconds bound) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, bound, [&] { return connected_locked(module); });
}

bool socket_type::wait_disconnected(std::string_view module, std::chrono::nanoseconds bound) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, bound, [&] { return !listed_locked(module); });
}

std::vector<std::string> socket_type::peers() const {
  std::set<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& c : conns_) {
      if (!c->alive.load()) continue;
      for (const auto& p : c->peers) names.insert(p->name());
    }
  }
  return {names.begin(), names.end()};
}

void socket_type::stop() {
  std::lock_guard stopping(stop_mu_);
  {
    std::lock_guard lock(mu_);
    if (stopped_ && host_ == nullptr) return;
    // From here on no connection, listener or worker is added.
    stopped_ = true;
  }
  cv_.notify_all();
  stop_listening();
  std::vector<std::shared_ptr<connection>> all;
  std::vector<worker> workers;
  {
    std::lock_guard lock(mu_);
    all = conns_;
  }
  for (const auto& c : all) c->wire.shutdown();
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& w : workers) {
    if (w.thread.joinable()) w.thread.join();
  }
  for (const auto& c : all) {
    if (c->reader.joinable()) c->reader.join();
  }
  std::vector<std::shared_ptr<connection>> gone;  // destroyed after the lock
  std::lock_guard lock(mu_);
  gone.swap(conns_);
  host_ = nullptr;
}

}  // namespace beehive::detail
