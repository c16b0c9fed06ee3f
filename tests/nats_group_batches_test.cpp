// SPDX-License-Identifier: Apache-2.0
// Group batches (docs/architecture.md, "Group batches"): a `send_to_group` call's numbered
// records go once, on the group's subject, for every member at once. Through real nats-servers:
// every member gets every record once and in order (two members in one process, one in
// another); direct and group sends to one member keep their order while the member's records
// switch paths; a record too large for a batch goes alone in its place; a replayed group batch
// is dropped as duplicates and a malformed one is counted; records NATS drops on the group's
// subscription are resent the same way; a member cleaned up mid-stream leaves the others whole;
// the sender's node killed mid-stream loses no record; what is pending when the sender's
// context goes is still sent.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "nats/nats_group_batch.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_client.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;
using detail::nats_group_batch;

inbox_options blocking(std::size_t capacity) {
  return {.capacity = capacity, .overflow = overflow_policy::block};
}

// Hosts `module` in `p` (inbox `inbox`), joins it to `group`, and waits until `sender` has it
// there.
void member(nats_process& p, const nats_process& sender, const std::string& module,
            inbox_options inbox, const std::string& group = "g") {
  ASSERT_TRUE(p.host_for(sender, module, inbox));
  ASSERT_TRUE(p.ctx->add_module_group(module, group));
  ASSERT_TRUE(eventually([&] {
    const auto g = sender.ctx->groups()[group];
    return std::find(g.begin(), g.end(), module) != g.end();
  }));
}

// Receives `module` until `count` arrived or nothing came for 3 s; every value once (an
// out-of-order one is counted: only a resent record may come after a later one).
struct collector {
  collector(context& ctx, std::string module, int count)
      : seen(static_cast<std::size_t>(count), 0), thread([this, &ctx, module, count] {
          int highest = -1;
          while (received < count) {
            auto m = ctx.receive_for(module, 3s);
            if (!m) return;
            const int v = num_of(*m);
            if (v < 0 || v >= count || seen[static_cast<std::size_t>(v)]++ != 0) {
              ++bad;
            } else if (v < highest) {
              ++out_of_order;
            }
            highest = std::max(highest, v);
            ++received;
          }
        }) {}
  ~collector() {
    if (thread.joinable()) thread.join();
  }
  std::vector<int> seen;
  std::atomic<int> received{0};
  int bad = 0;  // out of range, or twice
  std::uint64_t out_of_order = 0;
  std::thread thread;
};

class NatsGroupBatches : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new nats_servers(nats_servers::single()); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  // A long linger: records sent in a loop gather, whatever the machine's load.
  static nats_config config(std::chrono::microseconds linger = 200ms) {
    static int n = 0;
    auto cfg = nats_test_config(servers_->url(0), "gb" + std::to_string(++n));
    cfg.batch_linger = linger;
    return cfg;
  }
  static nats_servers* servers_;
};
nats_servers* NatsGroupBatches::servers_ = nullptr;

// Three members, two of them in one process: each group send is published once (a group
// batch carries each member's numbers), and every member gets every record once, in order.
TEST_F(NatsGroupBatches, AGroupSendGoesOnceForEveryMemberInOrder) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  nats_process c(cfg);
  for (const auto& [p, m] : {std::pair{&b, "m1"}, {&b, "m2"}, {&c, "m3"}}) {
    ASSERT_NO_FATAL_FAILURE(member(*p, a, m, blocking(4096)));
  }
  constexpr int count = 3000;
  for (int i = 0; i < count; ++i) {
    auto r = a.ctx->send_to_group("g", new_message().fill_body(num(i)));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->delivered, 3U);
  }
  expect_in_order(*b.ctx, "m1", count);
  expect_in_order(*b.ctx, "m2", count);
  expect_in_order(*c.ctx, "m3", count);
  // Probes (one per presence interval while records wait for their acknowledgement) are
  // resent records, published too.
  ASSERT_TRUE(eventually([&] {
    const auto sa = a.nats->stats();
    return sa.published == 3U * count + sa.resent;
  }));
  const auto sa = a.nats->stats();
  const auto sb = b.nats->stats();
  EXPECT_GT(sa.group_batches, 0U);
  EXPECT_LT(sa.group_batches, static_cast<std::uint64_t>(count) / 2) << "one per call at most";
  EXPECT_EQ(sb.delivered, 2U * count);
  EXPECT_EQ(sb.malformed + sb.sequence_gaps + sb.undeliverable, 0U);
  EXPECT_EQ(c.nats->stats().delivered, static_cast<std::uint64_t>(count));
}

