// SPDX-License-Identifier: Apache-2.0
#include "socket/socket_io.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;

TEST(SocketIo, RunsPostedWorkInOrderOnItsOwnThread) {
  socket_io io;
  EXPECT_EQ(io.thread_count(), 0U);  // no thread until there is work
  std::promise<std::pair<std::thread::id, bool>> first;
  std::promise<int> second;
  int order = 0;
  ASSERT_TRUE(io.post([&] { first.set_value({std::this_thread::get_id(), io.in_loop()}); }));
  ASSERT_TRUE(io.post([&] { second.set_value(++order); }));
  auto f = first.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  const auto [id, in_loop] = f.get();
  EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_TRUE(in_loop);
  EXPECT_FALSE(io.in_loop());
  EXPECT_EQ(second.get_future().get(), 1);
  EXPECT_EQ(io.thread_count(), 1U);
}

TEST(SocketIo, StopJoinsTheThreadAndLaterWorkIsRefused) {
  socket_io io;
  ASSERT_TRUE(io.start());
  ASSERT_TRUE(io.start());  // idempotent: still one thread
  EXPECT_EQ(io.thread_count(), 1U);
  io.stop();
  EXPECT_EQ(io.thread_count(), 0U);
  std::atomic<bool> ran{false};
  EXPECT_FALSE(io.post([&] { ran = true; }));
  EXPECT_FALSE(io.start());
  io.stop();  // idempotent
  EXPECT_FALSE(ran.load());
}

TEST(SocketIo, StopWaitsForTheRunningHandler) {
  socket_io io;
  std::promise<void> entered;
  std::promise<void> release;
  std::atomic<bool> finished{false};
  ASSERT_TRUE(io.post([&] {
    entered.set_value();
    release.get_future().wait();
    finished = true;
  }));
  entered.get_future().wait();
  std::thread stopper([&] { io.stop(); });
  release.set_value();
  stopper.join();
  EXPECT_TRUE(finished.load());  // joined: nothing of the loop runs after `stop`
  EXPECT_EQ(io.thread_count(), 0U);
}

}  // namespace
}  // namespace beehive::detail
