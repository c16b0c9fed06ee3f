// SPDX-License-Identifier: Apache-2.0
// Cost per snapshot: one registry membership read, then per module one stats lookup (the
// registry's lock) and, per watched core, one state and one restarts lookup (the core's lock);
// per installed type one lookup and its `counters()`.
#include "admin/snapshot.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include "beehive/context.hpp"
#include "beehive/core.hpp"
#include "core/context_state.hpp"

namespace beehive::detail {

std::string_view state_name(int state) {
  switch (static_cast<module_state>(state)) {
    case module_state::registered:
      return "registered";
    case module_state::running:
      return "running";
    case module_state::restarting:
      return "restarting";
    case module_state::stopped:
      return "stopped";
    case module_state::failed:
      return "failed";
  }
  return "unknown";
}

system_snapshot take_snapshot(const snapshot_sources& from, const admin_counters& counters) {
  system_snapshot out;
  out.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  context& ctx = *from.ctx;
  auto& impl = detail::context_state_of(ctx);
  out.groups = ctx.groups();
  out.orphan_responses = ctx.orphan_responses();
  out.tap = impl.tap.stats();
  out.admin = counters;

  std::set<std::string, std::less<>> live;
  for (auto& m : ctx.modules()) live.insert(std::move(m));
  std::set<std::string> names(live.begin(), live.end());
  for (const core* c : from.cores) {
    for (auto& m : c->modules()) names.insert(std::move(m));
    for (auto& m : c->disabled_modules()) names.insert(std::move(m));
  }
  std::map<std::string, std::vector<std::string>, std::less<>> groups_of;
  for (const auto& [group, members] : out.groups) {
    for (const auto& m : members) groups_of[m].push_back(group);
  }
  auto latency = impl.sync_latency.snapshot();

  out.modules.reserve(names.size());
  for (const auto& name : names) {
    module_sample s;
    s.name = name;
    auto type = ctx.module_type(name);
    s.type = type.value_or("channel");
    if (auto st = ctx.stats(name)) {
      s.inbox = *st;
      s.host = "local";
    } else {
      // Registered without an inbox here: a module of another process. Not registered yet:
      // a core's module before start_modules, whose inbox will be here.
      s.host = type ? "remote" : "local";
    }
    bool in_core = false;
    for (const core* c : from.cores) {
      if (auto st = c->state(name)) {
        s.state = std::string(state_name(static_cast<int>(*st)));
        s.restarts = c->restarts(name).value_or(0);
        in_core = true;
        break;
      }
    }
    if (!in_core) s.state = live.count(name) != 0 ? "live" : "closed";
    if (auto it = groups_of.find(name); it != groups_of.end()) s.groups = std::move(it->second);
    if (auto it = latency.find(name); it != latency.end()) s.sync = it->second;
    out.modules.push_back(std::move(s));
  }
  for (const auto& [name, read] : from.sockets) out.sockets.emplace_back(name, read());
  // Every installed type (but the channel, whose counters are the inboxes') by the name it was
  // installed under, with what it lists.
  std::vector<std::string> type_names;
  {
    std::lock_guard lock(impl.hosts_mu);
    for (const auto& [name, host] : impl.hosts) type_names.push_back(name);
  }
  for (auto& name : type_names) {
    const auto type = impl.reg.type(name);
    if (!type) continue;
    auto listed = type->counters();
    if (!listed.empty()) out.types.push_back({std::move(name), std::move(listed)});
  }
  return out;
}

}  // namespace beehive::detail
