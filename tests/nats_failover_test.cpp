// SPDX-License-Identifier: Apache-2.0
// Failover on a real cluster: the node a process is connected to is killed (SIGKILL) or hung
// (SIGSTOP) mid-stream; an edge's leaf link is cut and restored.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

TEST(NatsFailover, KillOfTheConnectedNodeMidStreamLosesNothing) {
  auto servers = nats_servers::cluster(3);
  // Each process is given one node; it learns the others from the cluster.
  nats_process a(failover_test_config(servers.url(0), "fo1"));
  nats_process b(failover_test_config(servers.url(2), "fo1"));
  ASSERT_TRUE(b.add("sink", {.capacity = 1024}));
  ASSERT_TRUE(b.add("echo"));
  auto echo_thread = echo_requests(*b.ctx, "echo");
  ASSERT_TRUE(a.nats->wait_peer("sink", watchdog));
  ASSERT_TRUE(a.nats->wait_peer("echo", watchdog));
  ASSERT_TRUE(a.ctx->send_sync("echo", new_message(), 5s));

  constexpr int count = 20000;
  std::vector<int> got;
  got.reserve(count);
  std::atomic<int> received{0};
  std::thread receiver([&] {
    for (;;) {
      auto m = b.ctx->receive_for("sink", 3s);
      if (!m) return;  // quiet: everything that will come has come
      got.push_back(num_of(*m));
      received.fetch_add(1);
    }
  });
  auto sent = std::async(std::launch::async, [&] {
    int failed = 0;
    for (int i = 0; i < count; ++i) {
      if (!a.ctx->send("sink", new_message().fill_body(num(i)))) ++failed;
    }
    return failed;
  });
  ASSERT_TRUE(eventually([&] { return received.load() >= 2000; }));
  const auto killed = clock_type::now();
  servers.kill(0);
  // Time from the node's death to the first successful call.
  double first_ok_ms = -1;
  while (ms_since(killed) < 15000) {
    const auto t0 = clock_type::now();
    auto r = a.ctx->send_sync("echo", new_message(), 500ms);
    EXPECT_LT(ms_since(t0), 500 + 1500) << "a call outlived its bound";
    if (r) {
      first_ok_ms = ms_since(killed);
      break;
    }
  }
  ASSERT_GE(first_ok_ms, 0) << "no call succeeded after the failover";
  const int failed_sends = get_bounded(sent);
  receiver.join();
  const auto sa = a.nats->stats();
  // Nothing is duplicated; only a resent record may come after a later one (what was lost in
  // the dead node's buffers is resent after the records nats.c replayed from its reconnect
  // buffer).
  std::vector<char> seen(count, 0);
  std::uint64_t out_of_order = 0;
  int highest = -1;
  for (const int v : got) {
    ASSERT_TRUE(v >= 0 && v < count) << v;
    ASSERT_EQ(seen[static_cast<std::size_t>(v)], 0) << "record " << v << " twice";
    seen[static_cast<std::size_t>(v)] = 1;
    if (v < highest) ++out_of_order;
    highest = std::max(highest, v);
  }
  EXPECT_LE(out_of_order, sa.resent);
  ASSERT_LE(got.size(), static_cast<std::size_t>(count - failed_sends));
  const auto lost = static_cast<std::uint64_t>(count - failed_sends) - got.size();
  std::printf(
      "failover (SIGKILL): first successful call %.1f ms after the kill; %zu of %d "
      "received, %d sends failed, %llu lost, %llu unacknowledged counted, %llu resent\n",
      first_ok_ms, got.size(), count, failed_sends, static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(sa.unacknowledged),
      static_cast<unsigned long long>(sa.resent));
  EXPECT_GE(sa.reconnects, 1U);
  // Nothing is lost: what the dead node held was resent (tests/nats_resend_test.cpp has the
  // counters adding up); were anything lost, it would be counted.
  EXPECT_EQ(lost, 0U);
  EXPECT_LE(lost, sa.unacknowledged);
  b.ctx->cancel();
  (void)b.ctx->cleanup("echo");
  echo_thread.join();
}

