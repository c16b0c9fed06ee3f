// SPDX-License-Identifier: Apache-2.0
// TLS with the fixture's CA (made by openssl), a wrong CA, mutual TLS; token and nkey
// credentials; replicas (a queue group) that share a module's traffic and take all of it when
// one dies.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "nats/nats_connection.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;

nats_server_options with_tls(nats_tls t) {
  nats_server_options o;
  o.tls = t;
  return o;
}

// A TLS handshake under TSan on 2 loaded cores took longer than the 1 s of nats_test_config
// (nats.c then reports "Expected 'PONG'" or an SSL_write error): TLS clients get 10 s. No test
// here measures how long a connect takes.
nats_config tls_test_config(const std::string& url, std::string ns) {
  auto cfg = nats_test_config(url, std::move(ns));
  cfg.connect_timeout = std::chrono::seconds(10);
  return cfg;
}

TEST(NatsSecurity, TlsWithTheFixturesCa) {
  auto servers = nats_servers::single(with_tls(nats_tls::server));
  auto cfg = tls_test_config(servers.url(0), "tls1");
  cfg.tls_ca = servers.tls_files().ca;
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.add("secure"));
  ASSERT_TRUE(a.nats->wait_peer("secure", watchdog));
  ASSERT_TRUE(a.ctx->send("secure", new_message().fill_body("over tls")));
  auto m = b.ctx->receive_for("secure", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.to_string().value_or(""), "over tls");
}

TEST(NatsSecurity, AServerSignedByAnotherCaIsRefused) {
  auto servers = nats_servers::single(with_tls(nats_tls::server));
  auto cfg = tls_test_config(servers.url(0), "tls2");
  cfg.tls_ca = servers.tls_files().other_ca;
  EXPECT_FALSE(refused_registration(cfg).empty());
}

TEST(NatsSecurity, MutualTlsNeedsTheClientCertificate) {
  auto servers = nats_servers::single(with_tls(nats_tls::mutual));
  auto cfg = tls_test_config(servers.url(0), "tls3");
  cfg.tls_ca = servers.tls_files().ca;
  (void)refused_registration(cfg);
  cfg.tls_cert = servers.tls_files().client_cert;
  cfg.tls_key = servers.tls_files().client_key;
  context ctx;
  std::string why;
  auto r = register_nats_context(ctx, cfg, &why);
  ASSERT_TRUE(r) << why;
  EXPECT_TRUE((*r)->connected());
}

TEST(NatsSecurity, TokenCredentials) {
  nats_server_options so;
  so.token = "s3cr3t";
  auto servers = nats_servers::single(so);
  auto cfg = nats_test_config(servers.url(0), "tok");
  const std::string why = refused_registration(cfg);
  EXPECT_NE(why.find("Authorization"), std::string::npos) << why;
  cfg.token = "s3cr3t";
  context ctx;
  EXPECT_TRUE(register_nats_context(ctx, cfg));
}

// An nkey user (the fixture makes the keys with openssl): the right key connects every time,
// another key is refused with a reason. nats.c 3.4.1 fails 1 connect in 256 with the right key
// (an empty signature when its first byte is 0: `nkey_attempts`); 1000 connects meet that
// about 4 times (all 1000 pass without the retry in 2% of runs), and fail here only if one
// meets it 4 times in a row.
TEST(NatsSecurity, NkeyCredentialsConnectEveryTime) {
  nats_server_options so;
  so.nkey = true;
  auto servers = nats_servers::single(so);
  auto cfg = nats_test_config(servers.url(0), "nk");
  cfg.nkey_public = servers.nkey().public_key;
  cfg.nkey_file = servers.nkey().seed_file;
  int refused = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string why;
    auto c = detail::nats_connection::open(cfg, "nk", false, {}, &why);
    if (!c) {
      ++refused;
      ADD_FAILURE() << "connect " << i << ": " << why;
      if (refused > 3) break;
    }
  }
  EXPECT_EQ(refused, 0);
  {
    context ctx;
    std::string why;
    auto r = register_nats_context(ctx, cfg, &why);
    ASSERT_TRUE(r) << why;
    EXPECT_TRUE((*r)->connected());
  }
  cfg.nkey_public = servers.other_nkey().public_key;
  cfg.nkey_file = servers.other_nkey().seed_file;
  const std::string why = refused_registration(cfg);
  EXPECT_NE(why.find("Authorization"), std::string::npos) << why;
}

TEST(NatsReplicas, EachMessageReachesOneReplicaAndASurvivorTakesAll) {
  auto servers = nats_servers::single();
  const auto plain = nats_test_config(servers.url(0), "rep");
  auto cfg = plain;
  cfg.replicas = {"worker"};
  nats_process a(plain);
  auto b = std::make_unique<nats_process>(cfg);
  nats_process c(cfg);
  ASSERT_TRUE(b->add("worker"));
  ASSERT_TRUE(c.add("worker"));  // a replica: not already_exists
  ASSERT_TRUE(a.nats->wait_peer("worker", watchdog));
  constexpr int count = 200;
  for (int i = 0; i < count; ++i)
    ASSERT_TRUE(a.ctx->send("worker", new_message().fill_body(num(i))));
  std::set<int> seen;
  int from_b = 0;
  int from_c = 0;
  ASSERT_TRUE(eventually([&] {
    while (auto m = b->ctx->receive_for("worker", 0ms)) {
      EXPECT_TRUE(seen.insert(num_of(*m)).second);
      ++from_b;
    }
    while (auto m = c.ctx->receive_for("worker", 0ms)) {
      EXPECT_TRUE(seen.insert(num_of(*m)).second);
      ++from_c;
    }
    return seen.size() == count;
  }));
  EXPECT_EQ(from_b + from_c, count);  // each reached exactly one
  // One replica dies (its process goes); the other takes all the traffic.
  b.reset();
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(a.ctx->send("worker", new_message().fill_body(num(1000 + i))));
  }
  for (int i = 0; i < count; ++i) {
    auto m = c.ctx->receive_for("worker", watchdog);
    ASSERT_TRUE(m) << i;
  }
  EXPECT_TRUE(a.ctx->has_module("worker"));
  EXPECT_EQ(a.nats->stats().name_conflicts, 0U);
}

TEST(NatsReplicas, ANonReplicaNameStaysUnique) {
  auto servers = nats_servers::single();
  auto cfg = nats_test_config(servers.url(0), "rep2");
  nats_process b(cfg);
  ASSERT_TRUE(b.add("solo"));
  auto replica_cfg = cfg;
  replica_cfg.replicas = {"solo"};
  nats_process c(replica_cfg);
  // A process that wants a replica of a module hosted as a single module is refused.
  EXPECT_EQ(c.add("solo").error(), errc::already_exists);
}

}  // namespace
}  // namespace beehive::test
