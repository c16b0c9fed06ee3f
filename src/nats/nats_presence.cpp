// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_presence.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace beehive::detail {

std::string encode_announcement(const announcement& a) {
  nlohmann::json mods = nlohmann::json::array();
  for (const auto& m : a.modules) {
    mods.push_back({{"n", m.name},
                    {"g", m.groups},
                    {"o", static_cast<int>(m.overflow)},
                    {"bt", m.block_timeout.count()},
                    {"r", m.replica}});
  }
  return nlohmann::json{{"pid", a.process}, {"mods", std::move(mods)}}.dump();
}

std::optional<announcement> decode_announcement(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    announcement a;
    a.process = j.at("pid").get<std::string>();
    if (a.process.empty()) return std::nullopt;
    for (const auto& m : j.at("mods")) {
      announced_module mod;
      mod.name = m.at("n").get<std::string>();
      if (mod.name.empty()) return std::nullopt;
      mod.groups = m.at("g").get<std::vector<std::string>>();
      std::sort(mod.groups.begin(), mod.groups.end());
      const int o = m.at("o").get<int>();
      if (o < 0 || o > static_cast<int>(overflow_policy::drop_oldest)) return std::nullopt;
      mod.overflow = static_cast<overflow_policy>(o);
      mod.block_timeout = std::chrono::milliseconds(m.at("bt").get<std::int64_t>());
      mod.replica = m.at("r").get<bool>();
      a.modules.push_back(std::move(mod));
    }
    return a;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::vector<presence_change> presence_table::heard(const announcement& a, clock::time_point now) {
  std::vector<presence_change> out;
  auto& p = procs_[a.process];
  p.last = now;
  // Modules this process no longer announces are gone from it (cleaned up).
  std::vector<std::string> gone;
  for (const auto& entry : p.modules) {
    const std::string& name = entry.first;
    const bool still = std::any_of(a.modules.begin(), a.modules.end(),
                                   [&](const announced_module& x) { return x.name == name; });
    if (!still) gone.push_back(name);
  }
  for (const auto& name : gone) {
    p.modules.erase(name);
    drop_host(name, a.process, false, out);
  }
  for (const auto& m : a.modules) {
    p.modules[m.name] = m;
    auto [k, inserted] = modules_.try_emplace(m.name);
    if (inserted) {
      k->second.hosts.insert(a.process);
      k->second.info = m;
      out.push_back({presence_change::kind::add, m, false});
      continue;
    }
    if (k->second.hosts.insert(a.process).second && !(m.replica && k->second.info.replica)) {
      out.push_back({presence_change::kind::conflict, m, false});
    }
    auto& groups = k->second.info.groups;
    bool grew = false;
    for (const auto& g : m.groups) {
      if (!std::binary_search(groups.begin(), groups.end(), g)) {
        groups.insert(std::upper_bound(groups.begin(), groups.end(), g), g);
        grew = true;
      }
    }
    if (grew) out.push_back({presence_change::kind::groups, k->second.info, false});
  }
  return out;
}

std::vector<presence_change> presence_table::left(std::string_view process) {
  std::vector<presence_change> out;
  drop_process(process, false, out);
  return out;
}

std::vector<presence_change> presence_table::drop(std::string_view process) {
  std::vector<presence_change> out;
  drop_process(process, true, out);
  return out;
}

std::vector<presence_change> presence_table::expire(clock::time_point now,
                                                    clock::duration silence) {
  std::vector<presence_change> out;
  std::vector<std::string> silent;
  for (const auto& [pid, p] : procs_) {
    if (now - p.last > silence) silent.push_back(pid);
  }
  for (const auto& pid : silent) drop_process(pid, true, out);
  return out;
}

bool presence_table::hosted(std::string_view module) const {
  return modules_.find(module) != modules_.end();
}

std::vector<std::string> presence_table::hosts(std::string_view module) const {
  auto k = modules_.find(module);
  if (k == modules_.end()) return {};
  return {k->second.hosts.begin(), k->second.hosts.end()};
}

void presence_table::drop_process(std::string_view process, bool expired,
                                  std::vector<presence_change>& out) {
  auto p = procs_.find(process);
  if (p == procs_.end()) return;
  const std::string pid = p->first;
  std::vector<std::string> names;
  for (const auto& [name, m] : p->second.modules) names.push_back(name);
  procs_.erase(p);
  for (const auto& name : names) drop_host(name, pid, expired, out);
}

void presence_table::drop_host(const std::string& module, std::string_view process, bool expired,
                               std::vector<presence_change>& out) {
  auto k = modules_.find(module);
  if (k == modules_.end()) return;
  k->second.hosts.erase(std::string(process));
  if (!k->second.hosts.empty()) return;
  out.push_back({presence_change::kind::remove, k->second.info, expired});
  modules_.erase(k);
}

}  // namespace beehive::detail
