// SPDX-License-Identifier: Apache-2.0
#include "socket/peer_registry.hpp"

#include <algorithm>
#include <utility>

#include "core/log.hpp"
#include "core/reply_table.hpp"
#include "socket/peer_endpoint.hpp"

namespace beehive::detail {
namespace {

bool carries(const socket_link& link, std::string_view module) {
  return std::any_of(link.peers.begin(), link.peers.end(),
                     [&](const auto& p) { return p->name() == module; });
}

}  // namespace

peer_registry::peer_registry(type_host& host, socket_counters& counters, socket_io& io)
    : host_(host), counters_(counters), io_(io), reader_(host, counters) {}

peer_registry::~peer_registry() { stop(); }

bool peer_registry::start(const std::shared_ptr<socket_link>& link) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  link->origin = std::make_shared<peer_endpoint>(link->label, link->conn, link->owner);
  links_.push_back(link);
  ++readers_;
  link->reader = std::thread([this, link] { run(link); });
  return true;
}

void peer_registry::run(const std::shared_ptr<socket_link>& link) {
  reader_.run(link);
  bool was_established = false;
  {
    std::lock_guard lock(mu_);
    was_established = link->state == link_state::established;
  }
  tear_down(link, was_established);
  // Joined by the loop, before anything the handler queues there (a reconnect) runs. Once the
  // loop has stopped, `stop` joins it.
  std::weak_ptr<socket_link> weak = link;
  (void)io_.post([this, weak] {
    if (auto l = weak.lock()) reap(l);
  });
  link->handler.on_ended(link, was_established);
}

void peer_registry::tear_down(const std::shared_ptr<socket_link>& link, bool was_established) {
  std::vector<std::shared_ptr<peer_endpoint>> peers;
  std::shared_ptr<peer_endpoint> origin;
  {
    std::lock_guard lock(mu_);
    // Copied: the peers stay listed (not "disconnected") until the host has forgotten them.
    peers = link->peers;
    origin = std::move(link->origin);
  }
  // Counted before anyone can see the link gone (wait_disconnected, a failed send).
  if (was_established) socket_counters::bump(counters_.connections_lost);
  link->conn->alive.store(false, std::memory_order_release);
  link->conn->wire.shutdown();
  if (!peers.empty()) {
    // One change of the routing for all of them.
    std::vector<peer_update> batch;
    batch.reserve(peers.size());
    for (const auto& p : peers) batch.push_back({peer_op::remove, p->name(), p, {}});
    (void)host_.update_peers(batch);
  }
  // Callers waiting on a module of this link wake now rather than at their timeout.
  for (const auto& p : peers) {
    host_.replies().fail_target(p.get(), make_error_code(errc::not_connected));
  }
  if (origin) host_.replies().forget_origin(origin.get());
  // Its descriptor and writer thread go now: the connection object itself may live on for a
  // while in endpoints that threads' routing caches still hold (they answer not_connected).
  link->conn->wire.release();
  {
    std::lock_guard lock(mu_);
    link->peers.clear();
    link->state = link_state::ended;
  }
  if (was_established) log().info("socket: connection of '{}' lost", link->label);
  cv_.notify_all();
}

void peer_registry::reap(const std::shared_ptr<socket_link>& link) {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    auto it = std::find(links_.begin(), links_.end(), link);
    if (it == links_.end()) return;  // `stop` took it
    t = std::move(link->reader);
    links_.erase(it);
  }
  // The reader has torn the link down and is returning: the join is short.
  if (t.joinable()) t.join();
  {
    std::lock_guard lock(mu_);
    --readers_;
  }
  cv_.notify_all();
}

std::vector<std::error_code> peer_registry::add_peers(socket_link& link,
                                                      const std::vector<peer_entry>& entries) {
  std::vector<peer_update> batch;
  batch.reserve(entries.size());
  for (const auto& e : entries) {
    batch.push_back({peer_op::add, e.module,
                     std::make_shared<peer_endpoint>(e.module, link.conn, link.owner), e.groups});
  }
  return apply(link, batch);
}

std::vector<std::error_code> peer_registry::apply(socket_link& link,
                                                  const std::vector<peer_update>& batch) {
  auto codes = host_.update_peers(batch);
  codes.resize(batch.size(), make_error_code(errc::invalid_argument));
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (codes[i]) continue;
      if (batch[i].op == peer_op::add) {
        link.peers.push_back(std::static_pointer_cast<peer_endpoint>(batch[i].ep));
      } else if (batch[i].op == peer_op::remove) {
        std::erase_if(link.peers, [&](const auto& p) { return p == batch[i].ep; });
        // The link stays: the endpoint must stop writing to it for that module.
        if (link.state == link_state::established) {
          std::static_pointer_cast<peer_endpoint>(batch[i].ep)->retire();
        }
      }
    }
  }
  cv_.notify_all();
  return codes;
}

