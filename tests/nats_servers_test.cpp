// SPDX-License-Identifier: Apache-2.0
// The nats-server fixture (tests/support/nats_servers.hpp) and the client options of
// tests/support/nats_client.hpp, proved with nats.c directly: traffic through each topology, a
// leaf that keeps its local traffic while its link is cut, a killed, a hung and a restarted
// node, TLS with the fixture's CA, wrong credentials, and the lifetime of nats.c's callbacks.
#include "support/nats_servers.hpp"

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/bounded_wait.hpp"
#include "support/nats_client.hpp"
#include "support/temp_dir.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;

// nats.c's library threads and memory go at the end, so that LeakSanitizer sees a clean exit.
class nats_library : public ::testing::Environment {
 public:
  void TearDown() override { nats_CloseAndWait(10000); }
};
const auto* const library_env = ::testing::AddGlobalTestEnvironment(new nats_library);

std::unique_ptr<nats_client> connect_to(const std::string& urls,
                                        nats_client_options o = nats_client_options{}) {
  o.urls = urls;
  natsStatus s = NATS_OK;
  std::string error;
  auto c = nats_client::connect(o, &s, &error);
  EXPECT_NE(c, nullptr) << "connect to " << urls << ": " << natsStatus_GetText(s) << " " << error;
  return c;
}

// A synchronous subscription, destroyed with its owner.
struct sync_sub {
  natsSubscription* sub = nullptr;
  sync_sub(natsConnection* nc, const std::string& subject) {
    EXPECT_EQ(natsConnection_SubscribeSync(&sub, nc, subject.c_str()), NATS_OK);
    EXPECT_EQ(natsConnection_Flush(nc), NATS_OK);
  }
  ~sync_sub() { natsSubscription_Destroy(sub); }
  sync_sub(const sync_sub&) = delete;
  sync_sub& operator=(const sync_sub&) = delete;
  // The next message's payload, or "" after `timeout`.
  std::string next(std::chrono::milliseconds timeout = 5s) const {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub, timeout.count()) != NATS_OK) return {};
    std::string data(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
    return data;
  }
};

bool publish(natsConnection* nc, const std::string& subject, const std::string& data) {
  return natsConnection_PublishString(nc, subject.c_str(), data.c_str()) == NATS_OK &&
         natsConnection_Flush(nc) == NATS_OK;
}

TEST(NatsServers, SingleServerCarriesPublishSubscribe) {
  auto servers = nats_servers::single();
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_FALSE(servers.has_leaf());
  auto a = connect_to(servers.url(0));
  auto b = connect_to(servers.url(0));
  ASSERT_TRUE(a && b);
  sync_sub sub(b->get(), "t.one");
  ASSERT_TRUE(publish(a->get(), "t.one", "hello"));
  EXPECT_EQ(sub.next(), "hello");
}

TEST(NatsServers, ClusterRoutesNodeOneToNodeThree) {
  auto servers = nats_servers::cluster(3);
  ASSERT_EQ(servers.hub_size(), 3u);
  auto a = connect_to(servers.url(0));
  auto c = connect_to(servers.url(2));
  ASSERT_TRUE(a && c);
  sync_sub sub(c->get(), "t.routed");
  ASSERT_TRUE(servers.wait_interest(0, "t.routed"));
  ASSERT_TRUE(publish(a->get(), "t.routed", "across"));
  EXPECT_EQ(sub.next(), "across");
}

