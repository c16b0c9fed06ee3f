// SPDX-License-Identifier: Apache-2.0
#include "beehive/socket_context.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "beehive/codec.hpp"
#include "beehive/context.hpp"
#include "inbox.hpp"
#include "json_text.hpp"
#include "log.hpp"
#include "reply_table.hpp"
#include "socket/transport.hpp"

namespace beehive {
namespace {

using detail::read_item;
using detail::read_status;
using detail::socket_kind;
using detail::transport;

// Sync requests that came from a peer and wait for a local reply. Bounded: a request nobody
// answers must not hold memory forever.
constexpr std::size_t remote_request_limit = 1 << 16;

constexpr std::string_view handshake_operation = "add";
// Resource of the local answer a waiting sync call gets when its connection ends.
constexpr std::string_view connection_lost_resource = "beehive/connection-lost";

bool is_connection_lost(const message& m) {
  return m.route.operation == response_error_operation &&
         m.route.resource == connection_lost_resource;
}
constexpr std::string_view handshake_resource = "module";

struct counters {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> handshakes_rejected{0};
  std::atomic<std::uint64_t> connections_lost{0};
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> records_in{0};
  std::atomic<std::uint64_t> records_out{0};
  std::atomic<std::uint64_t> malformed_records{0};
  std::atomic<std::uint64_t> oversized_records{0};
  std::atomic<std::uint64_t> bad_frames{0};
  std::atomic<std::uint64_t> truncated_frames{0};
  std::atomic<std::uint64_t> unknown_destination{0};
  std::atomic<std::uint64_t> undeliverable{0};
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::uint64_t> replies_routed{0};
  std::atomic<std::uint64_t> orphan_replies{0};
};

void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

// One connection, either accepted by our server or opened by one of our client modules.
struct connection {
  std::shared_ptr<transport> t;
  bool server_side = false;
  std::string peer;   // server side: the client module bound by the handshake
  std::string owner;  // client side: the local module that opened it
  std::string handshake_id;
  std::thread reader;
  std::atomic<bool> alive{true};
  std::atomic<bool> reader_done{false};
  bool established = false;  // handshake completed (guarded by impl::mu)

  std::mutex hmu;
  std::condition_variable hcv;
  int hstate = 0;  // 0 waiting, 1 accepted, 2 failed

  // Ids of sync requests sent over this connection whose caller still waits: when the
  // connection ends they get a "connection lost" answer at once instead of waiting it out.
  std::mutex pmu;
  std::set<std::string, std::less<>> awaiting;

  void set_handshake(int state) {
    {
      std::lock_guard lock(hmu);
      if (hstate == 0) hstate = state;
    }
    hcv.notify_all();
  }
};

struct local_module {
  std::shared_ptr<detail::inbox> box;
  bool is_server = false;
  bool is_client = false;
  std::shared_ptr<connection> link;
  std::uint64_t generation = 0;
};

}  // namespace

struct socket_context::impl {
  impl(context& c, socket_config config, socket_options o)
      : ctx(c), cfg(std::move(config)), opts(o) {}

  context& ctx;
  socket_config cfg;
  socket_options opts;
  counters n;

  mutable std::mutex mu;
  mutable std::condition_variable cv;  // connection state changes, stop
  std::map<std::string, local_module, std::less<>> locals;
  std::map<std::string, std::shared_ptr<connection>, std::less<>> peers;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> groups;
  std::vector<std::shared_ptr<connection>> conns;
  std::set<std::string, std::less<>> adding_peers;
  std::unordered_map<std::string, std::weak_ptr<connection>> remote_requests;
  std::deque<std::string> remote_order;
  std::vector<std::thread> helpers;  // reconnect loops
  std::uint64_t next_generation = 1;
  bool stopped = false;

  int listen_fd = -1;
  std::thread acceptor;
  bool listening = false;
  std::string listen_path;

  // ---- helpers --------------------------------------------------------------------------

  // Joins readers that have finished (called with `mu` held; joining a finished thread does
  // not block).
  void reap_locked() {
    auto it = std::remove_if(conns.begin(), conns.end(), [](const auto& c) {
      if (!c->reader_done.load()) return false;
      if (c->reader.joinable()) c->reader.join();
      return true;
    });
    conns.erase(it, conns.end());
  }

