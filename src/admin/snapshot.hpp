// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "beehive/module_options.hpp"
#include "beehive/socket_context.hpp"
#include "core/sync_latency.hpp"
#include "core/tap.hpp"
#include "type/context_type.hpp"

namespace beehive {
class context;
class core;
}  // namespace beehive

namespace beehive::detail {

/// One module, as the admin API shows it.
struct module_sample {
  std::string name;
  std::string type;   ///< context type: channel, unixpacket, ...
  std::string state;  ///< a core's module_state (registered, running, ...), else live / closed
  std::string host;   ///< local: its inbox is in this process; remote: another process's
  std::int64_t restarts = 0;
  std::vector<std::string> groups;
  std::optional<inbox_stats> inbox;       ///< local modules
  std::optional<latency_histogram> sync;  ///< send_sync calls to it, since the admin started
};

/// The counters a context type installed in the context lists (`context_type::counters`).
struct type_sample {
  std::string name;  ///< the name the type was installed under (nats, unixpacket, ...)
  std::vector<type_counter> counters;
};

/// The admin API's own counters.
struct admin_counters {
  std::uint64_t requests = 0;
  std::uint64_t refused_peer = 0;    ///< another user on the unix socket
  std::uint64_t refused_writes = 0;  ///< send/request without allow_writes
  std::uint64_t malformed = 0;       ///< unparsable JSON or a bad field
  std::uint64_t oversized = 0;       ///< body above max_request_bytes
};

/// Everything the admin API serves, read at one moment.
struct system_snapshot {
  std::int64_t time_ms = 0;            ///< Unix ms
  std::vector<module_sample> modules;  ///< sorted by name
  std::map<std::string, std::vector<std::string>> groups;
  std::uint64_t orphan_responses = 0;
  tap_hub_stats tap;
  std::vector<std::pair<std::string, socket_stats>> sockets;
  std::vector<type_sample> types;  ///< types with counters, by name
  admin_counters admin;
};

/// What a snapshot reads.
struct snapshot_sources {
  context* ctx = nullptr;
  std::vector<const core*> cores;
  std::vector<std::pair<std::string, std::function<socket_stats()>>> sockets;
};

[[nodiscard]] system_snapshot take_snapshot(const snapshot_sources& from,
                                            const admin_counters& counters);

/// Name of a module_state as the API spells it.
[[nodiscard]] std::string_view state_name(int state);

}  // namespace beehive::detail