TEST(NatsServers, LeafReachesTheHubAndKeepsLocalTrafficWhenCut) {
  auto servers = nats_servers::hub_and_leaf(3);
  const std::size_t leaf = servers.leaf();
  ASSERT_EQ(leaf, 3u);
  ASSERT_TRUE(servers.leaf_connected());
  auto cloud = connect_to(servers.hub_urls());
  auto edge1 = connect_to(servers.url(leaf));
  auto edge2 = connect_to(servers.url(leaf));
  ASSERT_TRUE(cloud && edge1 && edge2);

  // Hub -> leaf and leaf -> hub through the link.
  sync_sub at_edge(edge1->get(), "t.edge");
  sync_sub at_cloud(cloud->get(), "t.cloud");
  sync_sub local(edge2->get(), "t.local");
  ASSERT_TRUE(servers.wait_interest(0, "t.edge") || servers.wait_interest(1, "t.edge"));
  ASSERT_TRUE(servers.wait_interest(leaf, "t.cloud"));
  ASSERT_TRUE(publish(cloud->get(), "t.edge", "down"));
  EXPECT_EQ(at_edge.next(), "down");
  ASSERT_TRUE(publish(edge2->get(), "t.cloud", "up"));
  EXPECT_EQ(at_cloud.next(), "up");

  // Cut: the leaf sees the link drop, its local traffic goes on, nothing crosses.
  servers.cut_leaf();
  ASSERT_TRUE(servers.wait_leaf_connected(false));
  EXPECT_FALSE(servers.has_interest(servers.leaf(), "t.cloud"));
  ASSERT_TRUE(publish(edge1->get(), "t.local", "still here"));
  EXPECT_EQ(local.next(), "still here");
  ASSERT_TRUE(publish(edge1->get(), "t.cloud", "lost"));
  EXPECT_EQ(at_cloud.next(200ms), "");

  // Restored: the leaf reconnects by itself and traffic crosses again.
  servers.restore_leaf();
  ASSERT_TRUE(servers.wait_leaf_connected());
  ASSERT_TRUE(servers.wait_interest(leaf, "t.cloud"));
  ASSERT_TRUE(publish(edge2->get(), "t.cloud", "back"));
  EXPECT_EQ(at_cloud.next(), "back");
}

TEST(NatsServers, LeafNoticesASilentCutThroughPings) {
  auto servers = nats_servers::hub_and_leaf(1);
  servers.cut_leaf(cut_mode::silent);
  // Nothing is closed: the leaf finds out from unanswered pings (1 s x 2 here).
  ASSERT_TRUE(servers.wait_leaf_connected(false));
  servers.restore_leaf();
  ASSERT_TRUE(servers.wait_leaf_connected());
}

TEST(NatsServers, LeafRehomesWhenItsHubNodeDiesAndTheCutStillHolds) {
  auto servers = nats_servers::hub_and_leaf(3);
  auto hub_links = [&](std::size_t i) {
    const std::string body = servers.monitor(i, "/leafz");
    return body.find("\"leafnodes\": 1") != std::string::npos;
  };
  std::size_t home = 3;
  for (std::size_t i = 0; i < 3; ++i) {
    if (hub_links(i)) home = i;
  }
  ASSERT_LT(home, 3u) << "no hub node has the leaf";
  servers.kill(home);
  ASSERT_TRUE(eventually([&] {
    for (std::size_t i = 0; i < 3; ++i) {
      if (i != home && hub_links(i)) return true;
    }
    return false;
  })) << "the leaf did not re-home";
  // The re-homed link goes through the relays too (the hub advertises no leafnode URLs).
  servers.cut_leaf();
  EXPECT_TRUE(servers.wait_leaf_connected(false));
}

TEST(NatsServers, KilledNodeFailsOverAndRestartsOnItsPorts) {
  auto servers = nats_servers::cluster(3);
  const auto port = servers.client_port(0);
  // The client lists node 0 first and is connected there (no randomizing across the list
  // would be needed: nats.c shuffles, so connect to node 0 alone and let discovery add the rest).
  auto a = connect_to(servers.url(0));
  auto c = connect_to(servers.url(2));
  ASSERT_TRUE(a && c);
  sync_sub sub(c->get(), "t.failover");
  servers.kill(0);
  EXPECT_FALSE(servers.running(0));
  ASSERT_TRUE(a->wait_disconnects(1, watchdog));
  ASSERT_TRUE(a->wait_reconnects(1, watchdog)) << "no failover to a discovered node";
  ASSERT_TRUE(servers.wait_interest(1, "t.failover"));
  ASSERT_TRUE(publish(a->get(), "t.failover", "after kill"));
  EXPECT_EQ(sub.next(), "after kill");

  servers.restart(0);
  EXPECT_TRUE(servers.running(0));
  EXPECT_EQ(servers.client_port(0), port);
  auto again = connect_to(servers.url(0));
  ASSERT_TRUE(again);
  ASSERT_TRUE(servers.wait_interest(0, "t.failover"));
  ASSERT_TRUE(publish(again->get(), "t.failover", "after restart"));
  EXPECT_EQ(sub.next(), "after restart");
}

