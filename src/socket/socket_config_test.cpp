// SPDX-License-Identifier: Apache-2.0
#include "beehive/socket_config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace beehive {
namespace {

constexpr const char* go_style = R"(
- module: sockserver
  server: true
  address: /var/lib/kubeedge/beehive.sock
  sockettype: unixpacket
  connmax: 10
  buffersize: 2048
- module: remotemod
  server: false
  address: /var/lib/kubeedge/beehive.sock
  sockettype: unixpacket
  ca: /etc/ca.crt
  cert: /etc/c.crt
  key: /etc/c.key
)";

TEST(SocketConfig, ParsesGoStyleList) {
  auto cfg = parse_socket_config(go_style);
  ASSERT_TRUE(cfg) << cfg.error().message();
  ASSERT_EQ(cfg->entries.size(), 2U);
  const socket_entry* srv = cfg->server();
  ASSERT_NE(srv, nullptr);
  EXPECT_EQ(srv->module, "sockserver");
  EXPECT_EQ(srv->address, "/var/lib/kubeedge/beehive.sock");
  EXPECT_EQ(srv->socket_type, "unixpacket");
  EXPECT_EQ(srv->conn_max, 10);
  EXPECT_EQ(srv->buffer_size, 2048U);
  const socket_entry* cli = cfg->client("remotemod");
  ASSERT_NE(cli, nullptr);
  EXPECT_FALSE(cli->server);
  EXPECT_EQ(cli->ca, "/etc/ca.crt");
  EXPECT_EQ(cli->cert, "/etc/c.crt");
  EXPECT_EQ(cli->key, "/etc/c.key");
  EXPECT_EQ(cli->buffer_size, socket_buffer_size_default);  // omitted -> default
  EXPECT_EQ(cli->conn_max, socket_conn_max_default);        // omitted -> the default limit
  EXPECT_FALSE(cli->framing);
  EXPECT_EQ(cfg->client("sockserver"), nullptr);  // the server entry is not a client
  EXPECT_EQ(cfg->client("nobody"), nullptr);
}

TEST(SocketConfig, DefaultsSocketTypeAndAcceptsStreamType) {
  auto cfg = parse_socket_config(
      "- {module: a, address: /tmp/x}\n"
      "- {module: b, address: /tmp/y, sockettype: unix}\n");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->entries[0].socket_type, "unixpacket");
  EXPECT_EQ(cfg->entries[1].socket_type, "unix");
  EXPECT_EQ(cfg->server(), nullptr);
}

TEST(SocketConfig, ConnmaxZeroOrAbsentMeansTheDefaultLimit) {
  auto cfg = parse_socket_config(
      "- {module: a, server: true, address: /tmp/x, connmax: 0}\n"
      "- {module: b, address: /tmp/x}\n"
      "- {module: c, address: /tmp/x, connmax: 3}\n");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->entries[0].conn_max, socket_conn_max_default);
  EXPECT_EQ(cfg->entries[1].conn_max, socket_conn_max_default);
  EXPECT_EQ(cfg->entries[2].conn_max, 3);
  EXPECT_GT(socket_conn_max_default, 0);
  // An entry made in code keeps a limit too.
  socket_entry e;
  EXPECT_EQ(e.effective_conn_max(), socket_conn_max_default);
  e.conn_max = 0;
  EXPECT_EQ(e.effective_conn_max(), socket_conn_max_default);
  e.conn_max = 5;
  EXPECT_EQ(e.effective_conn_max(), 5);
}

TEST(SocketConfig, FramingKeyChoosesTheStreamFraming) {
  auto cfg = parse_socket_config(
      "- {module: a, address: /tmp/x, sockettype: unix}\n"
      "- {module: b, address: /tmp/x, sockettype: unix, framing: package}\n"
      "- {module: c, address: /tmp/x, sockettype: unix, framing: newline}\n"
      "- {module: d, address: /tmp/x, sockettype: unix, unknownkey: 1}\n");
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_FALSE(cfg->entries[0].framing);  // unset: socket_options decides (newline by default)
  EXPECT_EQ(cfg->entries[1].framing, stream_framing::package);
  EXPECT_EQ(cfg->entries[2].framing, stream_framing::newline);
  EXPECT_FALSE(cfg->entries[3].framing);  // unknown keys are ignored, as Go does
}

struct bad_case {
  const char* yaml;
  const char* needle;  // part of the explanation
};

