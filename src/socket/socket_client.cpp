// SPDX-License-Identifier: Apache-2.0
// g++ 12 warns (-Wtsan) that the fences in asio's headers are invisible to ThreadSanitizer;
// see socket_io.cpp for why that does not matter here.
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include "socket/socket_client.hpp"

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/log.hpp"
#include "socket/asio_unix.hpp"
#include "socket/connection.hpp"
#include "socket/handshake.hpp"
#include "socket/peer_endpoint.hpp"

namespace beehive::detail {
namespace {

void bump(std::atomic<std::uint64_t>& c) { socket_counters::bump(c); }

}  // namespace

socket_client::socket_client(const socket_config& config, const socket_options& options,
                             std::shared_ptr<socket_counters> counters, type_host& host,
                             peer_registry& registry, socket_io& io)
    : cfg_(config),
      opts_(options),
      counters_(std::move(counters)),
      host_(host),
      registry_(registry),
      io_(io) {}

bool socket_client::start(const std::shared_ptr<hosted_endpoint>& module) {
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    generation = module->generation;
    module->retry_wait = opts_.reconnect_initial;
  }
  // Never here: the caller may be `add_module`, under a core's lock. The loop connects without
  // blocking, and a failed attempt tries again after the module's backoff.
  std::weak_ptr<hosted_endpoint> weak = module;
  return io_.post([this, weak, generation] { connect_async(weak, generation); });
}

void socket_client::stop(hosted_endpoint& module) {
  std::shared_ptr<socket_link> up;
  {
    std::lock_guard lock(mu_);
    ++module.generation;
    up = std::move(module.up);
    module.up.reset();
    module.ready.store(false, std::memory_order_release);
  }
  if (up) up->conn->wire.shutdown();
}

void socket_client::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

bool socket_client::current_locked(const hosted_endpoint& module, std::uint64_t generation) const {
  return !closed_ && module.generation == generation;
}

void socket_client::connect_later(const std::weak_ptr<hosted_endpoint>& weak,
                                  std::uint64_t generation) {
  std::chrono::milliseconds wait{};
  {
    auto module = weak.lock();
    std::lock_guard lock(mu_);
    if (!module || !current_locked(*module, generation)) return;
    wait = module->retry_wait;
    module->retry_wait = std::min(wait * 2, opts_.reconnect_max);
  }
  if (!io_.start()) return;
  auto timer = std::make_shared<asio::steady_timer>(io_.context(), wait);
  timer->async_wait([this, timer, weak, generation](const asio::error_code& ec) {
    if (!ec) connect_async(weak, generation);
  });
}

void socket_client::connect_async(const std::weak_ptr<hosted_endpoint>& weak,
                                  std::uint64_t generation) {
  auto module = weak.lock();
  if (!module || host_.cancelled()) return;
  {
    std::lock_guard lock(mu_);
    if (!current_locked(*module, generation) || module->up) return;
  }
  // The type checked the entry and its kind (`make_endpoint`).
  const socket_entry* entry = cfg_.client(module->name());
  const socket_kind kind = *link_kind(*entry, opts_);
  unix_asio::with_protocol(kind, [&](auto protocol) {
    using protocol_type = decltype(protocol);
    auto s = std::make_shared<typename protocol_type::socket>(io_.context());
    s->async_connect(unix_asio::endpoint_at<protocol_type>(entry->address),
                     [this, s, weak, generation](const asio::error_code& ec) {
                       auto again = weak.lock();
                       if (!again) return;
                       asio::error_code rec;
                       const int fd = ec ? -1 : unix_asio::release_descriptor(*s, rec);
                       if (fd < 0) {
                         bump(counters_->connect_failures);
                         connect_later(weak, generation);
                         return;
                       }
                       // The outcome comes with the answer (`on_handshake`) or the link's end
                       // (`on_ended`, which tries again).
                       (void)begin_handshake(again, generation, fd);
                     });
  });
}

expected<std::shared_ptr<socket_link>> socket_client::begin_handshake(
    const std::shared_ptr<hosted_endpoint>& module, std::uint64_t generation, int fd) {
  // The type checked the entry and its kind (`make_endpoint`).
  const socket_entry& entry = *cfg_.client(module->name());
  // The link is the module's own: its records wait for the socket as its inbox options say.
  const inbox* box = module->local();
  auto conn = make_connection(fd, *link_kind(entry, opts_), entry,
                              box != nullptr ? box->options() : opts_.outbound, false, counters_);
  auto link = std::make_shared<socket_link>(conn, *this, module->name());
  link->owner = module->name();
  link->owner_ep = module;
  link->generation = generation;
  const message request = make_handshake_request(module->name());
  link->handshake_id = std::string(std::string_view(request.header.id));
  {
    std::lock_guard lock(mu_);
    if (!current_locked(*module, generation)) return unexpected(errc::not_connected);
  }
  if (!registry_.start(link)) return unexpected(errc::not_connected);
  // A failed write ends the link; its end tries again.
  if (!conn->write(request)) conn->wire.shutdown();
  if (io_.start()) {
    auto deadline = std::make_shared<asio::steady_timer>(io_.context(), opts_.handshake_timeout);
    std::weak_ptr<socket_link> weak = link;
    deadline->async_wait([this, deadline, weak](const asio::error_code& ec) {
      auto expired = weak.lock();
      if (ec || !expired || !registry_.expire(*expired)) return;
      log().warn("socket: module '{}' got no handshake answer within {} ms; closing",
                 expired->owner, opts_.handshake_timeout.count());
    });
  }
  return link;
}

