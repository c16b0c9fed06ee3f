// SPDX-License-Identifier: Apache-2.0
// Batches (docs/architecture.md, "Batches"): one-way records to a module of another process
// gather into one NATS message per destination while the batcher lingers. Through one real
// nats-server: a flood arrives whole and in order in batches; a record too large for a batch
// goes alone, in its place; what is pending when the sender's context goes is still sent; a
// group's members each get their own batches; with `batch_linger_us: 0` nothing is batched.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;

class NatsBatches : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new nats_servers(nats_servers::single()); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  // A long linger: records sent in a loop gather for 200 ms after the first goes, whatever the
  // machine's load, so that batches form for sure.
  static nats_config config(std::chrono::microseconds linger = 200ms) {
    static int n = 0;
    auto cfg = nats_test_config(servers_->url(0), "bt" + std::to_string(++n));
    cfg.batch_linger = linger;
    return cfg;
  }
  static nats_servers* servers_;
};
nats_servers* NatsBatches::servers_ = nullptr;

TEST_F(NatsBatches, AFloodArrivesWholeAndInOrderInBatches) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "sink", {.capacity = 4096, .overflow = overflow_policy::block}));
  constexpr int count = 3000;
  for (int i = 0; i < count; ++i) ASSERT_TRUE(a.ctx->send("sink", new_message().fill_body(num(i))));
  expect_in_order(*b.ctx, "sink", count);
  ASSERT_TRUE(eventually([&] { return b.nats->stats().delivered == count; }));
  // Fewer records than half a window are never acknowledged: once per presence interval the
  // sender probes with its newest record (resent, then a duplicate). Counted as records.
  ASSERT_TRUE(eventually([&] {
    const auto sa = a.nats->stats();
    const auto sb = b.nats->stats();
    return sa.published == count + sa.resent && sb.received == count + sb.duplicates;
  }));
  const auto sa = a.nats->stats();
  const auto sb = b.nats->stats();
  EXPECT_GT(sa.batches, 0U);
  EXPECT_LT(sa.batches, static_cast<std::uint64_t>(count) / 2) << "records do gather";
  EXPECT_EQ(sb.malformed + sb.sequence_gaps + sb.undeliverable, 0U);
}

TEST_F(NatsBatches, ARecordTooLargeForABatchGoesAloneInItsPlace) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "sink", {.capacity = 256, .overflow = overflow_policy::block}));
  const std::string big(100 * 1024, 'x');  // over a batch's 64 KiB, under max_payload (1 MB)
  for (int i = 0; i < 30; ++i) {
    auto m = new_message().fill_body(num(i));
    if (i == 15) m.route.resource = big;
    ASSERT_TRUE(a.ctx->send("sink", std::move(m)));
  }
  for (int i = 0; i < 30; ++i) {
    auto m = b.ctx->receive_for("sink", watchdog);
    ASSERT_TRUE(m) << i;
    ASSERT_EQ(num_of(*m), i);
    EXPECT_EQ(m->route.resource.size(), i == 15 ? big.size() : 0U);
  }
  EXPECT_TRUE(eventually([&] {
    const auto sa = a.nats->stats();
    return sa.published == 30U + sa.resent;  // probes: see the first test
  }));
}

TEST_F(NatsBatches, WhatIsPendingWhenTheSendersContextGoesIsStillSent) {
  // A linger of 10 s: after the first record, the others wait for the batcher's next round,
  // which only the context's end brings.
  const auto cfg = config(10s);
  nats_process b(cfg);
  ASSERT_TRUE(b.add("sink", {.capacity = 256, .overflow = overflow_policy::block}));
  {
    nats_process a(cfg);
    ASSERT_TRUE(a.nats->wait_peer("sink", watchdog));
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(a.ctx->send("sink", new_message().fill_body(num(i))));
    }
    const auto t0 = std::chrono::steady_clock::now();
    a.ctx.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 9s) << "the stop cuts the linger short";
  }
  expect_in_order(*b.ctx, "sink", 100);
}

TEST_F(NatsBatches, EachMemberOfAGroupGetsItsOwnBatchesInOrder) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  nats_process c(cfg);
  ASSERT_TRUE(b.add("m1", {.capacity = 2048, .overflow = overflow_policy::block}));
  ASSERT_TRUE(c.add("m2", {.capacity = 2048, .overflow = overflow_policy::block}));
  ASSERT_TRUE(b.ctx->add_module_group("m1", "g"));
  ASSERT_TRUE(c.ctx->add_module_group("m2", "g"));
  ASSERT_TRUE(eventually([&] { return a.ctx->groups()["g"].size() == 2; }));
  constexpr int count = 1500;
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(a.ctx->send_to_group("g", new_message().fill_body(num(i))));
  }
  expect_in_order(*b.ctx, "m1", count);
  expect_in_order(*c.ctx, "m2", count);
  EXPECT_TRUE(eventually([&] {
    const auto sa = a.nats->stats();
    return sa.published == 2U * count + sa.resent;  // probes: see the first test
  }));
  EXPECT_GT(a.nats->stats().batches, 0U);
}

TEST_F(NatsBatches, ALingerOfZeroSendsEveryRecordAlone) {
  const auto cfg = config(0us);
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.host_for(a, "sink", {.capacity = 2048, .overflow = overflow_policy::block}));
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(a.ctx->send("sink", new_message().fill_body(num(i))));
  expect_in_order(*b.ctx, "sink", 1000);
  EXPECT_TRUE(eventually([&] {
    const auto sa = a.nats->stats();
    return sa.published == 1000U + sa.resent;  // probes: see the first test
  }));
  EXPECT_EQ(a.nats->stats().batches, 0U);
}

}  // namespace
}  // namespace beehive::test
