// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include "beehive/errc.hpp"

namespace beehive::detail {

/// An admin address, parsed: `unix:/path` or `HOST:PORT` on loopback.
struct admin_address {
  enum class kind { unix_socket, tcp };
  kind where = kind::unix_socket;
  std::string path;  ///< unix socket path
  std::string host;  ///< tcp: 127.0.0.1, localhost or ::1
  int port = 0;      ///< tcp: 0 picks a free one

  /// Back to the options' syntax: `unix:/path`, `127.0.0.1:9100`, `[::1]:9100`.
  [[nodiscard]] std::string to_string() const;
};

/// Parses `unix:/abs/path` or `HOST:PORT` (`[::1]:PORT` for IPv6). `invalid_argument` for
/// anything else: an empty or relative or too long path, a host that is not loopback, a port
/// out of 0..65535.
[[nodiscard]] expected<admin_address> parse_admin_address(std::string_view text);

}  // namespace beehive::detail