bool socket_client::on_handshake(const std::shared_ptr<socket_link>& link, const message& m) {
  auto module = link->owner_ep.lock();
  if (!module) return false;
  handshake_response answer = read_handshake_response(m, link->owner);
  if (answer.result == response_result::refused) {
    log().warn("socket: server refused module '{}': {}", link->owner, answer.reason);
    return false;
  }
  if (answer.result != response_result::accepted) {
    log().warn("socket: malformed handshake answer for '{}': {}", link->owner, answer.reason);
    return false;
  }
  // The server's modules become peers in one change (one publication of the routing).
  std::vector<peer_registry::peer_entry> entries;
  entries.reserve(answer.exchange.modules.size());
  for (const auto& name : answer.exchange.modules) {
    entries.push_back({name, answer.exchange.groups_of(name)});
  }
  const auto codes = registry_.add_peers(*link, entries);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (codes[i]) {
      log().warn("socket: peer module '{}' not bound: {}", entries[i].module, codes[i].message());
    }
  }
  link->known = std::move(answer.exchange);
  if (!registry_.establish(*link)) return false;  // its deadline passed first
  {
    std::lock_guard lock(mu_);
    if (!current_locked(*module, link->generation)) return false;  // cleaned up meanwhile
    module->up = link;
    module->retry_wait = opts_.reconnect_initial;
    module->ready.store(true, std::memory_order_release);
  }
  log().info("socket: module '{}' connected to {}", link->owner, cfg_.client(link->owner)->address);
  // Asks for the server's later changes; a Go server ignores this (handshake.hpp). A refusal
  // (full queue) only means no updates: the link works as Go's.
  (void)link->conn->write(make_presence_subscription(link->owner), delivery::reply);
  return true;
}

namespace {

// The groups in `a` and not in `b` (both sorted).
std::vector<std::string> minus(const std::vector<std::string>& a,
                               const std::vector<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

void socket_client::on_presence(socket_link& link, const message& m) {
  if (link.server_side()) return;
  handshake_response next = read_exchange(m, link.owner);
  if (next.result != response_result::accepted) {
    bump(counters_->malformed_records);
    log().warn("socket: malformed presence update for '{}': {}", link.owner, next.reason);
    return;
  }
  const module_exchange& old = link.known;
  const module_exchange& now = next.exchange;
  const auto has = [](const module_exchange& x, const std::string& n) {
    return std::find(x.modules.begin(), x.modules.end(), n) != x.modules.end();
  };
  const auto endpoint_of = [&](const std::string& n) -> std::shared_ptr<endpoint> {
    for (const auto& p : link.peers) {
      if (p->name() == n) return p;
    }
    return nullptr;
  };
  std::vector<peer_update> batch;
  for (const auto& n : old.modules) {
    if (has(now, n)) continue;
    if (auto ep = endpoint_of(n)) batch.push_back({peer_op::remove, n, std::move(ep), {}});
  }
  for (const auto& n : now.modules) {
    if (!has(old, n)) {
      batch.push_back({peer_op::add, n, std::make_shared<peer_endpoint>(n, link.conn, link.owner),
                       now.groups_of(n)});
      continue;
    }
    auto ep = endpoint_of(n);
    if (!ep) continue;  // shadowed by a module of this process
    const auto before = old.groups_of(n);
    const auto after = now.groups_of(n);
    if (auto joined = minus(after, before); !joined.empty()) {
      batch.push_back({peer_op::join, n, ep, std::move(joined)});
    }
    if (auto left = minus(before, after); !left.empty()) {
      batch.push_back({peer_op::leave, n, ep, std::move(left)});
    }
  }
  link.known = std::move(next.exchange);
  if (batch.empty()) return;
  const auto codes = registry_.apply(link, batch);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (codes[i]) {
      log().warn("socket: presence of '{}' not applied: {}", batch[i].module, codes[i].message());
    }
  }
}

void socket_client::on_ended(const std::shared_ptr<socket_link>& link, bool was_established) {
  auto module = link->owner_ep.lock();
  if (!module) return;
  bool retire = false;
  bool retry = false;
  {
    std::lock_guard lock(mu_);
    if (module->up == link) {
      module->up.reset();
      module->ready.store(false, std::memory_order_release);
      retire = !closed_;
    } else if (!was_established) {
      retry = current_locked(*module, link->generation) && !module->up;
    }
  }
  if (!was_established) bump(counters_->connect_failures);
  if (retry) connect_later(module, link->generation);
  // The module's start returns when it is cleaned up; a core then re-adds it, which connects
  // again (Go's moduleKeeper).
  if (retire) host_.cleanup(module->name(), *module);
}

}  // namespace beehive::detail