TEST(NatsServers, HungNodeIsDetectedByPingsAndCallsStayBounded) {
  auto servers = nats_servers::cluster(2);
  auto a = connect_to(servers.url(0));  // discovers node 1 from node 0
  auto b = connect_to(servers.url(1));
  ASSERT_TRUE(a && b);
  sync_sub sub(b->get(), "t.hung");
  ASSERT_TRUE(servers.wait_interest(0, "t.hung"));
  servers.hang(0);
  EXPECT_TRUE(servers.running(0));
  EXPECT_EQ(servers.monitor(0, "/varz"), "");  // a hung server answers nothing

  // Publishing into the hung node never blocks past the write deadline: it returns (buffered,
  // then an error) while pings find the node dead and the client moves to node 1.
  const auto t0 = std::chrono::steady_clock::now();
  const std::string payload(250, 'x');
  while (a->reconnects() == 0 && std::chrono::steady_clock::now() - t0 < watchdog) {
    const auto c0 = std::chrono::steady_clock::now();
    (void)natsConnection_PublishString(a->get(), "t.hung", payload.c_str());
    ASSERT_LT(std::chrono::steady_clock::now() - c0, 3s) << "a publish blocked";
  }
  ASSERT_GE(a->reconnects(), 1) << "the hung node was never detected";
  ASSERT_TRUE(publish(a->get(), "t.hung", "via node 1"));
  // Messages buffered before the switch may arrive first; the new one arrives.
  bool seen = false;
  for (std::string m = sub.next(); !m.empty(); m = sub.next(1s)) {
    if (m == "via node 1") {
      seen = true;
      break;
    }
  }
  EXPECT_TRUE(seen);
  servers.resume(0);
  EXPECT_TRUE(servers.wait_routes(0));
  EXPECT_NE(servers.monitor(0, "/varz"), "");
}

TEST(NatsServers, PasswordIsRequiredAndAWrongOneIsRefused) {
  nats_server_options o;
  o.user = "edge";
  o.password = "s3cret";
  auto servers = nats_servers::hub_and_leaf(1, o);  // the leaf authenticates to the hub too
  ASSERT_TRUE(servers.leaf_connected());
  nats_client_options co;
  co.urls = servers.url(0);
  co.user = "edge";
  co.password = "wrong";
  natsStatus s = NATS_OK;
  std::string error;
  EXPECT_EQ(nats_client::connect(co, &s, &error), nullptr);
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);
  EXPECT_NE(error.find("uthorization"), std::string::npos) << error;
  co.user.clear();
  co.password.clear();
  EXPECT_EQ(nats_client::connect(co, &s), nullptr);
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED);
  co.user = "edge";
  co.password = "s3cret";
  EXPECT_NE(nats_client::connect(co, &s), nullptr) << natsStatus_GetText(s);
  co.urls = servers.url(servers.leaf());
  EXPECT_NE(nats_client::connect(co, &s), nullptr) << natsStatus_GetText(s);
}

TEST(NatsServers, TokenIsRequired) {
  nats_server_options o;
  o.token = "t0ken";
  auto servers = nats_servers::single(o);
  nats_client_options co;
  co.urls = servers.url(0);
  co.token = "other";
  natsStatus s = NATS_OK;
  EXPECT_EQ(nats_client::connect(co, &s), nullptr);
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED);
  co.token = "t0ken";
  EXPECT_NE(nats_client::connect(co, &s), nullptr) << natsStatus_GetText(s);
}