  void remember_request(const std::string& id, const std::shared_ptr<connection>& c) {
    std::lock_guard lock(mu);
    if (remote_requests.size() >= remote_request_limit) {
      while (!remote_order.empty() && remote_requests.size() >= remote_request_limit) {
        remote_requests.erase(remote_order.front());
        remote_order.pop_front();
      }
    }
    if (remote_requests.emplace(id, c).second) remote_order.push_back(id);
    // Keep the order list from growing with ids already answered.
    if (remote_order.size() > 2 * remote_request_limit) {
      std::deque<std::string> kept;
      for (auto& i : remote_order) {
        if (remote_requests.count(i) != 0) kept.push_back(std::move(i));
      }
      remote_order.swap(kept);
    }
  }

  std::shared_ptr<connection> take_request(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = remote_requests.find(id);
    if (it == remote_requests.end()) return nullptr;
    auto c = it->second.lock();
    remote_requests.erase(it);
    return c;
  }

  expected<void> write(const std::shared_ptr<connection>& c, const message& msg) {
    if (!c || !c->alive.load()) return unexpected(errc::not_connected);
    std::string text;
    text.reserve(256);
    if (auto r = encode_message(msg, text); !r) return r;
    auto r = c->t->send(std::move(text));
    if (r) bump(n.records_out);
    return r;
  }

  // Makes `msg` routable by the peer: a context type and the destination module.
  static void address(message& msg, std::string_view module) {
    if (msg.header.type.empty()) msg.header.type = std::string(context_type_unixpacket);
    if (msg.route.destination != module) msg.route.destination = std::string(module);
  }

  // The send of one module of this type: a hosted inbox, or a peer over its connection.
  // `awaited`: a sync request whose caller waits; registered with the connection it leaves on.
  expected<void> send_to(std::string_view module, message&& msg, bool group,
                         std::shared_ptr<connection>* awaited = nullptr) {
    std::shared_ptr<detail::inbox> box;
    std::shared_ptr<connection> conn;
    bool peer = false;
    {
      std::lock_guard lock(mu);
      if (auto it = locals.find(module); it != locals.end()) {
        box = it->second.box;
      } else if (auto p = peers.find(module); p != peers.end()) {
        peer = true;
        conn = p->second;
      }
    }
    if (box) return group ? box->push_group(std::move(msg)) : box->push(std::move(msg));
    if (!peer) return unexpected(errc::module_not_found);
    if (!conn || !conn->alive.load()) return unexpected(errc::not_connected);
    address(msg, module);
    if (awaited != nullptr) {
      std::lock_guard lock(conn->pmu);
      conn->awaiting.insert(msg.header.id.str());
      *awaited = conn;
    }
    auto r = write(conn, msg);
    if (!r && awaited != nullptr) forget_awaited(*awaited, msg.header.id.str());
    return r;
  }

  static void forget_awaited(const std::shared_ptr<connection>& c, const std::string& id) {
    if (!c) return;
    std::lock_guard lock(c->pmu);
    c->awaiting.erase(id);
  }

  // ---- handshake -------------------------------------------------------------------------

  // The modules and groups this process hosts (peers excluded), as Go's server answers them:
  // {"modules":[...],"groups":{"<group>":[...]}}.
  std::string module_exchange() {
    auto modules = ctx.modules();
    auto groups_all = ctx.groups();
    std::set<std::string, std::less<>> peer_names;
    {
      std::lock_guard lock(mu);
      for (const auto& [name, c] : peers) peer_names.insert(name);
    }
    std::string out = "{\"modules\":[";
    bool first = true;
    for (const auto& m : modules) {
      if (peer_names.count(m) != 0) continue;
      if (!first) out.push_back(',');
      first = false;
      detail::write_go_json(nlohmann::json(m), out);
    }
    out += "],\"groups\":{";
    first = true;
    for (const auto& [g, members] : groups_all) {
      std::vector<std::string> hosted;
      for (const auto& m : members) {
        if (peer_names.count(m) == 0) hosted.push_back(m);
      }
      if (hosted.empty()) continue;
      if (!first) out.push_back(',');
      first = false;
      detail::write_go_json(nlohmann::json(g), out);
      out += ":[";
      for (std::size_t i = 0; i < hosted.size(); ++i) {
        if (i != 0) out.push_back(',');
        detail::write_go_json(nlohmann::json(hosted[i]), out);
      }
      out.push_back(']');
    }
    out += "}}";
    return out;
  }

