// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_resend_window.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace beehive::detail {
namespace {

message numbered(int i) {
  message m;
  m.content = content(nlohmann::json(i));
  return m;
}

std::vector<std::uint64_t> seqs(const nats_resend_window& w) {
  std::vector<std::uint64_t> out;
  w.for_each([&](std::uint64_t s, const message&) {
    out.push_back(s);
    return true;
  });
  return out;
}

TEST(NatsResendWindow, NumbersRecordsFromOneAndKeepsThemInOrder) {
  nats_resend_window w(1000);
  EXPECT_EQ(w.next_seq(), 1U);
  for (int i = 0; i < 200; ++i) (void)w.keep(numbered(i));  // grows past its first 64 slots
  EXPECT_EQ(w.next_seq(), 201U);
  EXPECT_EQ(w.size(), 200U);
  EXPECT_EQ(w.newest_seq(), 200U);
  EXPECT_EQ(w.newest().content.get<int>().value_or(-1), 199);
  const auto s = seqs(w);
  ASSERT_EQ(s.size(), 200U);
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s[i], i + 1);
  int expect = 0;
  w.for_each([&](std::uint64_t, const message& m) {
    EXPECT_EQ(m.content.get<int>().value_or(-1), expect++);
    return true;
  });
}

TEST(NatsResendWindow, AcknowledgementDropsCopiesUpToIt) {
  nats_resend_window w(1000);
  for (int i = 0; i < 10; ++i) (void)w.keep(numbered(i));
  w.acknowledge(4);
  EXPECT_EQ(w.acked(), 4U);
  EXPECT_EQ(seqs(w), (std::vector<std::uint64_t>{5, 6, 7, 8, 9, 10}));
  // The ring wraps: keep and acknowledge around its end.
  for (int i = 0; i < 100; ++i) {
    (void)w.keep(numbered(i));
    w.acknowledge(w.next_seq() - 7);
  }
  EXPECT_EQ(w.size(), 6U);
  EXPECT_EQ(seqs(w).front(), w.next_seq() - 6);
  // An acknowledgement past what was sent counts only what was sent.
  w.acknowledge(1'000'000);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.acked(), w.next_seq() - 1);
}

TEST(NatsResendWindow, FullAtItsLimit) {
  nats_resend_window w(3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(w.full());
    (void)w.keep(numbered(i));
  }
  EXPECT_TRUE(w.full());
  w.acknowledge(1);
  EXPECT_FALSE(w.full());
}

// The bytes of what is unacknowledged (flow.window_bytes): added by keep, taken off by each
// acknowledgement as its copies go (around the ring's end too), zero after clear.
TEST(NatsResendWindow, CountsTheBytesOfWhatIsUnacknowledged) {
  nats_resend_window w(1000);
  EXPECT_EQ(w.bytes(), 0U);
  for (int i = 1; i <= 10; ++i) (void)w.keep(numbered(i), static_cast<std::size_t>(i) * 100);
  EXPECT_EQ(w.bytes(), 5500U);
  w.acknowledge(4);  // 100 + 200 + 300 + 400 go
  EXPECT_EQ(w.bytes(), 4500U);
  w.acknowledge(3);  // older: nothing changes
  EXPECT_EQ(w.bytes(), 4500U);
  for (int i = 0; i < 200; ++i) {
    (void)w.keep(numbered(i), 7);
    w.acknowledge(w.next_seq() - 3);  // the two newest stay
  }
  EXPECT_EQ(w.bytes(), 14U);
  w.acknowledge(1'000'000);
  EXPECT_EQ(w.bytes(), 0U);
  (void)w.keep(numbered(0), 50);
  std::vector<message> out;
  (void)w.clear(out);
  EXPECT_EQ(w.bytes(), 0U);
}

TEST(NatsResendWindow, AnOlderAcknowledgementChangesNothing) {
  nats_resend_window w(100);
  for (int i = 0; i < 10; ++i) (void)w.keep(numbered(i));
  w.acknowledge(5);
  w.acknowledge(3);
  EXPECT_EQ(w.acked(), 5U);
  EXPECT_EQ(w.size(), 5U);
}

TEST(NatsResendWindow, ClearCountsWhatWasUnacknowledged) {
  nats_resend_window w(100);
  for (int i = 0; i < 10; ++i) (void)w.keep(numbered(i));
  w.acknowledge(4);
  std::vector<message> out;
  EXPECT_EQ(w.clear(out), 6U);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(out.size(), 10U);  // the acknowledged ones too: nothing is destroyed inside
  out.clear();
  EXPECT_EQ(w.clear(out), 0U);
  EXPECT_TRUE(out.empty());
  (void)w.keep(numbered(10));
  EXPECT_EQ(seqs(w), (std::vector<std::uint64_t>{11}));
}

// Content whose lifetime a test can watch.
struct tracked {
  std::shared_ptr<int> alive;
};

message tracked_message(std::shared_ptr<int> alive) {
  message m;
  m.content = content::from_object(tracked{std::move(alive)});
  return m;
}

// The window never destroys a message itself: a content's destructor is user code that may call
// the library, which would take the lock its owner holds around the window. What a reused slot
// or `clear` lets go is handed back, to be destroyed by the caller after its lock.
TEST(NatsResendWindow, KeepHandsBackTheAcknowledgedMessageWhoseSlotItReuses) {
  nats_resend_window w(100);
  auto alive = std::make_shared<int>(1);
  const std::weak_ptr<int> watch = alive;
  EXPECT_TRUE(w.keep(tracked_message(std::move(alive))).content.is_null());  // a fresh slot
  w.acknowledge(1);
  EXPECT_TRUE(w.empty());
  EXPECT_FALSE(watch.expired());  // acknowledged, still in its slot
  // The ring has 64 slots: the 65th record reuses the first one's.
  for (int i = 1; i < 64; ++i) EXPECT_TRUE(w.keep(numbered(i)).content.is_null());
  EXPECT_FALSE(watch.expired());
  message back = w.keep(numbered(64));
  EXPECT_FALSE(watch.expired());  // handed back, not destroyed
  EXPECT_NE(back.content.if_object<tracked>(), nullptr);
  back = message{};
  EXPECT_TRUE(watch.expired());
}

TEST(NatsResendWindow, ClearHandsBackEveryContentAcknowledgedOnesToo) {
  nats_resend_window w(100);
  auto alive = std::make_shared<int>(1);
  const std::weak_ptr<int> watch = alive;
  (void)w.keep(tracked_message(std::move(alive)));
  (void)w.keep(numbered(8));
  w.acknowledge(1);
  EXPECT_EQ(w.size(), 1U);
  // The acknowledged message stays in its slot until the slot is reused...
  EXPECT_FALSE(watch.expired());
  // ...and `clear` hands everything back.
  std::vector<message> out;
  EXPECT_EQ(w.clear(out), 1U);
  EXPECT_TRUE(w.empty());
  EXPECT_FALSE(watch.expired());
  ASSERT_EQ(out.size(), 2U);
  out.clear();
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace beehive::detail
