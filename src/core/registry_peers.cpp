// SPDX-License-Identifier: Apache-2.0
// The registry's peers: the modules a context type registers itself (`update_peers`), in
// batches that are one change each: one routing publication and one presence batch, O(log N)
// per entry (plus the member list of each group the batch changed).
#include <algorithm>

#include "core/registry.hpp"

namespace beehive::detail {

std::vector<std::error_code> registry::update_peers(std::string_view type,
                                                    std::span<const peer_update> batch,
                                                    std::vector<message>& dropped) {
  std::vector<std::error_code> out(batch.size());
  std::vector<std::shared_ptr<endpoint>> replaced;
  std::shared_ptr<const routing> previous;
  {
    std::lock_guard lock(mu_);
    // A type may register peers from inside its `attach` (reserved, not yet published).
    auto t = types_.find(type);
    if (t == types_.end()) {
      std::fill(out.begin(), out.end(), make_error_code(errc::invalid_argument));
      return out;
    }
    context_type* const self = t->second.type.get();
    change c(*snapshot_);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const peer_update& u = batch[i];
      if (u.module.empty() || !u.ep) {
        out[i] = make_error_code(errc::invalid_argument);
        continue;
      }
      auto m = modules_.find(u.module);
      if (u.op == peer_op::add) {
        if (m != modules_.end()) {
          auto& rec = m->second;
          const bool ours = rec.type == self && (rec.peer || !rec.live);
          if (!ours) {
            out[i] = make_error_code(errc::already_exists);
            continue;
          }
          if (rec.ep != u.ep) {
            replaced.push_back(std::move(rec.ep));
            rec.ep = u.ep;
            c.next.modules.assign(u.module, rec.ep.get(), rec.ep);
            c.routed = true;
            // Its groups' member lists hold the old endpoint.
            for (const auto& g : rec.groups) c.touched_groups.push_back(g);
          }
          const bool was_live = rec.live;
          rec.live = true;
          rec.peer = true;
          if (!was_live) c.event(presence_kind::added, m->first, rec);
        } else {
          m = modules_.emplace(u.module, module_record{t->first, self, u.ep, true, true, {}}).first;
          c.next.modules.assign(u.module, u.ep.get(), u.ep);
          c.routed = true;
          c.event(presence_kind::added, m->first, m->second);
        }
        for (const auto& g : u.groups) join_locked(c, m->first, m->second, g);
        continue;
      }
      // remove, join, leave: only a live peer of this type whose endpoint is still `ep`.
      if (m == modules_.end() || m->second.ep != u.ep || m->second.type != self ||
          !m->second.live) {
        out[i] = make_error_code(errc::module_not_found);
        continue;
      }
      auto& rec = m->second;
      switch (u.op) {
        case peer_op::remove:
          // The name stays routed to `ep`, so that a send hears why it fails (not_connected)
          // instead of module_not_found, until the peer is added again.
          leave_all_locked(c, m->first, rec);
          rec.live = false;
          c.event(presence_kind::removed, m->first, rec);
          break;
        case peer_op::join:
          for (const auto& g : u.groups) join_locked(c, m->first, rec, g);
          break;
        case peer_op::leave:
          for (const auto& g : u.groups) leave_locked(c, m->first, rec, g);
          break;
        case peer_op::add:
          break;
      }
    }
    previous = commit_locked(c);
  }
  // What a replaced endpoint still holds is dropped, counted (it can no longer be delivered).
  for (auto& ep : replaced) ep->discard(dropped);
  replaced.clear();
  deliver_presence();
  return out;
}

}  // namespace beehive::detail