  // Adds `name` to the global context as a peer module reached over `c`. Returns false when
  // the name belongs to something else in this process.
  bool bind_peer(const std::string& name, const std::shared_ptr<connection>& c) {
    auto type = ctx.module_type(name);
    if (type && *type != context_type_unixpacket) return false;
    std::shared_ptr<connection> old;
    {
      std::lock_guard lock(mu);
      if (locals.count(name) != 0) return false;
      auto& slot = peers[name];
      if (slot != c) old = slot;
      slot = c;
      adding_peers.insert(name);
    }
    // A peer that reconnects before its old connection noticed the loss replaces it.
    if (old && old->server_side && old != c) old->t->shutdown();
    module_info info;
    info.name = name;
    info.type = std::string(context_type_unixpacket);
    info.remote = true;
    auto r = ctx.add_module(info);
    {
      std::lock_guard lock(mu);
      adding_peers.erase(name);
    }
    cv.notify_all();
    return r.has_value();
  }

  void reject_handshake(const std::shared_ptr<connection>& c, const message& m,
                        std::string_view why) {
    bump(n.handshakes_rejected);
    detail::log().warn("socket: handshake from '{}' rejected: {}", m.route.source, why);
    auto err = new_error_message(m, std::string(why));
    err.header.type = std::string(context_type_unixpacket);
    err.route.destination = m.route.source;
    (void)write(c, err);
  }

  // Server side: the first record of a connection.
  bool accept_handshake(const std::shared_ptr<connection>& c, const message& m) {
    if (m.route.operation != handshake_operation || m.route.resource != handshake_resource ||
        m.route.source.empty()) {
      reject_handshake(c, m, "the first record must be a module handshake");
      return false;
    }
    if (cfg.client(m.route.source) == nullptr) {
      reject_handshake(c, m, "module is not listed as a client in the socket config");
      return false;
    }
    c->peer = m.route.source;
    if (!bind_peer(m.route.source.str(), c)) {
      reject_handshake(c, m, "module name is taken by a module of this process");
      return false;
    }
    // Go puts the remote module in a group named after itself.
    (void)ctx.add_module_group(m.route.source, m.route.source);
    if (!m.route.group.empty() && m.route.group != m.route.source) {
      (void)ctx.add_module_group(m.route.source, m.route.group);
    }
    {
      std::lock_guard lock(mu);
      c->established = true;
    }
    auto reply = new_resp_by_message(m, content::from_trusted_json_text(module_exchange()));
    reply.header.type = std::string(context_type_unixpacket);
    reply.route.destination = m.route.source;
    if (auto r = write(c, reply); !r) return false;
    detail::log().info("socket: module '{}' joined", m.route.source);
    cv.notify_all();
    return true;
  }

  // Client side: the server's answer to our handshake.
  bool finish_handshake(const std::shared_ptr<connection>& c, const message& m) {
    if (m.route.operation != response_operation) {
      detail::log().warn("socket: server refused module '{}': {}", c->owner,
                         m.content.to_string().value_or(""));
      return false;
    }
    auto j = m.content.to_json();
    if (!j || !j->is_object()) {
      detail::log().warn("socket: malformed handshake reply for '{}'", c->owner);
      return false;
    }
    std::vector<std::string> names;
    if (auto it = j->find("modules"); it != j->end() && it->is_array()) {
      for (const auto& v : *it) {
        if (v.is_string()) names.push_back(v.get<std::string>());
      }
    }
    std::set<std::string, std::less<>> bound;
    for (const auto& name : names) {
      if (bind_peer(name, c)) {
        bound.insert(name);
      } else {
        detail::log().warn("socket: peer module '{}' shadowed by a local module; not bound", name);
      }
    }
    if (auto it = j->find("groups"); it != j->end() && it->is_object()) {
      for (const auto& [g, members] : it->items()) {
        if (!members.is_array()) continue;
        for (const auto& v : members) {
          if (v.is_string() && bound.count(v.get<std::string>()) != 0) {
            (void)ctx.add_module_group(v.get<std::string>(), g);
          }
        }
      }
    }
    return true;
  }

  // ---- routing of what a connection reads ------------------------------------------------

  void reply_error(const std::shared_ptr<connection>& c, const message& req,
                   const std::error_code& ec) {
    auto err = new_error_message(req, ec.message());
    err.header.type = std::string(context_type_unixpacket);
    err.route.destination = req.route.source;
    (void)write(c, err);
  }

