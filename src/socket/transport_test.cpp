// SPDX-License-Identifier: Apache-2.0
#include "socket/transport.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <string>
#include <thread>

namespace beehive::detail {
namespace {

struct pair_fds {
  int a = -1;
  int b = -1;
};

pair_fds make_pair(int type) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds), 0);
  return {fds[0], fds[1]};
}

std::string temp_dir() {
  char dir[] = "/tmp/bhtXXXXXX";
  EXPECT_NE(::mkdtemp(dir), nullptr);
  return dir;
}

TEST(Transport, SocketKindOfKnowsBothTypes) {
  EXPECT_EQ(*socket_kind_of("unixpacket"), socket_kind::seqpacket);
  EXPECT_EQ(*socket_kind_of("unix"), socket_kind::stream);
  EXPECT_FALSE(socket_kind_of("tcp"));
}

TEST(Transport, SeqpacketCarriesOneRecordPerPacketWithNewline) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport a(p.a, socket_kind::seqpacket, 4096);
  ASSERT_TRUE(a.send("{\"x\":1}"));
  char buf[64];
  const ssize_t r = ::recv(p.b, buf, sizeof buf, 0);
  ASSERT_EQ(r, 8);
  EXPECT_EQ(std::string(buf, 8), "{\"x\":1}\n");  // Go's wire form: JSON + '\n'
  ::close(p.b);
}

TEST(Transport, SeqpacketReadsABatchAndRejectsOversizedRecordsKeepingTheLink) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport a(p.a, socket_kind::seqpacket, 4096);
  transport b(p.b, socket_kind::seqpacket, 16);
  std::vector<std::string> batch = {"{\"n\":1}", std::string(40, 'x'), "{\"n\":2}"};
  ASSERT_TRUE(a.send_batch(batch));
  std::vector<read_item> items;
  std::vector<std::string> got;
  std::size_t oversized = 0;
  while (got.size() + oversized < 3) {
    ASSERT_EQ(b.read(items), read_status::ok);
    for (const auto& it : items) {
      if (it.oversized != 0) {
        ++oversized;
        EXPECT_GT(it.oversized, 16U);
      } else {
        got.emplace_back(it.record);
      }
    }
  }
  EXPECT_EQ(oversized, 1U);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0], "{\"n\":1}");
  EXPECT_EQ(got[1], "{\"n\":2}");
  // The link still works after the rejection.
  ASSERT_TRUE(a.send("{\"n\":3}"));
  ASSERT_EQ(b.read(items), read_status::ok);
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].record, "{\"n\":3}");
}

TEST(Transport, BurstsFromSeveralSendersArriveCompleteAndInPerSenderOrder) {
  // Bursts are queued and written in batches (by a filling sender or the flusher): nothing
  // may be lost or reordered, including the last records of a burst.
  auto p = make_pair(SOCK_SEQPACKET);
  transport a(p.a, socket_kind::seqpacket, 4096);
  transport b(p.b, socket_kind::seqpacket, 4096);
  constexpr int senders = 4;
  constexpr int per_sender = 5000;
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([&a, s] {
      for (int i = 0; i < per_sender; ++i) {
        ASSERT_TRUE(a.send(std::to_string(s) + ":" + std::to_string(i)));
      }
    });
  }
  std::vector<int> next(senders, 0);
  int total = 0;
  std::vector<read_item> items;
  b.set_receive_timeout(std::chrono::seconds(10));
  while (total < senders * per_sender) {
    ASSERT_EQ(b.read(items), read_status::ok) << "after " << total;
    for (const auto& it : items) {
      const auto rec = std::string(it.record);
      const auto colon = rec.find(':');
      const int s = std::stoi(rec.substr(0, colon));
      ASSERT_EQ(std::stoi(rec.substr(colon + 1)), next[static_cast<std::size_t>(s)]++);
      ++total;
    }
  }
  for (auto& t : threads) t.join();
}