TEST(NatsServers, NkeyIsRequiredAndAnUnknownOneIsRefused) {
  nats_server_options o;
  o.nkey = true;
  auto servers = nats_servers::single(o);
  ASSERT_EQ(servers.nkey().public_key.rfind('U', 0), 0u);
  ASSERT_EQ(servers.nkey().seed.rfind("SU", 0), 0u);
  EXPECT_EQ(servers.nkey().public_key.size(), 56u);
  nats_client_options co;
  co.urls = servers.url(0);
  natsStatus s = NATS_OK;
  EXPECT_EQ(nats_client::connect(co, &s), nullptr);
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);
  co.nkey_public = servers.other_nkey().public_key;
  co.nkey_seed_file = servers.other_nkey().seed_file;
  EXPECT_EQ(nats_client::connect(co, &s), nullptr);
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);
  co.nkey_public = servers.nkey().public_key;
  co.nkey_seed_file = servers.nkey().seed_file;
  EXPECT_NE(nats_client::connect(co, &s), nullptr) << natsStatus_GetText(s);
}

TEST(NatsServers, TlsHandshakeNeedsTheFixturesCa) {
  nats_server_options o;
  o.tls = nats_tls::server;
  auto servers = nats_servers::single(o);
  ASSERT_EQ(servers.url(0).rfind("tls://", 0), 0u);
  nats_client_options co;
  co.urls = servers.url(0);
  natsStatus s = NATS_OK;
  co.ca_file = servers.tls_files().ca;
  auto ok = nats_client::connect(co, &s);
  ASSERT_NE(ok, nullptr) << natsStatus_GetText(s);
  sync_sub sub(ok->get(), "t.tls");
  ASSERT_TRUE(publish(ok->get(), "t.tls", "sealed"));
  EXPECT_EQ(sub.next(), "sealed");

  co.ca_file = servers.tls_files().other_ca;  // a CA that did not sign the server
  EXPECT_EQ(nats_client::connect(co, &s), nullptr);
  EXPECT_EQ(s, NATS_SSL_ERROR) << natsStatus_GetText(s);
  co.ca_file.clear();  // the system's CAs only
  co.secure = true;
  EXPECT_EQ(nats_client::connect(co, &s), nullptr);
  EXPECT_EQ(s, NATS_SSL_ERROR) << natsStatus_GetText(s);
}

TEST(NatsServers, MutualTlsNeedsAClientCertificate) {
  nats_server_options o;
  o.tls = nats_tls::mutual;
  auto servers = nats_servers::single(o);
  nats_client_options co;
  co.urls = servers.url(0);
  co.ca_file = servers.tls_files().ca;
  natsStatus s = NATS_OK;
  EXPECT_EQ(nats_client::connect(co, &s), nullptr) << "connected without a client certificate";
  co.cert_file = servers.tls_files().client_cert;
  co.key_file = servers.tls_files().client_key;
  EXPECT_NE(nats_client::connect(co, &s), nullptr) << natsStatus_GetText(s);
}

TEST(NatsServers, JetStreamKeyValueWorks) {
  nats_server_options o;
  o.jetstream = true;
  auto servers = nats_servers::single(o);
  auto c = connect_to(servers.url(0));
  ASSERT_TRUE(c);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, c->get(), nullptr), NATS_OK);
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = "presence";
  cfg.TTL = 3'000'000'000;  // nanoseconds in nats.c 3.4.1 (3000 is refused: below 100 ms)
  kvStore* kv = nullptr;
  ASSERT_EQ(js_CreateKeyValue(&kv, js, &cfg), NATS_OK) << nats_GetLastError(nullptr);
  std::uint64_t rev = 0;
  EXPECT_EQ(kvStore_PutString(&rev, kv, "mod-a", "host-1"), NATS_OK);
  kvEntry* e = nullptr;
  ASSERT_EQ(kvStore_Get(&e, kv, "mod-a"), NATS_OK);
  EXPECT_STREQ(kvEntry_ValueString(e), "host-1");
  kvEntry_Destroy(e);
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
}

TEST(NatsServers, EveryProcessEndsWithTheFixture) {
  std::vector<pid_t> pids;
  {
    auto servers = nats_servers::hub_and_leaf(2);
    for (std::size_t i = 0; i < servers.size(); ++i) {
      pids.push_back(servers.pid(i));
      EXPECT_EQ(::kill(servers.pid(i), 0), 0);
    }
    servers.hang(1);  // a stopped process ends too
  }
  for (pid_t p : pids) EXPECT_NE(::kill(p, 0), 0) << "pid " << p << " outlived the fixture";
}