  void route(const std::shared_ptr<connection>& c, message&& msg) {
    const auto& rt = ctx.replies();
    if (!msg.header.parent_id.empty()) {
      if (rt->waiting(msg.header.parent_id)) {
        // Counted before the waiter can wake and look at the counters.
        bump(n.replies_routed);
        if (!rt->deliver(std::move(msg))) bump(n.orphan_replies);  // its waiter just gave up
        return;
      }
      if (auto requester = take_request(msg.header.parent_id.str())) {
        if (write(requester, msg)) {
          bump(n.forwarded);
        } else {
          bump(n.undeliverable);
        }
        return;
      }
    }
    const std::string dest = msg.route.destination.str();
    if (dest.empty()) {
      bump(n.unknown_destination);
      detail::log().warn("socket: record {} from '{}' has no destination; dropped", msg.header.id,
                         c->server_side ? c->peer : c->owner);
      return;
    }
    // A module hosted by this socket context gets the record straight into its inbox: the
    // global context learns the module's type only after our add_module returns, and a peer
    // may address it as soon as the handshake is done.
    std::shared_ptr<detail::inbox> hosted;
    bool loops_back = false;
    {
      std::lock_guard lock(mu);
      if (auto it = locals.find(dest); it != locals.end()) {
        hosted = it->second.box;
      } else if (!c->server_side) {
        // A client never sends a record back over the link it came from: that would loop.
        auto p = peers.find(dest);
        loops_back = p != peers.end() && p->second == c;
      }
    }
    if (loops_back) {
      bump(n.unknown_destination);
      detail::log().warn("socket: record {} for '{}' came from the module's own side; dropped",
                         msg.header.id, dest);
      return;
    }
    const bool sync_request = msg.header.sync && msg.header.parent_id.empty();
    message copy_for_error;
    if (sync_request) {
      remember_request(msg.header.id.str(), c);
      copy_for_error.header = msg.header;
      copy_for_error.route = msg.route;
    }
    auto r = hosted ? hosted->push(std::move(msg)) : ctx.send(dest, std::move(msg));
    if (r) {
      bump(n.forwarded);
      return;
    }
    if (r.error() == make_error_code(errc::module_not_found)) {
      bump(n.unknown_destination);
    } else {
      bump(n.undeliverable);
    }
    detail::log().warn("socket: record for '{}' not delivered: {}", dest, r.error().message());
    if (sync_request) {
      (void)take_request(copy_for_error.header.id.str());
      reply_error(c, copy_for_error, r.error());
    }
  }

