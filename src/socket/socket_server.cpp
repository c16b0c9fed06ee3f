// SPDX-License-Identifier: Apache-2.0
// g++ 12 warns (-Wtsan) that the fences in asio's headers are invisible to ThreadSanitizer;
// see socket_io.cpp for why that does not matter here.
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include "socket/socket_server.hpp"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <utility>
#include <variant>
#include <vector>

#include "json_text.hpp"
#include "log.hpp"
#include "socket/asio_unix.hpp"
#include "socket/connection.hpp"

namespace beehive::detail {
namespace {

constexpr std::string_view handshake_op = "add";
constexpr std::string_view handshake_res = "module";
// After running out of descriptors, accepting resumes this much later rather than spin.
constexpr auto accept_pause = std::chrono::milliseconds(50);

void bump(std::atomic<std::uint64_t>& c) { socket_counters::bump(c); }

template <class Field>
std::string_view sv(const Field& f) {
  return std::string_view(f);
}

using seq_acceptor = asio::basic_socket_acceptor<unix_asio::seqpacket>;
using stream_acceptor = asio::basic_socket_acceptor<unix_asio::stream>;

bool out_of_descriptors(const asio::error_code& ec) {
  const int e = ec.value();
  return ec.category() == asio::error::get_system_category() &&
         (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM);
}

}  // namespace

// The listening socket. Its acceptor is used under `mu`: by the loop, which accepts, and by
// whoever closes it.
struct socket_server::listener {
  template <class Acceptor>
  listener(std::in_place_type_t<Acceptor> t, asio::io_context& io, std::string where, socket_kind k,
           const socket_entry& entry)
      : acceptor(t, io),
        path(std::move(where)),
        kind(k),
        buffer_size(entry.buffer_size),
        conn_max(entry.conn_max) {}

  std::mutex mu;
  std::variant<seq_acceptor, stream_acceptor> acceptor;
  bool closed = false;  // guarded by mu
  const std::string path;
  const socket_kind kind;
  const std::size_t buffer_size;
  const int conn_max;

  void close() {
    std::lock_guard lock(mu);
    if (closed) return;
    closed = true;
    asio::error_code ec;
    std::visit([&](auto& a) { a.close(ec); }, acceptor);
    ::unlink(path.c_str());
  }
};

namespace {

// Why probe before removing: unlinking the path of a live server takes its address away
// silently (it keeps running, nobody can reach it). Only a socket that refuses a connection is
// stale (its server is gone).
expected<void> clear_stale_socket(asio::io_context& io, const std::string& path, socket_kind kind) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    log().error("socket: '{}' exists and is not a socket; not removing it", path);
    return unexpected(errc::invalid_argument);
  }
  const asio::error_code ec = unix_asio::with_protocol(kind, [&](auto protocol) {
    using protocol_type = decltype(protocol);
    typename protocol_type::socket probe(io);
    asio::error_code e;
    probe.connect(unix_asio::endpoint_at<protocol_type>(path), e);
    return e;
  });
  if (ec == asio::error::connection_refused) {
    log().info("socket: removing the stale socket file '{}'", path);
    ::unlink(path.c_str());
    return {};
  }
  if (ec == std::errc::no_such_file_or_directory) return {};  // removed meanwhile
  log().error("socket: a server is live on '{}' ({}); not taking its address", path,
              ec ? ec.message() : std::string("it accepted a connection"));
  return unexpected(errc::already_exists);
}

template <class Acceptor>
expected<std::shared_ptr<socket_server::listener>> open_listener(asio::io_context& io,
                                                                 const socket_entry& entry,
                                                                 socket_kind kind) {
  using protocol_type = typename Acceptor::protocol_type;
  auto l = std::make_shared<socket_server::listener>(std::in_place_type<Acceptor>, io,
                                                     entry.address, kind, entry);
  auto& acc = std::get<Acceptor>(l->acceptor);
  const auto ep = unix_asio::endpoint_at<protocol_type>(entry.address);
  asio::error_code ec;
  acc.open(ep.protocol(), ec);
  if (!ec) (void)::fcntl(acc.native_handle(), F_SETFD, FD_CLOEXEC);
  if (!ec) acc.bind(ep, ec);
  // Only the owner may connect (Go sets 0600 too).
  if (!ec) (void)::chmod(entry.address.c_str(), S_IRUSR | S_IWUSR);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    log().error("socket: cannot listen on '{}': {}", entry.address, ec.message());
    if (acc.is_open()) ::unlink(entry.address.c_str());
    return unexpected(errc::not_connected);
  }
  return l;
}

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

