// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/module_options.hpp"

namespace beehive {

/// Socket types of a config entry (Go's `sockettype`).
inline constexpr std::string_view socket_type_unixpacket = "unixpacket";  ///< SOCK_SEQPACKET
/// SOCK_STREAM; records are newline-delimited JSON unless `stream_framing::package` is chosen.
inline constexpr std::string_view socket_type_unix = "unix";

/// How records travel on a `unix` (SOCK_STREAM) socket.
///
/// Go's beehive writes raw records (compact JSON + '\n') on every socket type and never uses
/// its package framing, so `newline` is what a Go peer speaks. Chosen by the entry's optional
/// `framing` key (`newline` or `package`; Go ignores the key), else by
/// `socket_options::framing`. Both ends of a connection must agree.
enum class stream_framing {
  newline,  ///< compact JSON + '\n' per record (default; Go's wire format)
  package,  ///< 12-byte header (`beeh` `v1` `rv` + big-endian uint32 length) + JSON
};

/// Connections a server serves at once when its entry's `connmax` is 0 or absent.
inline constexpr int socket_conn_max_default = 256;

/// Record buffer size used when an entry gives none (Go's reader default is 4096; a record
/// larger than this is rejected, so we default to something that holds a Kubernetes object).
inline constexpr std::size_t socket_buffer_size_default = 64 * 1024;

/// One entry of `socket_module.yaml` (Go's `config.SocketConfig`).
///
/// The entry with `server: true` describes the listening side: `module` is the server's own
/// module name, `address` the socket path. Every other entry is a client: a module (hosted in
/// some process) allowed to connect to the server at `address`.
struct socket_entry {
  std::string module;                               ///< `module`
  bool server = false;                              ///< `server`
  std::string address;                              ///< `address`: unix socket path
  std::string socket_type{socket_type_unixpacket};  ///< `sockettype`: unixpacket or unix
  /// `connmax`: the most connections the server serves at once; the config reader turns 0
  /// (or an absent key) into `socket_conn_max_default`. Use `effective_conn_max()`.
  int conn_max = socket_conn_max_default;
  std::size_t buffer_size = socket_buffer_size_default;  ///< `buffersize`: largest record
  /// `framing` (our key, optional; `unix` sockets only): unset follows `socket_options`.
  std::optional<stream_framing> framing;
  std::string ca;    ///< `ca` (kept, unused on unix sockets)
  std::string cert;  ///< `cert` (kept, unused)
  std::string key;   ///< `key` (kept, unused)
  /// `lanes`, `starvationbound` (our keys, optional; Go ignores them): the module's priority
  /// lanes. Each list item has `capacity`, optional `overflow` (block, fail, drop_oldest),
  /// `blocktimeoutms`, `default: true`, and rule keys `operation`, `resource`, `group`, `source`
  /// (messages whose field equals the value go to this lane). A message no rule matches goes to
  /// the lane marked `default`, else to the last lane.
  lanes_options lanes;
  /// `coalescing` (our key, optional): latest value per route.resource + route.operation.
  bool coalescing = false;

  /// Puts this entry's lanes and coalescing (if any) into `inbox`, the options a module of
  /// this entry is added with (`module_info::inbox`): they then rule its inbox and its
  /// connection's outbound queue.
  void shape(inbox_options& inbox) const {
    if (!lanes.lanes.empty()) inbox.lanes = lanes;
    if (coalescing) inbox.coalescing.enabled = true;
  }

  /// `conn_max`, with 0 (or less) meaning `socket_conn_max_default`: there is always a limit.
  [[nodiscard]] int effective_conn_max() const noexcept {
    return conn_max > 0 ? conn_max : socket_conn_max_default;
  }
};

/// The whole socket configuration: the list Go reads from `socket_module.yaml`.
struct socket_config {
  std::vector<socket_entry> entries;

  /// The first entry with `server: true`, or nullptr.
  [[nodiscard]] const socket_entry* server() const noexcept;
  /// The client entry of `module` (server: false), or nullptr.
  [[nodiscard]] const socket_entry* client(std::string_view module) const noexcept;
};

/// Environment variable naming the config file (Go's `SOCKET_MODULE_CONFIG`).
inline constexpr std::string_view socket_config_env = "SOCKET_MODULE_CONFIG";
/// Path used when the variable is unset (Go's default).
inline constexpr std::string_view socket_config_default_path =
    "/etc/kubeedge/config/socket_module.yaml";

/// Parses YAML text (a sequence of entries). Keys as Go's, plus our optional `framing`
/// (`newline` or `package`); unknown keys are ignored, as Go does. `connmax` 0 or absent becomes
/// `socket_conn_max_default`. Returns `config_error` for text that is not a sequence of maps, a
/// field of the wrong type, an unknown socket type or framing, an entry without `module` or
/// `address`, a negative `connmax` or a zero `buffersize`; `why` (if given) then receives a
/// one-line explanation, which is also logged.
[[nodiscard]] expected<socket_config> parse_socket_config(std::string_view yaml,
                                                          std::string* why = nullptr);
/// Reads and parses a file. `config_error` when it cannot be read or parsed (see above).
[[nodiscard]] expected<socket_config> load_socket_config(const std::string& path,
                                                         std::string* why = nullptr);
/// Reads the file named by `SOCKET_MODULE_CONFIG`, else the default path.
[[nodiscard]] expected<socket_config> load_socket_config_from_env(std::string* why = nullptr);

}  // namespace beehive