  void run_reader(const std::shared_ptr<connection>& c) {
    std::vector<read_item> items;
    bool handshaken = false;
    if (c->server_side) c->t->set_receive_timeout(opts.handshake_timeout);
    bool keep = true;
    while (keep) {
      const read_status st = c->t->read(items);
      if (st != read_status::ok) {
        switch (st) {
          case read_status::timed_out:
            bump(n.handshakes_rejected);
            detail::log().warn("socket: no handshake within {} ms; closing",
                               opts.handshake_timeout.count());
            break;
          case read_status::bad_frame:
            bump(n.bad_frames);
            detail::log().warn("socket: bad frame from '{}'; closing the stream", c->peer);
            break;
          case read_status::truncated:
            bump(n.truncated_frames);
            detail::log().warn("socket: '{}' closed in the middle of a frame", c->peer);
            break;
          default:
            break;
        }
        break;
      }
      for (auto& item : items) {
        if (item.oversized != 0) {
          bump(n.oversized_records);
          detail::log().warn("socket: record larger than buffersize ({} bytes) rejected",
                             c->t->buffer_size());
          continue;
        }
        auto m = decode_message(item.record);
        if (!m) {
          bump(n.malformed_records);
          detail::log().warn("socket: malformed record ({} bytes) rejected", item.record.size());
          if (c->server_side && !handshaken) {
            bump(n.handshakes_rejected);
            keep = false;
            break;
          }
          continue;
        }
        bump(n.records_in);
        if (c->server_side && !handshaken) {
          if (!accept_handshake(c, *m)) {
            keep = false;
            break;
          }
          handshaken = true;
          c->t->set_receive_timeout(std::chrono::milliseconds(0));
          continue;
        }
        if (!c->server_side && !handshaken && m->header.parent_id == c->handshake_id) {
          const bool ok = finish_handshake(c, *m);
          c->set_handshake(ok ? 1 : 2);
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
    on_disconnect(c);
    c->set_handshake(2);
    c->reader_done.store(true);
  }

  void on_disconnect(const std::shared_ptr<connection>& c) {
    bool was_established = false;
    {
      std::lock_guard lock(mu);
      was_established = c->established;
    }
    // Counted before anyone can see the connection gone (wait_disconnected, a failed send).
    if (was_established) bump(n.connections_lost);
    c->alive.store(false);
    c->t->shutdown();
    std::shared_ptr<detail::inbox> to_close;
    {
      std::lock_guard lock(mu);
      if (!c->server_side) {
        auto it = locals.find(c->owner);
        if (it != locals.end() && it->second.link == c) {
          it->second.link.reset();
          // The module's start returns when its inbox closes; the core then re-adds it,
          // which reconnects (Go's moduleKeeper).
          if (!stopped) to_close = it->second.box;
        }
      }
    }
    if (was_established) {
      detail::log().info("socket: connection to '{}' lost", c->server_side ? c->peer : c->owner);
    }
    if (to_close) to_close->close();
    std::set<std::string, std::less<>> awaiting;
    {
      std::lock_guard lock(c->pmu);
      awaiting.swap(c->awaiting);
    }
    for (const auto& id : awaiting) {
      message lost = new_message(id);
      lost.header.type = std::string(context_type_unixpacket);
      lost.route.operation = std::string(response_error_operation);
      lost.route.resource = std::string(connection_lost_resource);
      lost.content = content("connection lost");
      (void)ctx.replies()->deliver(std::move(lost));
    }
    cv.notify_all();
  }

  // ---- client connect --------------------------------------------------------------------

  expected<void> connect_client(const std::string& name) {
    const socket_entry* entry = cfg.client(name);
    if (entry == nullptr) return unexpected(errc::config_error);
    auto kind = detail::socket_kind_of(entry->socket_type);
    if (!kind) return unexpected(errc::config_error);
    auto fd = detail::connect_unix(entry->address, *kind);
    if (!fd) {
      bump(n.connect_failures);
      return unexpected(fd.error());
    }
    auto c = std::make_shared<connection>();
    c->t = std::make_shared<transport>(*fd, *kind, entry->buffer_size);
    c->owner = name;
    message hs = new_message();
    hs.header.sync = true;
    hs.header.type = std::string(context_type_unixpacket);
    hs.route.source = name;
    hs.route.operation = std::string(handshake_operation);
    hs.route.resource = std::string(handshake_resource);
    hs.content = content(std::string());
    c->handshake_id = hs.header.id;
    {
      std::lock_guard lock(mu);
      if (stopped) return unexpected(errc::not_connected);
      reap_locked();
      conns.push_back(c);
      c->reader = std::thread([this, c] { run_reader(c); });
    }
    if (!write(c, hs)) {
      c->t->shutdown();
      bump(n.connect_failures);
      return unexpected(errc::not_connected);
    }
    bool ok = false;
    {
      std::unique_lock lock(c->hmu);
      c->hcv.wait_for(lock, opts.handshake_timeout, [&] { return c->hstate != 0; });
      ok = c->hstate == 1;
    }
    if (!ok) {
      c->t->shutdown();
      bump(n.connect_failures);
      return unexpected(errc::not_connected);
    }
    {
      std::lock_guard lock(mu);
      auto it = locals.find(name);
      if (it == locals.end() || it->second.box->closed() || stopped || !c->alive.load()) {
        c->t->shutdown();
        return unexpected(errc::not_connected);
      }
      it->second.link = c;
      c->established = true;
    }
    bump(n.connects);
    cv.notify_all();
    detail::log().info("socket: module '{}' connected to {}", name, entry->address);
    return {};
  }

  // Retries `connect_client` with backoff until it works, the module goes, or we stop.
  void reconnect_loop(const std::string& name, std::uint64_t generation) {
    auto wait = opts.reconnect_initial;
    for (;;) {
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, wait, [&] { return stopped; });
        if (stopped || ctx.cancelled()) return;
        auto it = locals.find(name);
        if (it == locals.end() || it->second.generation != generation || it->second.box->closed() ||
            it->second.link) {
          return;
        }
      }
      if (connect_client(name)) return;
      wait = std::min(wait * 2, opts.reconnect_max);
    }
  }

  // ---- server ----------------------------------------------------------------------------

  void accept_loop(int fd, socket_kind kind, std::size_t buffer_size, int conn_max) {
    for (;;) {
      auto cfd = detail::accept_unix(fd);
      if (!cfd) {
        std::unique_lock lock(mu);
        if (stopped || !listening) return;
        if (cfd.error() == make_error_code(errc::queue_full)) {
          // Out of descriptors: wait a little rather than spin.
          cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return stopped; });
          continue;
        }
        return;
      }
      std::lock_guard lock(mu);
      if (stopped) {
        ::close(*cfd);
        return;
      }
      reap_locked();
      const auto live = std::count_if(conns.begin(), conns.end(), [](const auto& c) {
        return c->server_side && c->alive.load();
      });
      if (conn_max > 0 && live >= conn_max) {
        // Count before closing: the refused peer sees EOF as soon as the fd closes.
        bump(n.connections_refused);
        ::close(*cfd);
        detail::log().warn("socket: connection refused: connmax {} reached", conn_max);
        continue;
      }
      auto c = std::make_shared<connection>();
      c->t = std::make_shared<transport>(*cfd, kind, buffer_size);
      c->server_side = true;
      conns.push_back(c);
      c->reader = std::thread([this, c] { run_reader(c); });
      bump(n.connections_accepted);
    }
  }