TEST(NatsServersDeathTest, ServersEndWhenTheTestBinaryCrashes) {
  // "fast": the child is a fork that shares this test's temporary directory; it starts no
  // nats.c thread before it aborts.
  GTEST_FLAG_SET(death_test_style, "fast");
  temp_dir dir;
  const std::string pid_file = dir.file("pid");
  EXPECT_DEATH(
      {
        auto servers = nats_servers::single();
        { std::ofstream(pid_file) << servers.pid(0) << "\n"; }
        std::abort();  // no destructor runs
      },
      "");
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  // PR_SET_PDEATHSIG killed it; init reaps it, so it disappears (bounded wait).
  EXPECT_TRUE(eventually([&] { return ::kill(pid, 0) != 0; }))
      << "nats-server " << pid << " outlived a crash";
}

TEST(NatsClient, FailedConnectNeverCallsTheClosedCallback) {
  static std::atomic<int> closed_calls{0};
  natsOptions* opts = nullptr;
  ASSERT_EQ(natsOptions_Create(&opts), NATS_OK);
  ASSERT_EQ(natsOptions_SetURL(opts, "nats://127.0.0.1:1"), NATS_OK);
  ASSERT_EQ(natsOptions_SetClosedCB(
                opts, [](natsConnection*, void*) { ++closed_calls; }, nullptr),
            NATS_OK);
  natsConnection* nc = nullptr;
  EXPECT_EQ(natsConnection_Connect(&nc, opts), NATS_NO_SERVER);
  EXPECT_EQ(nc, nullptr);
  natsOptions_Destroy(opts);
  // nats.c runs connection callbacks on one library thread, in order: once a later
  // connection's closed callback has run, an earlier one would have run too.
  auto servers = nats_servers::single();
  auto later = connect_to(servers.url(0));
  ASSERT_TRUE(later);
  ASSERT_TRUE(later->close());
  EXPECT_EQ(closed_calls.load(), 0);
}

TEST(NatsClient, DestroyWithoutCloseCallsBackAfterwards) {
  // natsConnection_Destroy alone does not wait for the closed callback: its closure must
  // outlive Destroy (nats_client closes, waits for the callback, then destroys).
  struct flag {
    std::mutex m;
    std::condition_variable cv;
    bool called = false;
  };
  static flag f;  // outlives any late callback
  auto servers = nats_servers::single();
  natsOptions* opts = nullptr;
  ASSERT_EQ(natsOptions_Create(&opts), NATS_OK);
  ASSERT_EQ(natsOptions_SetURL(opts, servers.url(0).c_str()), NATS_OK);
  ASSERT_EQ(natsOptions_SetClosedCB(
                opts,
                [](natsConnection*, void*) {
                  std::lock_guard lock(f.m);
                  f.called = true;
                  f.cv.notify_all();
                },
                nullptr),
            NATS_OK);
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_Connect(&nc, opts), NATS_OK);
  natsOptions_Destroy(opts);
  natsConnection_Destroy(nc);
  std::unique_lock lock(f.m);
  EXPECT_TRUE(f.cv.wait_for(lock, watchdog, [] { return f.called; }));
}

TEST(NatsClient, CloseWaitsForTheClosedCallback) {
  auto servers = nats_servers::single();
  auto c = connect_to(servers.url(0));
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->closed());
  EXPECT_TRUE(c->close());
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(natsConnection_PublishString(c->get(), "x", "y"), NATS_CONNECTION_CLOSED);
}

TEST(NatsClient, SafeOptionsAreAccepted) {
  // Each option of nats_client_options exists in nats.c 3.4.1 and takes its value.
  natsOptions* opts = nullptr;
  nats_client_options o;
  o.urls = "nats://127.0.0.1:4222,nats://127.0.0.1:4223";
  ASSERT_EQ(make_nats_options(o, &opts), NATS_OK);
  natsOptions_Destroy(opts);
  o.connect_timeout = -1ms;  // nats.c refuses a negative timeout
  opts = nullptr;
  EXPECT_NE(make_nats_options(o, &opts), NATS_OK);
  EXPECT_EQ(opts, nullptr);
}