void peer_registry::subscribe(socket_link& link) {
  std::lock_guard lock(mu_);
  link.presence = true;
}

std::vector<std::shared_ptr<socket_link>> peer_registry::presence_links() const {
  std::vector<std::shared_ptr<socket_link>> out;
  std::lock_guard lock(mu_);
  for (const auto& l : links_) {
    if (l->presence && l->state == link_state::established) out.push_back(l);
  }
  return out;
}

expected<void> peer_registry::add_peer(socket_link& link, const std::string& module,
                                       const std::vector<std::string>& groups) {
  const auto codes = add_peers(link, {peer_entry{module, groups}});
  if (codes.at(0)) return unexpected(codes[0]);
  return {};
}

bool peer_registry::establish(socket_link& link) {
  {
    std::lock_guard lock(mu_);
    if (link.state != link_state::handshaking) return false;
    // Counted before `connected` can see it.
    if (!link.server_side()) socket_counters::bump(counters_.connects);
    link.state = link_state::established;
  }
  cv_.notify_all();
  return true;
}

bool peer_registry::expire(socket_link& link) {
  {
    std::lock_guard lock(mu_);
    if (link.state != link_state::handshaking) return false;
    // Counted before the peer sees the connection close.
    if (link.server_side()) socket_counters::bump(counters_.handshakes_rejected);
    link.state = link_state::expired;
  }
  link.conn->wire.shutdown();
  cv_.notify_all();
  return true;
}

bool peer_registry::wait_established(const socket_link& link, std::chrono::nanoseconds bound) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, bound, [&] { return closed_ || link.state != link_state::handshaking; });
  return link.state == link_state::established;
}

void peer_registry::replace_older(const socket_link& keep, std::string_view module) {
  std::vector<std::shared_ptr<socket_link>> older;
  {
    std::lock_guard lock(mu_);
    for (const auto& l : links_) {
      if (l.get() != &keep && l->server_side() && carries(*l, module)) older.push_back(l);
    }
  }
  for (const auto& l : older) l->conn->wire.shutdown();
}

std::size_t peer_registry::server_links() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(links_.begin(), links_.end(), [](const auto& l) {
    return l->server_side() && l->state != link_state::ended;
  }));
}

std::set<std::string, std::less<>> peer_registry::peer_names() const {
  std::set<std::string, std::less<>> names;
  std::lock_guard lock(mu_);
  for (const auto& l : links_) {
    for (const auto& p : l->peers) names.insert(p->name());
  }
  return names;
}

bool peer_registry::connected_locked(std::string_view module) const {
  return std::any_of(links_.begin(), links_.end(), [&](const auto& l) {
    return l->state == link_state::established && l->conn->alive.load() && carries(*l, module);
  });
}

bool peer_registry::listed_locked(std::string_view module) const {
  return std::any_of(links_.begin(), links_.end(),
                     [&](const auto& l) { return carries(*l, module); });
}

bool peer_registry::connected(std::string_view module) const {
  std::lock_guard lock(mu_);
  return connected_locked(module);
}

bool peer_registry::wait_connected(std::string_view module, std::chrono::nanoseconds bound) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, bound, [&] { return connected_locked(module); });
}

bool peer_registry::wait_disconnected(std::string_view module,
                                      std::chrono::nanoseconds bound) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, bound, [&] { return !listed_locked(module); });
}

std::vector<std::string> peer_registry::peers() const {
  std::set<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& l : links_) {
      if (l->state != link_state::established || !l->conn->alive.load()) continue;
      for (const auto& p : l->peers) names.insert(p->name());
    }
  }
  return {names.begin(), names.end()};
}

std::size_t peer_registry::reader_threads() const {
  std::lock_guard lock(mu_);
  return readers_;
}

bool peer_registry::wait_reader_threads_for(std::size_t at_most,
                                            std::chrono::nanoseconds bound) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, bound, [&] { return readers_ <= at_most; });
}

void peer_registry::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool peer_registry::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void peer_registry::stop() {
  close();
  std::vector<std::shared_ptr<socket_link>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(links_);
  }
  for (const auto& l : all) l->conn->wire.shutdown();
  std::size_t joined = 0;
  for (const auto& l : all) {
    // Only this thread touches `reader` now: the loop that reaps has stopped, and the link
    // left `links_` above.
    if (l->reader.joinable()) {
      l->reader.join();
      ++joined;
    }
  }
  {
    std::lock_guard lock(mu_);
    readers_ -= joined;
  }
  cv_.notify_all();
  // `all` (and the connections it holds) goes here, outside the mutex.
}

}  // namespace beehive::detail
