// SPDX-License-Identifier: Apache-2.0
// The inbox front under concurrency: producers and a consumer run while the inbox is closed and
// reopened again and again with options that switch its queue (lock-free ring, a new ring of
// another capacity, the two-lock plain queue, the lane queue). Every message stays accounted
// for, and no call hangs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "bounded_wait.hpp"
#include "channel/inbox.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;

std::vector<inbox_options> cycle() {
  std::vector<inbox_options> all(5);
  all[0].capacity = 16;  // ring
  all[1].capacity = 32;  // a new ring, dropping on close
  all[1].close = close_mode::drop;
  all[2].capacity = 16;  // plain queue
  all[2].overflow = overflow_policy::drop_oldest;
  all[3].lanes.lanes = {lane_options{8}, lane_options{16}};  // lane queue
  all[3].lanes.rules = {{route_field::operation, "urgent", 0}};
  all[3].lanes.default_lane = 1;
  all[4].capacity = 1;  // plain queue, one slot
  for (auto& o : all) o.block_timeout = 2ms;
  return all;
}

TEST(InboxSwitch, EveryMessageIsAccountedForAcrossQueueSwitchesUnderLoad) {
  const auto options = cycle();
  inbox box(options[0]);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> ok{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; !stop.load(); ++i) {
        message m;
        m.route.operation = (i % 7 == 0) ? "urgent" : "update";
        m.route.resource = std::to_string(p) + "/" + std::to_string(i);
        auto r = p == 2 ? box.push_group(std::move(m)) : box.push(std::move(m));
        if (r) ok.fetch_add(1);
      }
    });
  }
  std::atomic<std::uint64_t> got{0};
  std::thread consumer([&] {
    while (!stop.load()) {
      if (box.pop_until(inbox::clock::now() + 1ms)) {
        got.fetch_add(1);
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::uint64_t dropped_total = 0;
  for (int round = 0; round < 200; ++round) {
    // Let some traffic through each queue before switching again.
    const std::uint64_t before = got.load();
    ASSERT_TRUE(test::eventually([&] { return got.load() >= before + 20; }));
    std::vector<message> dropped;
    box.close(dropped);
    dropped_total += dropped.size();
    box.reopen(options[static_cast<std::size_t>(round + 1) % options.size()]);
  }
  stop.store(true);
  for (auto& t : producers) t.join();
  consumer.join();
  while (box.pop_until(inbox::clock::now())) got.fetch_add(1);

  const inbox_stats st = box.stats();
  EXPECT_EQ(st.accepted, ok.load());
  EXPECT_EQ(st.received, got.load());
  EXPECT_EQ(st.dropped_on_close, dropped_total);
  EXPECT_EQ(st.queued, 0U);
  EXPECT_EQ(st.accepted,
            st.received + st.coalesced + st.dropped_oldest + st.dropped_on_close + st.queued);
  RecordProperty("received", std::to_string(got.load()));
}

}  // namespace
}  // namespace beehive::detail