  expected<void> listen() {
    const socket_entry* entry = cfg.server();
    if (entry == nullptr) {
      detail::log().error("socket: the config has no server entry; cannot listen");
      return unexpected(errc::config_error);
    }
    auto kind = detail::socket_kind_of(entry->socket_type);
    if (!kind) return unexpected(errc::config_error);
    std::lock_guard lock(mu);
    if (stopped) return unexpected(errc::not_connected);
    if (listening) return {};
    auto fd = detail::listen_unix(entry->address, *kind);
    if (!fd) return unexpected(fd.error());
    listen_fd = *fd;
    listen_path = entry->address;
    listening = true;
    if (acceptor.joinable()) acceptor.join();
    acceptor = std::thread([this, lfd = *fd, k = *kind, bs = entry->buffer_size,
                            cm = entry->conn_max] { accept_loop(lfd, k, bs, cm); });
    detail::log().info("socket: server '{}' listening on {}", entry->module, entry->address);
    return {};
  }

  void stop_listening() {
    int fd = -1;
    std::thread t;
    {
      std::lock_guard lock(mu);
      if (!listening) return;
      listening = false;
      fd = listen_fd;
      listen_fd = -1;
      t = std::move(acceptor);
    }
    ::shutdown(fd, SHUT_RDWR);
    if (t.joinable()) t.join();
    ::close(fd);
    ::unlink(listen_path.c_str());
  }

  void stop() {
    std::vector<std::shared_ptr<connection>> all;
    std::vector<std::thread> hs;
    {
      std::lock_guard lock(mu);
      if (stopped && conns.empty() && helpers.empty() && !listening) return;
      stopped = true;
    }
    cv.notify_all();
    stop_listening();
    {
      std::lock_guard lock(mu);
      all = conns;
      hs.swap(helpers);
    }
    for (auto& c : all) c->t->shutdown();
    for (auto& t : hs) {
      if (t.joinable()) t.join();
    }
    for (auto& c : all) {
      if (c->reader.joinable()) c->reader.join();
    }
    std::lock_guard lock(mu);
    conns.clear();
    for (auto& [name, l] : locals) l.link.reset();
    for (auto& [name, p] : peers) p.reset();
  }
};

socket_context::socket_context(context& ctx, socket_config config, socket_options options)
    : impl_(std::make_shared<impl>(ctx, std::move(config), options)) {}

socket_context::~socket_context() { stop(); }

expected<void> socket_context::listen() { return impl_->listen(); }

void socket_context::stop() { impl_->stop(); }

bool socket_context::connected(std::string_view module) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->peers.find(module);
  return it != impl_->peers.end() && it->second && it->second->alive.load() &&
         it->second->established;
}

bool socket_context::wait_connected(std::string_view module, duration timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] {
    auto it = impl_->peers.find(module);
    return it != impl_->peers.end() && it->second && it->second->alive.load() &&
           it->second->established && impl_->adding_peers.count(module) == 0;
  });
}

bool socket_context::wait_disconnected(std::string_view module, duration timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] {
    auto it = impl_->peers.find(module);
    return it == impl_->peers.end() || !it->second || !it->second->alive.load();
  });
}

std::vector<std::string> socket_context::peers() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [name, c] : impl_->peers) out.push_back(name);
  return out;
}