// One member gets direct sends between the group's: with a window of 8 (an acknowledgement
// every 4 records), its records switch between its own subject and the group's again and
// again, and each switch waits until everything before was relayed into its inbox. The
// member gets all of them in the order they were sent; the other member gets the group's.
TEST_F(NatsGroupBatches, DirectAndGroupSendsToOneMemberKeepTheirOrder) {
  auto cfg = config(50us);
  cfg.flow_window = 8;
  nats_process a(cfg);
  nats_process b(cfg);
  nats_process c(cfg);
  ASSERT_NO_FATAL_FAILURE(member(b, a, "m1", blocking(64)));
  ASSERT_NO_FATAL_FAILURE(member(c, a, "m2", blocking(4096)));
  constexpr int count = 4000;
  std::vector<int> to_m2;
  auto sent = std::async(std::launch::async, [&] {
    unsigned x = 12345;
    for (int i = 0; i < count; ++i) {
      x = x * 1103515245U + 12345U;
      // Runs of either kind, 1 to 16 long.
      const bool direct = ((x >> 16) % 3) == 0;
      auto m = new_message().fill_body(num(i));
      if (direct) {
        if (!a.ctx->send("m1", std::move(m))) return false;
      } else {
        auto r = a.ctx->send_to_group("g", std::move(m));
        if (!r || r->delivered != 2) return false;
        to_m2.push_back(i);
      }
    }
    return true;
  });
  expect_in_order(*b.ctx, "m1", count);
  ASSERT_TRUE(get_bounded(sent));
  for (const int v : to_m2) {
    auto m = c.ctx->receive_for("m2", watchdog);
    ASSERT_TRUE(m);
    ASSERT_EQ(num_of(*m), v);
  }
  EXPECT_GT(a.nats->stats().group_batches, 0U);
  EXPECT_EQ(b.nats->stats().sequence_gaps, 0U);
}

TEST_F(NatsGroupBatches, ARecordTooLargeForAGroupBatchGoesAloneInItsPlace) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  nats_process c(cfg);
  ASSERT_NO_FATAL_FAILURE(member(b, a, "m1", blocking(256)));
  ASSERT_NO_FATAL_FAILURE(member(c, a, "m2", blocking(256)));
  const std::string big(100 * 1024, 'x');  // over a batch's 64 KiB, under max_payload (1 MB)
  for (int i = 0; i < 30; ++i) {
    auto m = new_message().fill_body(num(i));
    if (i == 15) m.route.resource = big;
    ASSERT_TRUE(a.ctx->send_to_group("g", std::move(m)));
  }
  for (auto* ctx : {b.ctx.get(), c.ctx.get()}) {
    const std::string module = ctx == b.ctx.get() ? "m1" : "m2";
    for (int i = 0; i < 30; ++i) {
      auto m = ctx->receive_for(module, watchdog);
      ASSERT_TRUE(m) << module << " " << i;
      ASSERT_EQ(num_of(*m), i);
      EXPECT_EQ(m->route.resource.size(), i == 15 ? big.size() : 0U);
    }
  }
}

