// SPDX-License-Identifier: Apache-2.0
// A user of the socket context type, built against the installed package: parses a config (YAML)
// and listens on a unix socket; exits 0 when both work.
#include <beehive/beehive.hpp>
#include <beehive/socket.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

int main() {
  char tmpl[] = "/tmp/bhpkgXXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) return 1;
  const std::string address = std::string(dir) + "/server.sock";
  auto cfg = beehive::parse_socket_config("- module: srv\n  server: true\n  address: " + address +
                                          "\n  sockettype: unixpacket\n");
  bool ok = cfg.has_value();
  if (ok) {
    beehive::context ctx;
    auto sock = beehive::register_socket_context(ctx, *cfg);
    ok = sock && (*sock)->listen() && std::filesystem::exists(address);
    if (sock) (*sock)->stop();
  }
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}