TEST(SocketConfig, BrokenTextIsAConfigErrorWithAReason) {
  const bad_case cases[] = {
      {"- module: [unclosed", "YAML"},
      {"", "empty"},
      {"module: a\naddress: /x\n", "list"},
      {"- just a string\n", "not a map"},
      {"- {address: /x}\n", "module"},
      {"- {module: a}\n", "address"},
      {"- {module: a, address: /x, sockettype: tcp}\n", "sockettype"},
      {"- {module: a, address: /x, connmax: many}\n", "connmax"},
      {"- {module: a, address: /x, connmax: -1}\n", "connmax"},
      {"- {module: a, address: /x, buffersize: 0}\n", "buffersize"},
      {"- {module: a, address: /x, server: maybe}\n", "server"},
      {"- {module: a, address: /x, framing: lines}\n", "framing"},
      {"- {module: a, address: /x, framing: [x]}\n", "framing"},
  };
  for (const auto& c : cases) {
    std::string why;
    auto cfg = parse_socket_config(c.yaml, &why);
    ASSERT_FALSE(cfg) << c.yaml;
    EXPECT_EQ(cfg.error(), make_error_code(errc::config_error)) << c.yaml;
    EXPECT_NE(why.find(c.needle), std::string::npos) << c.yaml << " -> " << why;
  }
}

TEST(SocketConfig, MissingFileIsAConfigError) {
  std::string why;
  auto cfg = load_socket_config("/nonexistent/dir/socket_module.yaml", &why);
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error(), make_error_code(errc::config_error));
  EXPECT_NE(why.find("/nonexistent/dir/socket_module.yaml"), std::string::npos);
}

TEST(SocketConfig, LoadsTheFileNamedByTheEnvironment) {
  char path[] = "/tmp/bh_cfg_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  {
    std::ofstream out(path);
    out << go_style;
  }
  ASSERT_EQ(::setenv("SOCKET_MODULE_CONFIG", path, 1), 0);
  auto cfg = load_socket_config_from_env();
  ::unsetenv("SOCKET_MODULE_CONFIG");
  std::remove(path);
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->entries.size(), 2U);
}

TEST(SocketConfig, BrokenFileNamesTheFileInTheReason) {
  char path[] = "/tmp/bh_cfg_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "- {module: a", 12), 12);
  ::close(fd);
  std::string why;
  auto cfg = load_socket_config(path, &why);
  std::remove(path);
  ASSERT_FALSE(cfg);
  EXPECT_NE(why.find(path), std::string::npos) << why;
}

TEST(SocketConfig, LanesAndCoalescingShapeTheModulesInbox) {
  auto cfg = parse_socket_config(R"(
- module: edged
  server: false
  address: /tmp/b.sock
  coalescing: true
  starvationbound: 16
  lanes:
    - capacity: 64
      operation: heartbeat
      source: kubelet
    - capacity: 1024
      overflow: drop_oldest
      default: true
    - capacity: 8
      overflow: fail
      blocktimeoutms: 5
      resource: podlist
)");
  ASSERT_TRUE(cfg) << cfg.error().message();
  const socket_entry* e = cfg->client("edged");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->coalescing);
  ASSERT_EQ(e->lanes.lanes.size(), 3U);
  EXPECT_EQ(e->lanes.lanes[0].capacity, 64U);
  EXPECT_EQ(e->lanes.lanes[1].overflow, overflow_policy::drop_oldest);
  EXPECT_EQ(e->lanes.lanes[2].overflow, overflow_policy::fail);
  EXPECT_EQ(e->lanes.lanes[2].block_timeout, std::chrono::milliseconds(5));
  EXPECT_EQ(e->lanes.default_lane, 1U);
  EXPECT_EQ(e->lanes.starvation_bound, 16U);
  ASSERT_EQ(e->lanes.rules.size(), 3U);
  EXPECT_EQ(e->lanes.rules[0].field, route_field::operation);
  EXPECT_EQ(e->lanes.rules[0].value, "heartbeat");
  EXPECT_EQ(e->lanes.rules[1].field, route_field::source);
  EXPECT_EQ(e->lanes.rules[1].lane, 0U);
  EXPECT_EQ(e->lanes.rules[2].lane, 2U);
  inbox_options o;
  e->shape(o);
  EXPECT_TRUE(o.coalescing.enabled);
  EXPECT_EQ(o.lanes.lanes.size(), 3U);
  // An entry without the keys leaves a module's inbox as it is.
  auto plain = parse_socket_config(go_style);
  ASSERT_TRUE(plain);
  inbox_options untouched;
  plain->client("remotemod")->shape(untouched);
  EXPECT_FALSE(untouched.shaped());
}

TEST(SocketConfig, BadLanesAreAConfigErrorWithAReason) {
  for (const char* lanes :
       {"  lanes: []\n", "  lanes:\n    - capacity: 0\n", "  lanes:\n    - overflow: sometimes\n",
        "  lanes:\n    - colour: red\n", "  starvationbound: -1\n"}) {
    std::string why;
    auto cfg = parse_socket_config(
        std::string("- module: m\n  server: false\n  address: /tmp/b.sock\n") + lanes, &why);
    ASSERT_FALSE(cfg) << lanes;
    EXPECT_EQ(cfg.error(), make_error_code(errc::config_error));
    EXPECT_FALSE(why.empty());
  }
}

}  // namespace
}  // namespace beehive