TEST(Transport, PeerCloseIsClosedAndLaterSendsFail) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport b(p.b, socket_kind::seqpacket, 128);
  ::close(p.a);
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::closed);
  EXPECT_FALSE(b.send("{}"));
}

TEST(Transport, ShutdownWakesABlockedReader) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport b(p.b, socket_kind::seqpacket, 128);
  auto fut = std::async(std::launch::async, [&] {
    std::vector<read_item> items;
    return b.read(items);
  });
  b.shutdown();
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(fut.get(), read_status::closed);
  EXPECT_EQ(b.send("{}").error(), make_error_code(errc::not_connected));
  ::close(p.a);
}

TEST(Transport, ReceiveTimeoutReportsTimedOut) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport b(p.b, socket_kind::seqpacket, 128);
  b.set_receive_timeout(std::chrono::milliseconds(20));
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::timed_out);
  ::close(p.a);
}

TEST(Transport, StreamFramesRoundTripInOneWrite) {
  auto p = make_pair(SOCK_STREAM);
  transport a(p.a, socket_kind::stream, 4096);
  transport b(p.b, socket_kind::stream, 4096);
  std::vector<std::string> batch = {"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"};
  ASSERT_TRUE(a.send_batch(batch));
  std::vector<std::string> got;
  std::vector<read_item> items;
  while (got.size() < 3) {
    ASSERT_EQ(b.read(items), read_status::ok);
    for (const auto& it : items) got.emplace_back(it.record);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"}));
}

TEST(Transport, StreamWrongMagicIsABadFrame) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream, 4096);
  const char bad[] = "beexv1rv\0\0\0\2{}";
  ASSERT_EQ(::send(p.a, bad, 14, 0), 14);
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::bad_frame);
  ::close(p.a);
}

TEST(Transport, StreamLengthAboveBufferSizeIsABadFrame) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream, 16);
  char hdr[package_header_size];
  write_package_header(1000, hdr);
  ASSERT_EQ(::send(p.a, hdr, sizeof hdr, 0), static_cast<ssize_t>(sizeof hdr));
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::bad_frame);
  ::close(p.a);
}

TEST(Transport, StreamPeerClosingMidFrameIsTruncated) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream, 4096);
  std::string frame;
  append_package("{\"header\":{}}", frame);
  ASSERT_EQ(::send(p.a, frame.data(), 15, 0), 15);  // header + 3 bytes of payload
  ::close(p.a);
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::truncated);
}

TEST(Transport, ListenRemovesAStaleSocketAndSetsMode0600) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/s.sock";
  auto first = listen_unix(path, socket_kind::seqpacket);
  ASSERT_TRUE(first);
  ::close(*first);  // a crashed server leaves its socket file behind
  auto second = listen_unix(path, socket_kind::seqpacket);
  ASSERT_TRUE(second) << "a stale socket file must be removed";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  auto c = connect_unix(path, socket_kind::seqpacket);
  ASSERT_TRUE(c);
  auto a = accept_unix(*second);
  ASSERT_TRUE(a);
  transport ta(*a, socket_kind::seqpacket, 128);
  transport tc(*c, socket_kind::seqpacket, 128);
  ASSERT_TRUE(tc.send("{}"));
  std::vector<read_item> items;
  ASSERT_EQ(ta.read(items), read_status::ok);
  EXPECT_EQ(items.at(0).record, "{}");
  ::close(*second);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(Transport, ListenRefusesToRemoveARegularFile) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/file";
  { std::ofstream(path) << "keep me"; }
  auto r = listen_unix(path, socket_kind::seqpacket);
  EXPECT_FALSE(r);
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(Transport, ConnectToNobodyIsNotConnected) {
  const std::string dir = temp_dir();
  auto r = connect_unix(dir + "/none.sock", socket_kind::seqpacket);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::not_connected));
  EXPECT_EQ(connect_unix(std::string(200, 'x'), socket_kind::seqpacket).error(),
            make_error_code(errc::invalid_argument));
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace beehive::detail
