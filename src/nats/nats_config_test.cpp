// SPDX-License-Identifier: Apache-2.0
#include "beehive/nats_config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace beehive {
namespace {

TEST(NatsConfig, EmptyTextIsEveryDefault) {
  auto cfg = parse_nats_config("");
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->servers, std::vector<std::string>{"nats://127.0.0.1:4222"});
  EXPECT_EQ(cfg->name_space, "beehive");
  EXPECT_EQ(cfg->ping_interval, std::chrono::milliseconds(1000));
  EXPECT_EQ(cfg->max_pings_out, 2);
  EXPECT_EQ(cfg->write_deadline, std::chrono::milliseconds(2000));
  EXPECT_EQ(cfg->flow_window, 32768U);
  EXPECT_EQ(cfg->flow_window_bytes, 16U * 1024 * 1024);
}

TEST(NatsConfig, ReadsEveryKey) {
  auto cfg = parse_nats_config(R"(
servers: [nats://a:1, tls://b:2]
namespace: edge.site-1
credentials: {user: u, password: p}
tls: {ca: /ca.crt, cert: /c.crt, key: /c.key}
timeouts:
  connect: 300
  ping_interval: 250
  max_pings_out: 3
  write_deadline: 400
  presence_interval: 100
  reconnect_wait: 20
flow: {window: 64, window_bytes: 65536, max_pending: 500, reconnect_buffer: 4096, batch_linger_us: 0}
replicas: [worker, "odd name"]
)");
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->servers, (std::vector<std::string>{"nats://a:1", "tls://b:2"}));
  EXPECT_EQ(cfg->name_space, "edge.site-1");
  EXPECT_EQ(cfg->user, "u");
  EXPECT_EQ(cfg->password, "p");
  EXPECT_EQ(cfg->tls_ca, "/ca.crt");
  EXPECT_EQ(cfg->tls_cert, "/c.crt");
  EXPECT_EQ(cfg->tls_key, "/c.key");
  EXPECT_EQ(cfg->connect_timeout, std::chrono::milliseconds(300));
  EXPECT_EQ(cfg->ping_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(cfg->max_pings_out, 3);
  EXPECT_EQ(cfg->write_deadline, std::chrono::milliseconds(400));
  EXPECT_EQ(cfg->presence_interval, std::chrono::milliseconds(100));
  EXPECT_EQ(cfg->reconnect_wait, std::chrono::milliseconds(20));
  EXPECT_EQ(cfg->flow_window, 64U);
  EXPECT_EQ(cfg->flow_window_bytes, 65536U);
  EXPECT_EQ(cfg->max_pending, 500U);
  EXPECT_EQ(cfg->reconnect_buffer, 4096U);
  EXPECT_EQ(cfg->batch_linger, std::chrono::microseconds(0));
  EXPECT_TRUE(cfg->is_replica("worker"));
  EXPECT_TRUE(cfg->is_replica("odd name"));
  EXPECT_FALSE(cfg->is_replica("other"));
}

TEST(NatsConfig, OneServerAsAScalar) {
  auto cfg = parse_nats_config("servers: nats://h:4222\n");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->servers, std::vector<std::string>{"nats://h:4222"});
}

// Each bad file gives config_error, and the explanation names the key.
TEST(NatsConfig, BadFileNamesTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"timeouts: {connect: soon}\n", "timeouts.connect"},
      {"timeouts: {ping_interval: 0}\n", "timeouts.ping_interval"},
      {"timeouts: {max_pings_out: 0}\n", "timeouts.max_pings_out"},
      {"timeouts: {write_deadline: -1}\n", "timeouts.write_deadline"},
      {"timeouts: {presence: 5}\n", "timeouts.presence"},
      {"flow: {window: 1}\n", "flow.window"},
      {"flow: {window: [1]}\n", "flow.window"},
      {"flow: {window_bytes: 100}\n", "flow.window_bytes"},
      {"flow: {window_bytes: 2147483648}\n", "flow.window_bytes"},
      {"flow: {window_bytes: lots}\n", "flow.window_bytes"},
      {"flow: {max_pending: -1}\n", "flow.max_pending"},
      {"flow: {batch_linger_us: 2000000}\n", "flow.batch_linger_us"},
      {"flow: {batch_linger_us: soon}\n", "flow.batch_linger_us"},
      {"namespace: a.*\n", "namespace"},
      {"namespace: a..b\n", "namespace"},
      {"namespace: ''\n", "namespace"},
      {"servers: []\n", "servers"},
      {"servers: {a: b}\n", "servers"},
      {"tls: {cert: /c.crt}\n", "tls.key"},
      {"tls: {key: /c.key}\n", "tls.cert"},
      {"tls: [a]\n", "tls"},
      {"credentials: {password: p}\n", "credentials.user"},
      {"credentials: {token: t, user: u}\n", "credentials"},
      {"sever: nats://x\n", "sever"},
      {"replicas: worker\n", "replicas"},
      {"credentials: {nkey: /s.nk}\n", "credentials.nkey_public"},
  };
  for (const auto& [text, key] : cases) {
    std::string why;
    auto cfg = parse_nats_config(text, &why);
    ASSERT_FALSE(cfg) << text;
    EXPECT_EQ(cfg.error(), errc::config_error) << text;
    EXPECT_NE(why.find(std::string("'") + key + "'"), std::string::npos) << text << " -> " << why;
  }
}

TEST(NatsConfig, NotAMapOrNotYaml) {
  std::string why;
  EXPECT_EQ(parse_nats_config("- a\n- b\n", &why).error(), errc::config_error);
  EXPECT_NE(why.find("map"), std::string::npos);
  EXPECT_EQ(parse_nats_config("servers: [a\n", &why).error(), errc::config_error);
  EXPECT_NE(why.find("YAML"), std::string::npos);
}

TEST(NatsConfig, DocumentedExampleParses) {
  std::string why;
  auto cfg = load_nats_config(BEEHIVE_NATS_EXAMPLE_YAML, &why);
  ASSERT_TRUE(cfg) << why;
  EXPECT_EQ(cfg->servers.size(), 2U);
  EXPECT_EQ(cfg->user, "edge");
  EXPECT_EQ(cfg->tls_ca, "/etc/kubeedge/ca/rootCA.crt");
}

TEST(NatsConfig, LoadsFromTheEnvironmentVariable) {
  char path[] = "/tmp/beehive-nats-config-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "namespace: fromenv\n";
  }
  ASSERT_EQ(setenv(std::string(nats_config_env).c_str(), path, 1), 0);
  auto cfg = load_nats_config_from_env();
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->name_space, "fromenv");
  std::remove(path);
  std::string why;
  auto missing = load_nats_config_from_env(&why);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), errc::config_error);
  EXPECT_NE(why.find(path), std::string::npos);
  unsetenv(std::string(nats_config_env).c_str());
}

}  // namespace
}  // namespace beehive