// An attacker (or a replaying client) on the group's subject: a real group batch published
// again is dropped as duplicates; junk, a truncated batch and a table whose member's records
// run past the batch are refused whole and counted malformed; the group still works after.
TEST_F(NatsGroupBatches, ReplayedAndMalformedGroupBatchesHarmNothing) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_NO_FATAL_FAILURE(member(b, a, "m1", blocking(256)));
  nats_client_options o;
  o.urls = servers_->url(0);
  auto tap = nats_client::connect(o);
  ASSERT_TRUE(tap);
  natsSubscription* sub = nullptr;
  const std::string wildcard = cfg.name_space + ".g.g.*";
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, tap->get(), wildcard.c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(tap->get()), NATS_OK);
  ASSERT_TRUE(servers_->wait_interest(0, cfg.name_space + ".g.g.x"));
  // A call to a one-member group goes the group's way too.
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(a.ctx->send_to_group("g", new_message().fill_body(num(i))));
  expect_in_order(*b.ctx, "m1", 5);
  std::vector<std::pair<std::string, std::string>> wire;  // subject, payload
  std::uint32_t records = 0;
  while (records < 5) {
    natsMsg* m = nullptr;
    ASSERT_EQ(natsSubscription_NextMsg(&m, sub, 20000), NATS_OK);
    wire.emplace_back(
        natsMsg_GetSubject(m),
        std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))));
    natsMsg_Destroy(m);
    std::vector<nats_group_batch::entry> table;
    std::vector<std::string_view> frames;
    ASSERT_TRUE(nats_group_batch::parse(wire.back().second, table, frames));
    ASSERT_EQ(table.size(), 1U);
    EXPECT_EQ(table[0].module, "m1");
    records += table[0].count;
  }
  natsSubscription_Destroy(sub);
  // The sender's probe (its records wait for an acknowledgement: fewer than half a window)
  // comes back as a duplicate, and the acknowledgement it brings ends the probes.
  ASSERT_TRUE(eventually([&] {
    const auto sa = a.nats->stats();
    return b.nats->stats().duplicates >= 1 && sa.published == 5U + sa.resent;
  }));
  const auto before = b.nats->stats();
  auto publish = [&](const std::string& subject, const std::string& data) {
    ASSERT_EQ(natsConnection_Publish(tap->get(), subject.c_str(), data.data(),
                                     static_cast<int>(data.size())),
              NATS_OK);
  };
  for (const auto& [subject, data] : wire) publish(subject, data);  // a replay
  const std::string& first = wire[0].second;
  publish(wire[0].first, "\x01junk");
  publish(wire[0].first, first.substr(0, first.size() - 5));
  // A member whose records run past the batch: its count field made larger.
  std::string past = first;
  std::vector<nats_group_batch::entry> table;
  std::vector<std::string_view> frames;
  ASSERT_TRUE(nats_group_batch::parse(first, table, frames));
  past[past.size() - nats_group_batch::trailer - 4] = static_cast<char>(frames.size() + 1);
  publish(wire[0].first, past);
  ASSERT_EQ(natsConnection_Flush(tap->get()), NATS_OK);
  ASSERT_TRUE(eventually([&] {
    const auto s = b.nats->stats();
    return s.duplicates == before.duplicates + records && s.malformed == before.malformed + 3;
  }));
  EXPECT_EQ(b.nats->stats().delivered, before.delivered);
  EXPECT_EQ(b.ctx->stats("m1")->queued, 0U);
  ASSERT_TRUE(a.ctx->send_to_group("g", new_message().fill_body(num(5))));
  auto m = b.ctx->receive_for("m1", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(num_of(*m), 5);
}

// NATS drops records for the slow member's group subscription (a pending limit of 16): the
// member reports the gap, and the sender resends what it kept on the group's subject (the way
// they went). Every record arrives once; nothing is counted lost.
TEST_F(NatsGroupBatches, RecordsNatsDroppedOnTheGroupsWayAreResentThatWay) {
  auto cfg = config(100us);
  cfg.flow_window = 256;
  nats_process a(cfg);
  nats_process c(cfg);
  cfg.max_pending = 16;
  nats_process b(cfg);
  ASSERT_NO_FATAL_FAILURE(member(b, a, "slow", blocking(8)));
  ASSERT_NO_FATAL_FAILURE(member(c, a, "fast", blocking(4096)));
  constexpr int count = 600;
  auto sent = std::async(std::launch::async, [&] {
    int ok = 0;
    for (int i = 0; i < count; ++i) {
      auto r = a.ctx->send_to_group("g", new_message().fill_body(num(i)));
      ok += r && r->delivered == 2 ? 1 : 0;
    }
    return ok;
  });
  ASSERT_TRUE(eventually([&] { return b.nats->stats().nats_dropped > 0; }));
  collector slow(*b.ctx, "slow", count);
  collector fast(*c.ctx, "fast", count);
  EXPECT_EQ(get_bounded(sent), count);
  slow.thread.join();
  fast.thread.join();
  EXPECT_EQ(slow.received.load(), count);
  EXPECT_EQ(fast.received.load(), count);
  EXPECT_EQ(slow.bad + fast.bad, 0);
  const auto sa = a.nats->stats();
  EXPECT_GT(sa.resent, 0U);
  EXPECT_GT(sa.group_batches, 0U);
  EXPECT_LE(slow.out_of_order + fast.out_of_order, sa.resent);
  EXPECT_TRUE(eventually([&] {
    const auto s = b.nats->stats();
    return s.received == s.delivered + s.duplicates;
  }));
  EXPECT_EQ(sa.unacknowledged + b.nats->stats().sequence_gaps + b.nats->stats().undeliverable, 0U);
}

