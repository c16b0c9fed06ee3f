// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/module_options.hpp"

namespace beehive::detail {

/// A module as its hosting process announces it.
struct announced_module {
  std::string name;
  std::vector<std::string> groups;  ///< sorted
  overflow_policy overflow = overflow_policy::block;
  std::chrono::milliseconds block_timeout{0};
  bool replica = false;
  friend bool operator==(const announced_module&, const announced_module&) = default;
};

/// One heartbeat: a process and every module it hosts now (a full state, so that a lost
/// heartbeat is repaired by the next one).
struct announcement {
  std::string process;
  std::vector<announced_module> modules;
};

/// JSON: {"pid":"…","mods":[{"n":"…","g":[…],"o":0,"bt":0,"r":false}]}.
[[nodiscard]] std::string encode_announcement(const announcement& a);
/// nullopt for text that is not an announcement.
[[nodiscard]] std::optional<announcement> decode_announcement(std::string_view text);

/// A change of the modules known in other processes.
struct presence_change {
  enum class kind {
    add,       ///< a module appeared (`info` from its first host)
    groups,    ///< a known module joined groups (`info.groups`: all its groups now)
    remove,    ///< its last host is gone (`expired`: by silence, not a clean leave)
    conflict,  ///< a second process announces a name that is not a replica on both
  };
  kind what = kind::add;
  announced_module info;
  bool expired = false;
};

/// What every other process of the namespace hosts, from their heartbeats. Pure logic (time
/// is given), so that it is tested without a server. Not thread-safe: one owner.
///
/// A module hosted by several processes (replicas) is one module here: it is added with its
/// first host, its groups are the union of what its hosts announce, and it is removed with its
/// last host.
class presence_table {
 public:
  using clock = std::chrono::steady_clock;

  /// A heartbeat of `a.process`, heard at `now`.
  [[nodiscard]] std::vector<presence_change> heard(const announcement& a, clock::time_point now);
  /// `process` left cleanly.
  [[nodiscard]] std::vector<presence_change> left(std::string_view process);
  /// `process` is unreachable (a probe found nobody): gone as if it fell silent.
  [[nodiscard]] std::vector<presence_change> drop(std::string_view process);
  /// Every process silent for longer than `silence` is gone.
  [[nodiscard]] std::vector<presence_change> expire(clock::time_point now, clock::duration silence);
  /// True when some other process hosts `module` now.
  [[nodiscard]] bool hosted(std::string_view module) const;
  /// The processes hosting `module`.
  [[nodiscard]] std::vector<std::string> hosts(std::string_view module) const;
  [[nodiscard]] std::size_t processes() const noexcept { return procs_.size(); }

 private:
  struct proc {
    clock::time_point last;
    std::map<std::string, announced_module, std::less<>> modules;
  };
  struct known {
    std::set<std::string, std::less<>> hosts;
    announced_module info;  // groups: the union
  };
  void drop_process(std::string_view process, bool expired, std::vector<presence_change>& out);
  void drop_host(const std::string& module, std::string_view process, bool expired,
                 std::vector<presence_change>& out);

  std::map<std::string, proc, std::less<>> procs_;
  std::map<std::string, known, std::less<>> modules_;
};

}  // namespace beehive::detail
