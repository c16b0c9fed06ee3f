// SPDX-License-Identifier: Apache-2.0
// The nats type's presence (docs/architecture.md, "Presence"): the presence thread, which
// publishes this process's heartbeat every interval (and at once on a change) and expires the
// processes that fell silent, and `apply`, which turns the presence table's changes into peers
// in the registry (joins, leaves, group changes; the waiters on a module that went woken with
// `not_connected`).
#include <algorithm>
#include <utility>

#include "core/log.hpp"
#include "core/reply_table.hpp"
#include "nats/nats_hosted_endpoint.hpp"
#include "nats/nats_peer_endpoint.hpp"
#include "nats/nats_type.hpp"

namespace beehive::detail {

void nats_type::announce() {
  // No lock: see announce_now_.
  announce_now_.store(true);
  presence_cv_.notify_all();
}

void nats_type::presence_loop() {
  const auto interval = link_->cfg.presence_interval;
  // A process is gone after 2.5 silent intervals; checked every quarter interval, so that it
  // disappears within 3 intervals of its last heartbeat.
  const auto silence = interval * 5 / 2;
  auto next = std::chrono::steady_clock::now();
  std::unique_lock lk(presence_mu_);
  while (!presence_stop_) {
    presence_cv_.wait_until(lk, std::min(next, std::chrono::steady_clock::now() + interval / 4),
                            [&] { return presence_stop_ || announce_now_; });
    if (presence_stop_) break;
    const auto now = std::chrono::steady_clock::now();
    if (announce_now_.exchange(false) || now >= next) {
      next = now + interval;
      announcement a{link_->subj.process, {}};
      {
        std::lock_guard hl(hosted_mu_);
        for (const auto& [name, weak] : hosted_) {
          auto ep = weak.lock();
          if (!ep) continue;
          announced_module m;
          m.name = name;
          m.groups.assign(ep->groups.begin(), ep->groups.end());
          const auto opts = ep->local()->options();
          m.overflow = opts.overflow;
          m.block_timeout =
              std::chrono::duration_cast<std::chrono::milliseconds>(opts.block_timeout);
          m.replica = ep->replica;
          a.modules.push_back(std::move(m));
        }
      }
      std::vector<std::shared_ptr<nats_peer_endpoint>> peers;
      peers.reserve(peers_.size());
      for (const auto& [n, ep] : peers_) peers.push_back(ep);
      lk.unlock();
      (void)link_->rpc->publish(link_->subj.heartbeat(), encode_announcement(a));
      for (const auto& ep : peers) ep->nudge();
      peers.clear();
      lk.lock();
    }
    // Silence is measured while our own link is heard: a peer expires only when we heard our
    // own heartbeat long enough after its last one (time runs at most an interval past our last
    // echo). Our own heartbeat overdue: it is our link that is silent (a hung node, a failover),
    // not everyone else; nobody expires until it has been back for an interval (time for
    // everyone's answer to the hello of our reconnect). So a hung node does not drop every peer,
    // and what they kept unacknowledged is resent, not counted lost.
    if (now - self_heard_ > interval + interval / 2) {
      expiry_paused_until_ = now + interval;
    } else if (now >= expiry_paused_until_) {
      apply(table_.expire(std::min(now, self_heard_ + interval), silence));
    }
  }
}

// Called with presence_mu_ held.
void nats_type::apply(const std::vector<presence_change>& changes) {
  type_host* const h = host_.load();
  if (h == nullptr) return;
  // Callers waiting on removed peers wake after every change is applied: a woken caller sees
  // the whole change (every module of a process gone).
  std::vector<std::shared_ptr<nats_peer_endpoint>> removed;
  for (const auto& c : changes) {
    const std::string& name = c.info.name;
    switch (c.what) {
      case presence_change::kind::add: {
        // A module this process is configured to host as a replica is never a peer here: the
        // name is kept free for the local replica (a send from here reaches the local one).
        if (c.info.replica && link_->cfg.is_replica(name)) break;
        bool here = false;
        {
          std::lock_guard hl(hosted_mu_);
          auto it = hosted_.find(name);
          if (it != hosted_.end()) {
            auto mine = it->second.lock();
            here = mine != nullptr;
            // Another replica of a module hosted here as a replica: not a conflict.
            if (mine && mine->replica && c.info.replica) break;
          }
        }
        if (here) {
          nats_counters::bump(link_->counters.name_conflicts);
          log().warn("nats: module '{}' is hosted here and announced by another process", name);
          break;
        }
        auto ep = std::make_shared<nats_peer_endpoint>(name, link_, c.info);
        auto r = h->add_peer(name, ep, c.info.groups);
        if (!r) {
          nats_counters::bump(link_->counters.name_conflicts);
          log().warn("nats: module '{}' of another process not added: {}", name,
                     r.error().message());
          break;
        }
        peers_[name] = std::move(ep);
        nats_counters::bump(link_->counters.peers_joined);
        break;
      }
      case presence_change::kind::groups: {
        auto it = peers_.find(name);
        if (it == peers_.end()) break;
        it->second->update(c.info);
        const peer_update u{peer_op::join, name, it->second, c.info.groups};
        auto codes = h->update_peers(std::span<const peer_update>(&u, 1));
        if (!codes.empty() && codes[0] == make_error_code(errc::invalid_argument)) {
          (void)h->add_peer(name, it->second, c.info.groups);  // interim registry
        }
        break;
      }
      case presence_change::kind::remove: {
        auto it = peers_.find(name);
        if (it == peers_.end()) break;
        auto ep = std::move(it->second);
        peers_.erase(it);
        ep->gone();
        h->remove_peer(name, *ep);
        removed.push_back(std::move(ep));
        nats_counters::bump(c.expired ? link_->counters.peers_expired : link_->counters.peers_left);
        log().info("nats: module '{}' of another process {}", name,
                   c.expired ? "fell silent (expired)" : "left");
        break;
      }
      case presence_change::kind::conflict:
        nats_counters::bump(link_->counters.name_conflicts);
        log().warn("nats: module '{}' is announced by several processes", name);
        break;
    }
  }
  for (const auto& ep : removed) {
    h->replies().fail_target(ep.get(), make_error_code(errc::not_connected));
  }
  presence_cv_.notify_all();
}

}  // namespace beehive::detail
