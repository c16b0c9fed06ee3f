// SPDX-License-Identifier: Apache-2.0
// Group batches, the receiving side: a process that hosts members of a group subscribes to the
// group's subject and hands each member hosted here its records from the group's batches
// (docs/architecture.md, "Group batches").
//
// Per group batch (on the group subscription's delivery thread): nats.c's hand-over as for a
// module's message; the table and the frames read into reused vectors (no allocation once
// warm); per member of the table, one lookup of the hosted modules (a lock, a map); per record
// of a member hosted here, what a record on the module's own subject costs (nats_dispatch.cpp:
// a dedup test under the member's sender lock, a decode, a relay, a grant every half window).
#include "beehive/codec.hpp"
#include "core/log.hpp"
#include "nats/nats_type.hpp"

namespace beehive::detail {

bool nats_type::join_group_locked(const std::string& group) {
  auto& g = group_subs_[group];
  if (!g) {
    g = std::make_shared<group_sub>();
    g->group = group;
  }
  if (g->members++ != 0) return true;
  std::weak_ptr<nats_type> weak = weak_from_this();
  // Weak: the group_sub owns the subscription, which owns this handler.
  std::weak_ptr<group_sub> weak_g = g;
  auto s = nats_subscription::open(
      *link_->data, link_->subj.group_wildcard(group), {},
      [weak, weak_g](natsMsg* m, bool more) {
        auto self = weak.lock();
        auto gs = weak_g.lock();
        if (self && gs) {
          self->on_group_message(*gs, m, more);
        } else {
          natsMsg_Destroy(m);
        }
      },
      link_->cfg.max_pending);
  if (!s) {
    // (The connection is closed: the type stops.) The member is then not announced in the
    // group (member_grouped), so no other process sends it group batches.
    log().warn("nats: group '{}' cannot be subscribed to: its batches will not arrive", group);
    group_subs_.erase(group);
    return false;
  }
  link_->keep(*s);
  g->sub = *s;
  return true;
}

void nats_type::leave_groups_locked(const std::set<std::string>& groups) {
  for (const auto& group : groups) {
    auto it = group_subs_.find(group);
    if (it == group_subs_.end() || --it->second->members != 0) continue;
    // Stopped, not waited for: its handler may be taking a batch now (for members that are
    // still hosted, or that relay into an inbox that is closing: refused, counted). A later
    // member subscribes again with a group_sub of its own.
    if (it->second->sub) it->second->sub->stop();
    group_subs_.erase(it);
  }
}

void nats_type::on_group_message(group_sub& g, natsMsg* raw, bool more) {
  nats_msg_ptr m(raw);
  if (host_.load() == nullptr) return;
  const char* subject = natsMsg_GetSubject(m.get());
  const std::string_view sender = subjects::last_token(subject);
  const std::string_view data = nats_msg_data(m.get());
  if (sender == link_->subj.process) return;  // our own (we host a member and send to it)
  if (!nats_group_batch::parse(data, g.table, g.frames)) {
    nats_counters::bump(link_->counters.received);
    nats_counters::bump(link_->counters.malformed);
    log().warn("nats: malformed group batch ({} bytes) for group '{}' dropped", data.size(),
               g.group);
    return;
  }
  for (const auto& e : g.table) {
    std::shared_ptr<nats_hosted_endpoint> ep;
    {
      std::lock_guard lk(hosted_mu_);
      auto it = hosted_.find(e.module);
      if (it != hosted_.end()) ep = it->second.lock();
      if (!ep || ep->replica) continue;  // a member of another process
      // Counted in before the module can leave (`unhost` takes hosted_mu_): its leave waits.
      std::lock_guard gl(ep->group_mu);
      ++ep->group_takers;
    }
    nats_hosted_endpoint::taking_for = ep.get();
    const auto taken = [&ep] {
      nats_hosted_endpoint::taking_for = nullptr;
      {
        std::lock_guard gl(ep->group_mu);
        --ep->group_takers;
      }
      ep->group_cv.notify_all();
    };
    std::string_view from = sender;
    nats_sender_entry* const credit = credit_slot(*ep, from);
    subjects::sequence seq{e.stream, e.first_seq};
    std::unique_lock run(ep->senders_mu, std::defer_lock);  // one lock for the run
    for (std::uint32_t i = 0; i < e.count; ++i) {
      take_in_run(*ep, g.in, g.frames[e.first_index + i], nullptr, seq, credit, from, run);
    }
    if (run.owns_lock()) run.unlock();
    // Relayed before the next member's: the held records name this endpoint.
    relay_held(*ep, g.in, true);
    if (!more && ep->gap_pending.load(std::memory_order_relaxed)) report_gaps(*ep);
    taken();
  }
  // The records were decoded (copied): the nats.c message goes with the others spent.
  g.in.spent_bytes += data.size();
  g.in.spent.push_back(std::move(m));
  if (!more || g.in.spent.size() >= spent_batch || g.in.spent_bytes >= spent_batch_bytes) {
    g.in.spent.clear();
    g.in.spent_bytes = 0;
  }
}

}  // namespace beehive::detail