expected<void> socket_server::listen(const void* owner) {
  const socket_entry* entry = cfg_.server();
  if (entry == nullptr) {
    log().error("socket: the config has no server entry; cannot listen");
    return unexpected(errc::config_error);
  }
  auto kind = socket_kind_of(entry->socket_type);
  if (!kind) return unexpected(errc::config_error);
  sockaddr_un addr{};
  if (entry->address.empty() || entry->address.size() >= sizeof(addr.sun_path)) {
    log().error("socket: address '{}' is not a usable unix socket path", entry->address);
    return unexpected(errc::invalid_argument);
  }
  std::lock_guard lock(mu_);
  if (closed_ || registry_.closed()) return unexpected(errc::not_connected);
  if (listener_) {
    if (owner != nullptr) owner_ = owner;
    return {};
  }
  if (auto r = clear_stale_socket(io_.context(), entry->address, *kind); !r) return r;
  auto l = *kind == socket_kind::seqpacket
               ? open_listener<seq_acceptor>(io_.context(), *entry, *kind)
               : open_listener<stream_acceptor>(io_.context(), *entry, *kind);
  if (!l) return unexpected(l.error());
  if (!io_.start()) {
    (*l)->close();
    return unexpected(errc::not_connected);
  }
  listener_ = *l;
  owner_ = owner;
  accept_next(listener_);
  log().info("socket: server '{}' listening on {}", entry->module, entry->address);
  return {};
}

void socket_server::stop_listening(const void* owner) {
  std::shared_ptr<listener> l;
  {
    std::lock_guard lock(mu_);
    if (!listener_ || owner_ != owner) return;
    l = std::move(listener_);
    owner_ = nullptr;
  }
  l->close();
}

void socket_server::close() {
  std::shared_ptr<listener> l;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    l = std::move(listener_);
    owner_ = nullptr;
  }
  if (l) l->close();
}

void socket_server::accept_next(const std::shared_ptr<listener>& l) {
  std::lock_guard lock(l->mu);
  if (l->closed) return;
  std::visit(
      [&](auto& acc) {
        acc.async_accept([this, l](const asio::error_code& ec, auto peer) {
          if (ec == asio::error::operation_aborted) return;
          if (ec && out_of_descriptors(ec)) {
            log().error("socket: accept on '{}': {}; pausing", l->path, ec.message());
            auto pause = std::make_shared<asio::steady_timer>(io_.context(), accept_pause);
            pause->async_wait([this, l, pause](const asio::error_code&) { accept_next(l); });
            return;
          }
          if (ec) {
            log().error("socket: accept on '{}': {}; no longer accepting", l->path, ec.message());
            return;
          }
          asio::error_code rec;
          const int fd = unix_asio::release_descriptor(peer, rec);
          if (fd >= 0) on_accepted(*l, fd);
          accept_next(l);
        });
      },
      l->acceptor);
}

void socket_server::on_accepted(const listener& l, int fd) {
  if (l.conn_max > 0 && registry_.server_links() >= static_cast<std::size_t>(l.conn_max)) {
    // Counted before closing: the refused peer sees EOF as soon as the descriptor closes.
    bump(counters_->connections_refused);
    ::close(fd);
    log().warn("socket: connection refused: connmax {} reached", l.conn_max);
    return;
  }
  auto conn = std::make_shared<connection>(fd, l.kind, l.buffer_size, true, counters_);
  auto link = std::make_shared<socket_link>(std::move(conn), *this, "client on " + l.path);
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
  const std::string name(sv(m.route.source));
  if (sv(m.route.operation) != handshake_op || sv(m.route.resource) != handshake_res ||
      name.empty()) {
    reject(*link, m, "the first record must be a module handshake");
    return false;
  }
  if (cfg_.client(name) == nullptr) {
    reject(*link, m, "module is not listed as a client in the socket config");
    return false;
  }
  // Go puts the remote module in a group named after itself.
  std::vector<std::string> groups{name};
  if (const std::string group(sv(m.route.group)); !group.empty() && group != name) {
    groups.push_back(group);
  }
  if (auto r = registry_.add_peer(*link, name, groups); !r) {
    reject(*link, m, "module name is taken by a module of this process");
    return false;
  }
  if (!registry_.establish(*link)) return false;  // its deadline passed first
  // A peer that reconnects before its old link noticed the loss replaces it.
  registry_.replace_older(*link, name);
  auto reply = new_resp_by_message(m, content::from_trusted_json_text(module_exchange()));
  reply.set_type(std::string(context_type_unixpacket));
  reply.set_destination(name);
  if (!link->conn->write(reply)) return false;
  log().info("socket: module '{}' joined", name);
  return true;
}

void socket_server::reject(const socket_link& link, const message& m, std::string_view why) {
  bump(counters_->handshakes_rejected);
  log().warn("socket: handshake from '{}' rejected: {}", sv(m.route.source), why);
  auto err = new_error_message(m, std::string(why));
  err.set_type(std::string(context_type_unixpacket));
  err.set_destination(std::string(sv(m.route.source)));
  (void)link.conn->write(err);
}

// The modules and groups this process hosts (peers excluded), as Go's server answers them:
// {"modules":[...],"groups":{"<group>":[...]}}.
std::string socket_server::module_exchange() const {
  const membership all = host_.members();
  const auto peer_names = registry_.peer_names();
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

}  // namespace beehive::detail