TEST(NatsClient, NoReconnectBufferMakesPublishFailWhileDisconnected) {
  auto servers = nats_servers::single();
  nats_client_options o;
  o.reconnect_wait = 60s;  // stays disconnected for the test
  o.reconnect_buf_size = 4096;
  auto c = connect_to(servers.url(0), o);
  ASSERT_TRUE(c);
  servers.kill(0);
  ASSERT_TRUE(c->wait_disconnects(1, watchdog));
  // The bounded reconnect buffer takes a few records, then publish fails at once.
  const std::string payload(250, 'x');
  natsStatus s = NATS_OK;
  int accepted = 0;
  for (int i = 0; i < 100 && s == NATS_OK; ++i) {
    s = natsConnection_PublishString(c->get(), "t.buf", payload.c_str());
    if (s == NATS_OK) ++accepted;
  }
  EXPECT_EQ(s, NATS_INSUFFICIENT_BUFFER) << natsStatus_GetText(s);
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 20);
}

TEST(NatsClient, PendingRequestFailsAtDisconnectNotAtItsTimeout) {
  auto servers = nats_servers::single();
  auto silent = connect_to(servers.url(0));  // subscribes, never answers
  auto requester = connect_to(servers.url(0));
  ASSERT_TRUE(silent && requester);
  sync_sub sub(silent->get(), "t.silent");
  std::promise<natsStatus> result;
  auto status = result.get_future();
  std::thread caller([&] {
    natsMsg* m = nullptr;
    result.set_value(natsConnection_RequestString(&m, requester->get(), "t.silent", "q", 60000));
    natsMsg_Destroy(m);
  });
  // The request is on the server once the silent subscriber has it.
  EXPECT_EQ(sub.next(), "q");
  servers.kill(0);
  // With SetFailRequestsOnDisconnect the call ends now, not after its 60 s.
  EXPECT_EQ(get_bounded(status), NATS_CONNECTION_DISCONNECTED);
  caller.join();
}

TEST(NatsClient, SlowConsumerDropsAreCountedAndReported) {
  auto servers = nats_servers::single();
  auto pub = connect_to(servers.url(0));
  auto rx = connect_to(servers.url(0));
  ASSERT_TRUE(pub && rx);
  struct gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
  } g;
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(
                &sub, rx->get(), "t.slow",
                [](natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
                  auto* gp = static_cast<gate*>(closure);
                  std::unique_lock lock(gp->m);
                  gp->cv.wait(lock, [&] { return gp->open; });  // a consumer that is stuck
                  natsMsg_Destroy(m);
                },
                &g),
            NATS_OK);
  ASSERT_EQ(natsSubscription_SetPendingLimits(sub, 10, 1 << 20), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(rx->get()), NATS_OK);
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(natsConnection_PublishString(pub->get(), "t.slow", "m"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(pub->get()), NATS_OK);
  int64_t dropped = 0;
  EXPECT_TRUE(eventually([&] {
    natsSubscription_GetDropped(sub, &dropped);
    return dropped >= 89;  // 100 - 10 pending - 1 in the callback
  })) << dropped;
  // nats.c reports it to the error handler, which is how the type counts it.
  EXPECT_TRUE(eventually([&] { return rx->last_async_error() == NATS_SLOW_CONSUMER; }));
  {
    std::lock_guard lock(g.m);
    g.open = true;
  }
  g.cv.notify_all();
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
}

TEST(NatsClient, ReconnectBufferCannotBeTurnedOff) {
  // nats.c 3.4.1 refuses a negative size and reads 0 as its 8 MiB default: the smallest bound
  // is a small positive buffer (NoReconnectBufferMakesPublishFailWhileDisconnected).
  natsOptions* opts = nullptr;
  ASSERT_EQ(natsOptions_Create(&opts), NATS_OK);
  EXPECT_EQ(natsOptions_SetReconnectBufSize(opts, -1), NATS_INVALID_ARG);
  EXPECT_EQ(natsOptions_SetReconnectBufSize(opts, 0), NATS_OK);
  natsOptions_Destroy(opts);
}

}  // namespace
}  // namespace beehive::test