TEST(NatsFailover, HungNodeCallsReturnWithinTheirBounds) {
  auto servers = nats_servers::cluster(3);
  nats_process a(failover_test_config(servers.url(0), "fo2"));
  nats_process b(failover_test_config(servers.url(2), "fo2"));
  ASSERT_TRUE(b.add("echo"));
  auto echo_thread = echo_requests(*b.ctx, "echo");
  ASSERT_TRUE(a.nats->wait_peer("echo", watchdog));
  ASSERT_TRUE(a.ctx->send_sync("echo", new_message(), 5s));
  const auto hung = clock_type::now();
  servers.hang(0);
  double first_ok_ms = -1;
  int calls = 0;
  while (ms_since(hung) < 15000) {
    const auto t0 = clock_type::now();
    auto r = a.ctx->send_sync("echo", new_message(), 300ms);
    ++calls;
    // The bound plus the write deadline at most: nothing blocks without bound.
    EXPECT_LT(ms_since(t0), 300 + 1000 + 500) << "a call outlived its bound";
    (void)a.ctx->send("echo", new_message());  // one-way sends return too
    if (r) {
      first_ok_ms = ms_since(hung);
      break;
    }
    // channel_closed: the request was still queued on a peer endpoint that the presence of
    // the reconnected process replaced; the replaced endpoint's queue is dropped, counted, and
    // its waiters wake at once (type_host::update_peers).
    EXPECT_TRUE(r.error() == errc::timed_out || r.error() == errc::not_connected ||
                r.error() == errc::module_not_found || r.error() == errc::channel_closed)
        << r.error().message();
  }
  ASSERT_GE(first_ok_ms, 0);
  std::printf("failover (SIGSTOP): first successful call %.1f ms after the hang (%d calls)\n",
              first_ok_ms, calls);
  EXPECT_GE(a.nats->stats().reconnects, 1U);
  servers.resume(0);
  b.ctx->cancel();
  (void)b.ctx->cleanup("echo");
  echo_thread.join();
}

TEST(NatsFailover, LeafCutEdgeKeepsTalkingHubCallsFailAtOnceAndEverythingRejoins) {
  auto servers = nats_servers::hub_and_leaf(1);
  nats_process cloud(failover_test_config(servers.url(0), "fo3"));
  nats_process edge1(failover_test_config(servers.url(servers.leaf()), "fo3"));
  nats_process edge2(failover_test_config(servers.url(servers.leaf()), "fo3"));
  ASSERT_TRUE(cloud.add("hub"));
  ASSERT_TRUE(edge2.add("twin"));
  ASSERT_TRUE(edge1.add("edged"));
  auto t_hub = echo_requests(*cloud.ctx, "hub");
  auto t_twin = echo_requests(*edge2.ctx, "twin");
  ASSERT_TRUE(edge1.nats->wait_peer("hub", watchdog));
  ASSERT_TRUE(edge1.nats->wait_peer("twin", watchdog));
  ASSERT_TRUE(cloud.nats->wait_peer("edged", watchdog));
  ASSERT_TRUE(edge1.ctx->send_sync("hub", new_message(), 5s));

  servers.cut_leaf(cut_mode::reset);
  ASSERT_TRUE(servers.wait_leaf_connected(false));
  // The edge keeps working on its own.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(edge1.ctx->send_sync("twin", new_message(), 2s));
  // A call to the hub fails at once, with not_connected.
  const auto t0 = clock_type::now();
  auto r = edge1.ctx->send_sync("hub", new_message(), 10s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_connected);
  EXPECT_LT(ms_since(t0), 1000);
  EXPECT_EQ(edge1.ctx->send("hub", new_message()).error(), errc::not_connected);
  ASSERT_TRUE(edge1.ctx->send_sync("twin", new_message(), 2s));

  servers.restore_leaf();
  ASSERT_TRUE(servers.wait_leaf_connected(true));
  const auto restored = clock_type::now();
  ASSERT_TRUE(edge1.nats->wait_peer("hub", watchdog));
  ASSERT_TRUE(cloud.nats->wait_peer("edged", watchdog));
  ASSERT_TRUE(
      eventually([&] { return edge1.ctx->send_sync("hub", new_message(), 1s).has_value(); }));
  std::printf("leaf restored: hub module reachable again %.1f ms after the link\n",
              ms_since(restored));
  cloud.ctx->cancel();
  (void)cloud.ctx->cleanup("hub");
  edge2.ctx->cancel();
  (void)edge2.ctx->cleanup("twin");
  t_hub.join();
  t_twin.join();
}

}  // namespace
}  // namespace beehive::test