// A member cleaned up while a flood goes to its group, then added again: the sender is never
// held up past its bounds, the other member gets everything in order, nothing crashes, and the
// new life gets what is sent to it once, in order but for what was resent.
TEST_F(NatsGroupBatches, AMemberCleanedUpMidStreamLeavesTheOthersWhole) {
  const auto cfg = config(100us);
  nats_process a(cfg);
  nats_process b(cfg);
  nats_process c(cfg);
  ASSERT_NO_FATAL_FAILURE(member(b, a, "keep", blocking(8192)));
  ASSERT_NO_FATAL_FAILURE(member(c, a, "goes", blocking(8192)));
  constexpr int count = 6000;
  std::atomic<int> progress{0};
  auto sent = std::async(std::launch::async, [&] {
    int ok = 0;
    for (int i = 0; i < count; ++i) {
      auto r = a.ctx->send_to_group("g", new_message().fill_body(num(i)));
      ok += r && r->delivered >= 1 ? 1 : 0;
      progress.store(i);
    }
    return ok;
  });
  ASSERT_TRUE(eventually([&] { return progress.load() >= 1000; }));
  ASSERT_TRUE(c.ctx->cleanup("goes"));
  // Added again and back in the group while the flood goes on: the new life gets a stretch of
  // the later records, each once and in order (the sender's endpoint for it is a new stream).
  ASSERT_TRUE(c.add("goes", blocking(8192)));
  ASSERT_TRUE(c.ctx->add_module_group("goes", "g"));
  collector back(*c.ctx, "goes", count);
  expect_in_order(*b.ctx, "keep", count);
  EXPECT_EQ(get_bounded(sent), count);
  back.thread.join();
  EXPECT_EQ(back.bad, 0) << "a record twice, or out of range";
  // Records on their way while the module was away are lost to it (refused by the closed
  // inbox, counted `undeliverable`, or never taken: the sender, if it still had the module,
  // resends them when the new life reports the gap). Only a resent one comes late.
  EXPECT_LE(back.out_of_order, a.nats->stats().resent);
  EXPECT_EQ(b.nats->stats().sequence_gaps, 0U);
}

// What is pending in a group batch when the sender's context is destroyed still goes.
TEST_F(NatsGroupBatches, WhatIsPendingWhenTheSendersContextGoesIsStillSent) {
  const auto cfg = config(10s);
  nats_process b(cfg);
  nats_process c(cfg);
  ASSERT_TRUE(b.add("m1", blocking(256)));
  ASSERT_TRUE(c.add("m2", blocking(256)));
  ASSERT_TRUE(b.ctx->add_module_group("m1", "g"));
  ASSERT_TRUE(c.ctx->add_module_group("m2", "g"));
  {
    nats_process a(cfg);
    ASSERT_TRUE(eventually([&] { return a.ctx->groups()["g"].size() == 2; }));
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(a.ctx->send_to_group("g", new_message().fill_body(num(i))));
    }
    const auto t0 = std::chrono::steady_clock::now();
    a.ctx.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 9s) << "the stop cuts the linger short";
  }
  expect_in_order(*b.ctx, "m1", 100);
  expect_in_order(*c.ctx, "m2", 100);
}

// The sender's node is killed (SIGKILL) mid-stream: the sender fails over to another node and
// resends on the group's subject what was not acknowledged; both members get every record
// once (only a resent one may come after a later one).
TEST(NatsGroupFailover, KillOfTheSendersNodeMidStreamLosesNoGroupRecord) {
  auto servers = nats_servers::cluster(3);
  nats_process a(failover_test_config(servers.url(0), "gfo"));
  nats_process b(failover_test_config(servers.url(1), "gfo"));
  nats_process c(failover_test_config(servers.url(2), "gfo"));
  ASSERT_NO_FATAL_FAILURE(member(b, a, "m1", {.capacity = 1024}));
  ASSERT_NO_FATAL_FAILURE(member(c, a, "m2", {.capacity = 1024}));
  constexpr int count = 20000;
  collector m1(*b.ctx, "m1", count);
  collector m2(*c.ctx, "m2", count);
  auto sent = std::async(std::launch::async, [&] {
    int failed = 0;
    for (int i = 0; i < count; ++i) {
      auto r = a.ctx->send_to_group("g", new_message().fill_body(num(i)));
      if (!r || r->delivered != 2) ++failed;
    }
    return failed;
  });
  ASSERT_TRUE(eventually([&] { return m1.received.load() >= 2000; }));
  servers.kill(0);
  EXPECT_EQ(get_bounded(sent), 0);
  m1.thread.join();
  m2.thread.join();
  const auto sa = a.nats->stats();
  EXPECT_GE(sa.reconnects, 1U);
  EXPECT_EQ(m1.bad + m2.bad, 0) << "a record twice, or out of range";
  EXPECT_EQ(m1.received.load(), count);
  EXPECT_EQ(m2.received.load(), count);
  EXPECT_LE(m1.out_of_order + m2.out_of_order, sa.resent);
  EXPECT_GT(sa.group_batches, 0U);
  std::printf("group failover: %llu resent, %llu unacknowledged counted\n",
              static_cast<unsigned long long>(sa.resent),
              static_cast<unsigned long long>(sa.unacknowledged));
}

}  // namespace
}  // namespace beehive::test
