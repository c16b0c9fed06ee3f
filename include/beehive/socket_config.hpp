// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/errc.hpp"

namespace beehive {

/// Socket types of a config entry (Go's `sockettype`).
inline constexpr std::string_view socket_type_unixpacket = "unixpacket";  ///< SOCK_SEQPACKET
inline constexpr std::string_view socket_type_unix = "unix";  ///< SOCK_STREAM + package framing

/// Record buffer size used when an entry gives none (Go's reader default is 4096; a record
/// larger than this is rejected, so we default to something that holds a Kubernetes object).
inline constexpr std::size_t socket_buffer_size_default = 64 * 1024;

/// One entry of `socket_module.yaml` (Go's `config.SocketConfig`).
///
/// The entry with `server: true` describes the listening side: `module` is the server's own
/// module name, `address` the socket path. Every other entry is a client: a module (hosted in
/// some process) allowed to connect to the server at `address`.
struct socket_entry {
  std::string module;                                    ///< `module`
  bool server = false;                                   ///< `server`
  std::string address;                                   ///< `address`: unix socket path
  std::string socket_type{socket_type_unixpacket};       ///< `sockettype`: unixpacket or unix
  int conn_max = 0;                                      ///< `connmax`: 0 means unlimited
  std::size_t buffer_size = socket_buffer_size_default;  ///< `buffersize`: largest record
  std::string ca;                                        ///< `ca` (kept, unused on unix sockets)
  std::string cert;                                      ///< `cert` (kept, unused)
  std::string key;                                       ///< `key` (kept, unused)
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

/// Parses YAML text (a sequence of entries). Returns `config_error` for text that is not a
/// sequence of maps, a field of the wrong type, an unknown socket type, an entry without
/// `module` or `address`, a negative `connmax` or a zero `buffersize`; `why` (if given) then
/// receives a one-line explanation, which is also logged.
[[nodiscard]] expected<socket_config> parse_socket_config(std::string_view yaml,
                                                          std::string* why = nullptr);
/// Reads and parses a file. `config_error` when it cannot be read or parsed (see above).
[[nodiscard]] expected<socket_config> load_socket_config(const std::string& path,
                                                         std::string* why = nullptr);
/// Reads the file named by `SOCKET_MODULE_CONFIG`, else the default path.
[[nodiscard]] expected<socket_config> load_socket_config_from_env(std::string* why = nullptr);

}  // namespace beehive
