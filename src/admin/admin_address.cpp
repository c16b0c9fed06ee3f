// SPDX-License-Identifier: Apache-2.0
#include "admin/admin_address.hpp"

#include <sys/un.h>

#include <charconv>

namespace beehive::detail {

std::string admin_address::to_string() const {
  if (where == kind::unix_socket) return "unix:" + path;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

expected<admin_address> parse_admin_address(std::string_view text) {
  admin_address out;
  if (text.substr(0, 5) == "unix:") {
    out.where = admin_address::kind::unix_socket;
    out.path = std::string(text.substr(5));
    if (out.path.empty() || out.path.front() != '/' ||
        out.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return unexpected(errc::invalid_argument);
    }
    return out;
  }
  out.where = admin_address::kind::tcp;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return unexpected(errc::invalid_argument);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return unexpected(errc::invalid_argument);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host != "127.0.0.1" && host != "localhost" && host != "::1") {
    return unexpected(errc::invalid_argument);
  }
  int p = -1;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p < 0 || p > 65535) {
    return unexpected(errc::invalid_argument);
  }
  out.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  out.port = p;
  return out;
}

}  // namespace beehive::detail