socket_stats socket_context::stats() const {
  const auto& c = impl_->n;
  socket_stats s;
  s.connections_accepted = c.connections_accepted.load();
  s.connections_refused = c.connections_refused.load();
  s.handshakes_rejected = c.handshakes_rejected.load();
  s.connections_lost = c.connections_lost.load();
  s.connects = c.connects.load();
  s.connect_failures = c.connect_failures.load();
  s.records_in = c.records_in.load();
  s.records_out = c.records_out.load();
  s.malformed_records = c.malformed_records.load();
  s.oversized_records = c.oversized_records.load();
  s.bad_frames = c.bad_frames.load();
  s.truncated_frames = c.truncated_frames.load();
  s.unknown_destination = c.unknown_destination.load();
  s.undeliverable = c.undeliverable.load();
  s.forwarded = c.forwarded.load();
  s.replies_routed = c.replies_routed.load();
  s.orphan_replies = c.orphan_replies.load();
  return s;
}

const socket_config& socket_context::config() const noexcept { return impl_->cfg; }

expected<void> socket_context::add_module(const module_info& info) {
  if (info.name.empty()) return unexpected(errc::invalid_argument);
  auto& d = *impl_;
  bool is_server = false;
  bool is_client = false;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(d.mu);
    // A peer module this context registers with the global context itself.
    if (d.adding_peers.count(info.name) != 0) return {};
    if (d.peers.count(info.name) != 0) return unexpected(errc::already_exists);
    if (d.stopped) return unexpected(errc::not_connected);
    is_server = d.cfg.server() != nullptr && d.cfg.server()->module == info.name;
    is_client = d.cfg.client(info.name) != nullptr;
    if (!is_server && !is_client) {
      detail::log().error("socket: module '{}' has no entry in the socket config", info.name);
      return unexpected(errc::config_error);
    }
    auto it = d.locals.find(info.name);
    if (it != d.locals.end() && !it->second.box->closed()) {
      return unexpected(errc::already_exists);
    }
    local_module l;
    l.box = std::make_shared<detail::inbox>(info.inbox);
    l.is_server = is_server;
    l.is_client = is_client;
    l.generation = generation = d.next_generation++;
    d.locals[info.name] = std::move(l);
  }
  if (is_server) {
    if (auto r = d.listen(); !r) return r;
  }
  if (is_client) {
    if (auto r = d.connect_client(info.name); !r) {
      detail::log().warn("socket: module '{}' could not connect yet ({}); retrying", info.name,
                         r.error().message());
      std::lock_guard lock(d.mu);
      if (!d.stopped) {
        d.helpers.emplace_back(
            [&d, name = info.name, generation] { d.reconnect_loop(name, generation); });
      }
    }
  }
  return {};
}

expected<void> socket_context::add_module_group(std::string_view module, std::string_view group) {
  auto& d = *impl_;
  std::lock_guard lock(d.mu);
  if (d.locals.count(module) == 0 && d.peers.count(module) == 0) {
    return unexpected(errc::module_not_found);
  }
  d.groups[std::string(group)].insert(std::string(module));
  return {};
}

expected<void> socket_context::cleanup(std::string_view module) {
  auto& d = *impl_;
  std::shared_ptr<detail::inbox> box;
  std::shared_ptr<connection> conn;
  bool server = false;
  {
    std::lock_guard lock(d.mu);
    if (auto it = d.locals.find(module); it != d.locals.end()) {
      box = it->second.box;
      conn = std::move(it->second.link);
      server = it->second.is_server;
      it->second.generation = d.next_generation++;
    } else if (auto p = d.peers.find(module); p != d.peers.end()) {
      conn = p->second;
    } else {
      return unexpected(errc::module_not_found);
    }
  }
  d.cv.notify_all();
  if (box) box->close();
  if (conn) conn->t->shutdown();
  if (server) d.stop_listening();
  return {};
}

expected<void> socket_context::send(std::string_view module, message msg) {
  return impl_->send_to(module, std::move(msg), false);
}

expected<message> socket_context::receive(std::string_view module) {
  std::shared_ptr<detail::inbox> box;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->locals.find(module);
    if (it == impl_->locals.end()) return unexpected(errc::module_not_found);
    box = it->second.box;
  }
  auto r = box->pop();
  if (r) detail::reply_table::note_receiver(module);
  return r;
}

expected<message> socket_context::receive_for(std::string_view module, duration timeout) {
  std::shared_ptr<detail::inbox> box;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->locals.find(module);
    if (it == impl_->locals.end()) return unexpected(errc::module_not_found);
    box = it->second.box;
  }
  auto r = box->pop_until(detail::inbox::clock::now() + timeout);
  if (r) detail::reply_table::note_receiver(module);
  return r;
}

expected<message> socket_context::send_sync(std::string_view module, message msg,
                                            duration timeout) {
  if (timeout <= duration::zero()) timeout = message_timeout_default;
  const auto deadline = detail::reply_table::clock::now() + timeout;
  msg.header.sync = true;
  // The reply must come back through this type, whatever type the caller had set.
  msg.header.type = std::string(context_type_unixpacket);
  const std::string id = msg.header.id.str();
  auto pending = impl_->ctx.replies()->expect(id);
  std::shared_ptr<connection> via;
  if (auto r = impl_->send_to(module, std::move(msg), false, &via); !r) {
    return unexpected(r.error());
  }
  auto reply = pending->wait_one(deadline);
  impl::forget_awaited(via, id);
  // The connection ended while we waited: say so now rather than at the deadline.
  if (reply && is_connection_lost(*reply)) return unexpected(errc::not_connected);
  return reply;
}

expected<void> socket_context::send_resp(message resp) {
  auto& d = *impl_;
  const auto& rt = d.ctx.replies();
  if (rt->waiting(resp.header.parent_id)) return rt->deliver(std::move(resp));
  if (auto c = d.take_request(resp.header.parent_id.str())) {
    if (resp.header.type.empty()) resp.header.type = std::string(context_type_unixpacket);
    return d.write(c, resp);
  }
  // Go's behaviour: a reply nobody here waits for goes to its destination, if that is a peer.
  std::shared_ptr<connection> conn;
  if (!resp.route.destination.empty()) {
    std::lock_guard lock(d.mu);
    if (auto p = d.peers.find(resp.route.destination); p != d.peers.end()) conn = p->second;
  }
  if (conn) return d.write(conn, resp);
  bump(d.n.orphan_replies);
  return rt->deliver(std::move(resp));
}

expected<group_delivery> socket_context::send_to_group(std::string_view group, message msg) {
  auto& d = *impl_;
  std::vector<std::string> members;
  {
    std::lock_guard lock(d.mu);
    auto it = d.groups.find(group);
    if (it != d.groups.end()) members.assign(it->second.begin(), it->second.end());
  }
  if (members.empty()) return unexpected(errc::group_not_found);
  group_delivery out;
  for (const auto& m : members) {
    message copy = msg;  // shares the content
    if (auto r = d.send_to(m, std::move(copy), true); r) {
      ++out.delivered;
    } else {
      out.failed.emplace_back(m, r.error());
    }
  }
  return out;
}

expected<group_replies> socket_context::send_to_group_sync(std::string_view group, message msg,
                                                           duration timeout) {
  auto& d = *impl_;
  if (timeout <= duration::zero()) timeout = message_timeout_default;
  const auto deadline = detail::reply_table::clock::now() + timeout;
  std::vector<std::string> members;
  {
    std::lock_guard lock(d.mu);
    auto it = d.groups.find(group);
    if (it != d.groups.end()) members.assign(it->second.begin(), it->second.end());
  }
  if (members.empty()) return unexpected(errc::group_not_found);
  // Why one request id per member: a reply's route names the requester, not the member that
  // answers, so across processes only the id tells members apart.
  struct member_wait {
    std::string member;
    std::string id;
    std::unique_ptr<detail::reply_table::pending> pending;
    std::shared_ptr<connection> via;
  };
  std::vector<member_wait> waits;
  group_replies out;
  for (const auto& m : members) {
    message copy = msg;
    copy.update_id();
    copy.header.sync = true;
    copy.header.type = std::string(context_type_unixpacket);
    member_wait w{m, copy.header.id.str(), d.ctx.replies()->expect(copy.header.id.str()), nullptr};
    if (auto r = d.send_to(m, std::move(copy), true, &w.via); !r) {
      out.failed.emplace_back(m, r.error());
      continue;
    }
    waits.push_back(std::move(w));
  }
  for (auto& w : waits) {
    auto r = w.pending->wait_one(deadline);
    impl::forget_awaited(w.via, w.id);
    if (r && is_connection_lost(*r)) {
      out.failed.emplace_back(w.member, make_error_code(errc::not_connected));
    } else if (r) {
      r->header.parent_id = msg.header.id;
      out.replies.push_back(std::move(*r));
    } else {
      out.missing.push_back(w.member);
    }
  }
  return out;
}

expected<std::shared_ptr<socket_context>> register_socket_context(context& ctx,
                                                                  socket_config config,
                                                                  socket_options options) {
  auto sc = std::make_shared<socket_context>(ctx, std::move(config), options);
  if (auto r = ctx.register_type(std::string(context_type_unixpacket), sc); !r) {
    return unexpected(r.error());
  }
  return sc;
}

}  // namespace beehive
