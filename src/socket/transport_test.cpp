// SPDX-License-Identifier: Apache-2.0
#include "socket/transport.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "bounded_wait.hpp"
#include "socket/socket_counters.hpp"
#include "socket/socket_io.hpp"
#include "socket/socket_listener.hpp"
#include "unix_listening.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;

using test::eventually;
using test::watchdog;

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

// Writes raw bytes on `fd` as the peer would (one packet on SEQPACKET).
void put(int fd, std::string_view bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

// Reads until `n` items came; records as text, oversized notices as "<oversized>", empty
// records as "<empty>".
std::vector<std::string> read_n(transport& t, std::size_t n) {
  std::vector<std::string> got;
  std::vector<read_item> items;
  while (got.size() < n) {
    const auto st = t.read(items);
    EXPECT_EQ(st, read_status::ok) << "after " << got.size();
    if (st != read_status::ok) break;
    for (const auto& it : items) {
      if (it.is_oversized()) {
        got.emplace_back("<oversized>");
      } else if (it.record.empty()) {
        got.emplace_back("<empty>");
      } else {
        got.emplace_back(it.record);
      }
    }
  }
  return got;
}

inbox_options opts(std::size_t capacity, overflow_policy p,
                   std::chrono::nanoseconds block_timeout = {}) {
  inbox_options o;
  o.capacity = capacity;
  o.overflow = p;
  o.block_timeout = block_timeout;
  return o;
}

// Records as a Go beehive writes them (tests/data and the interop capture, go-records.jsonl):
// the module-exchange reply, and two "special" messages (escapes, raw UTF-8, a DEL byte).
const std::string go_records[] = {
    "{\"header\":{\"msg_id\":\"48b7d953-1a6a-42bb-9326-b66921d2808f\",\"par"
    "ent_msg_id\":\"3a68b5fe-c9e2-4973-b5eb-043ba792adb5\",\"timestamp\":17"
    "96098581608,\"type\":\"unixpacket\"},\"route\":{\"source\":\"remotemod"
    "\",\"destination\":\"remotemod\",\"operation\":\"response\",\"resource"
    "\":\"module\"},\"content\":{\"modules\":[\"sockserver\",\"srvmod\"],\""
    "groups\":{\"sockserver\":[\"sockserver\"],\"srvgroup\":[\"srvmod\"]}}}"
    "\n",
    "{\"header\":{\"msg_id\":\"00000000-0000-4000-8000-000000000001\",\"tim"
    "estamp\":1700000000001,\"type\":\"unixpacket\"},\"route\":{\"source\":"
    "\"srvmod\",\"destination\":\"remotemod\",\"operation\":\"op-1\",\"reso"
    "urce\":\"special\"},\"content\":\"a\\u003cb\\u003e\\u0026c \\\"q\\\" \\"
    "\\ \xc3"
    "\xa9"
    " \xc3"
    "\xbc"
    " \xe6"
    "\x97"
    "\xa5"
    "\xe6"
    "\x9c"
    "\xac"
    " \\u2"
    "028 \\u2029 tab\\t nl\\n cr\\r ctl\\u0001 del\x7f"
    " end\"}\n",
    "{\"header\":{\"msg_id\":\"00000000-0000-4000-8000-000000000003\",\"tim"
    "estamp\":1700000000003,\"type\":\"unixpacket\"},\"route\":{\"source\":"
    "\"srvmod\",\"destination\":\"remotemod\",\"operation\":\"op-3\",\"reso"
    "urce\":\"special\"},\"content\":{\"Zcap\":2,\"arr\":[1,\"a\",null,true"
    "],\"big\":1e+21,\"empty\":{},\"f\":1.5,\"html\":\"\\u003cscript\\u003e"
    "alert('\\u0026')\\u003c/script\\u003e\",\"labels\":{\"app\":\"x\\u003c"
    "y\\u003e\\u0026z\",\"tier\":\"web\"},\"n\":1,\"name\":\"nginx\",\"smal"
    "l\":1e-7,\"tenth\":0.1,\"three\":3,\"unicode\":\"\xc3"
    "\xbc"
    "\xe6"
    "\x97"
    "\xa5"
    "\xe6"
    "\x9c"
    "\xac"
    "\""
    "}}\n",
};

TEST(Transport, SocketKindOfKnowsBothTypes) {
  EXPECT_EQ(*socket_kind_of("unixpacket"), socket_kind::seqpacket);
  EXPECT_EQ(*socket_kind_of("unix"), socket_kind::stream);
  EXPECT_FALSE(socket_kind_of("tcp"));
}

TEST(Transport, StreamFramingComesFromTheEntryThenTheOptions) {
  socket_entry e;
  e.socket_type = "unix";
  socket_options o;
  EXPECT_EQ(*socket_kind_of(e, o), socket_kind::stream);  // newline by default, as Go
  o.framing = stream_framing::package;
  EXPECT_EQ(*socket_kind_of(e, o), socket_kind::stream_package);
  e.framing = stream_framing::newline;
  EXPECT_EQ(*socket_kind_of(e, o), socket_kind::stream);  // the entry wins
  e.socket_type = "unixpacket";
  e.framing = stream_framing::package;
  EXPECT_EQ(*socket_kind_of(e, o), socket_kind::seqpacket);  // packets need no framing
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

TEST(Transport, ReleaseClosesTheDescriptorAndLaterSendsFail) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport a(p.a, socket_kind::seqpacket, 4096);
  ASSERT_TRUE(a.send("{\"x\":1}"));
  a.release();
  EXPECT_EQ(a.native_handle(), -1);
  EXPECT_EQ(::fcntl(p.a, F_GETFD), -1);  // closed (nothing reopened it in between)
  EXPECT_EQ(a.send("{}").error(), make_error_code(errc::not_connected));
  a.release();  // idempotent
  char buf[64];
  EXPECT_EQ(::recv(p.b, buf, sizeof buf, 0), 8);  // what was sent before arrived
  EXPECT_EQ(::recv(p.b, buf, sizeof buf, 0), 0);  // then the close
  ::close(p.b);
}

TEST(Transport, SeqpacketReadsABatchAndRejectsOversizedRecordsKeepingTheLink) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport b(p.b, socket_kind::seqpacket, 16);
  put(p.a, "{\"n\":1}\n");
  put(p.a, std::string(40, 'x') + "\n");
  put(p.a, "{\"n\":2}\n");
  EXPECT_EQ(read_n(b, 3), (std::vector<std::string>{"{\"n\":1}", "<oversized>", "{\"n\":2}"}));
  // The link still works after the rejection.
  put(p.a, "{\"n\":3}\n");
  EXPECT_EQ(read_n(b, 1), (std::vector<std::string>{"{\"n\":3}"}));
  ::close(p.a);
}

TEST(Transport, OversizedFirstRecordIsReportedFirstOnEveryKind) {
  // Before the handshake a server closes on it: the transport must report it ahead of
  // whatever follows, and (stream) before the record has even ended.
  {
    auto p = make_pair(SOCK_SEQPACKET);
    transport b(p.b, socket_kind::seqpacket, 64);
    put(p.a, std::string(100, 'x'));
    put(p.a, "{}\n");
    const auto got = read_n(b, 2);
    EXPECT_EQ(got, (std::vector<std::string>{"<oversized>", "{}"}));
    ::close(p.a);
  }
  {
    auto p = make_pair(SOCK_STREAM);
    transport b(p.b, socket_kind::stream, 64);
    put(p.a, std::string(100, 'x'));  // no newline yet: the peer is still "sending" it
    std::vector<read_item> items;
    ASSERT_EQ(b.read(items), read_status::ok);
    ASSERT_EQ(items.size(), 1U);
    EXPECT_TRUE(items[0].is_oversized());
    EXPECT_GT(items[0].oversized, 64U);
    // If the reader goes on instead, the rest is skipped and the next record is intact.
    put(p.a, std::string(500, 'x') + "\n{\"after\":1}\n");
    EXPECT_EQ(read_n(b, 1), (std::vector<std::string>{"{\"after\":1}"}));
    ::close(p.a);
  }
}

TEST(Transport, SeqpacketLoneEmptyRecordIsAnEmptyRecordNotAClose) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport b(p.b, socket_kind::seqpacket, 128);
  put(p.a, "");
  // Before: a zero-length read was taken for the peer's close.
  EXPECT_EQ(read_n(b, 1), (std::vector<std::string>{"<empty>"}));
  put(p.a, "{\"still\":\"up\"}\n");
  EXPECT_EQ(read_n(b, 1), (std::vector<std::string>{"{\"still\":\"up\"}"}));
  ::close(p.a);
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::closed);
}

TEST(Transport, SeqpacketEmptyRecordInsideABatchKeepsTheRecordsAfterIt) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport b(p.b, socket_kind::seqpacket, 128);
  // All written before the reader reads: one recvmmsg batch holds the three.
  put(p.a, "{\"n\":1}\n");
  put(p.a, "");
  put(p.a, "{\"n\":2}\n");
  std::vector<read_item> items;
  ASSERT_EQ(b.read(items), read_status::ok);
  ASSERT_EQ(items.size(), 3U) << "one batch";
  EXPECT_EQ(items[0].record, "{\"n\":1}");
  EXPECT_TRUE(items[1].record.empty());
  EXPECT_FALSE(items[1].is_oversized());
  EXPECT_EQ(items[2].record, "{\"n\":2}");
  ::close(p.a);
}

TEST(Transport, SeqpacketPeerCloseAfterRecordsIsClosedOnce) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport b(p.b, socket_kind::seqpacket, 128);
  put(p.a, "{\"n\":1}\n");
  put(p.a, "{\"n\":2}\n");
  ::close(p.a);
  EXPECT_EQ(read_n(b, 2), (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}"}));
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::closed);
  EXPECT_TRUE(items.empty());
}

TEST(Transport, SeqpacketEmptyRecordSentLastBeforeTheCloseIsTakenAsTheClose) {
  // recv returns 0 for a zero-length packet and for the close alike: when the peer has hung up
  // by the time the reader reads, a trailing empty packet is the close, not an empty record
  // (see read_item). Read before the peer hangs up, it is an empty record:
  // SeqpacketLoneEmptyRecordIsAnEmptyRecordNotAClose.
  {
    auto p = make_pair(SOCK_SEQPACKET);
    transport b(p.b, socket_kind::seqpacket, 128);
    put(p.a, "");
    ::close(p.a);
    std::vector<read_item> items;
    EXPECT_EQ(b.read(items), read_status::closed);
    EXPECT_TRUE(items.empty());
  }
  {
    auto p = make_pair(SOCK_SEQPACKET);
    transport b(p.b, socket_kind::seqpacket, 128);
    put(p.a, "{\"n\":1}\n");
    put(p.a, "");
    ::close(p.a);
    std::vector<read_item> items;
    ASSERT_EQ(b.read(items), read_status::ok);
    ASSERT_EQ(items.size(), 1U) << "the record, without an empty one after it";
    EXPECT_EQ(items[0].record, "{\"n\":1}");
    EXPECT_EQ(b.read(items), read_status::closed);
    EXPECT_TRUE(items.empty());
  }
}

TEST(Transport, SeqpacketReaderUsesOneBufferUntilRecordsComeInBatches) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport b(p.b, socket_kind::seqpacket, 65536);
  EXPECT_EQ(b.read_buffers_in_use(), 0U);  // nothing is touched before the first read
  put(p.a, "{}\n");
  EXPECT_EQ(read_n(b, 1).size(), 1U);
  EXPECT_EQ(b.read_buffers_in_use(), 1U);
  for (int i = 0; i < 10; ++i) put(p.a, "{}\n");
  EXPECT_EQ(read_n(b, 10).size(), 10U);
  EXPECT_GT(b.read_buffers_in_use(), 1U);
  // A read that times out gives the batch memory back.
  b.set_receive_timeout(1ms);
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::timed_out);
  EXPECT_EQ(b.read_buffers_in_use(), 1U);
  ::close(p.a);
}

TEST(Transport, IdleSeqpacketReaderGivesBatchMemoryBackAndKeepsWaiting) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport b(p.b, socket_kind::seqpacket, 65536);
  for (int i = 0; i < 10; ++i) put(p.a, "{}\n");
  EXPECT_EQ(read_n(b, 10).size(), 10U);
  ASSERT_GT(b.read_buffers_in_use(), 1U);
  auto next = std::async(std::launch::async, [&] {
    std::vector<read_item> items;
    const auto st = b.read(items);
    return std::make_pair(st, items.size());
  });
  // Idle (no receive timeout set): the reader releases its batch pages after a while, and
  // must go on waiting rather than report a timeout.
  ASSERT_TRUE(eventually([&] { return b.read_buffers_in_use() == 1; }));
  EXPECT_EQ(next.wait_for(0ms), std::future_status::timeout);
  put(p.a, "{\"late\":1}\n");
  ASSERT_EQ(next.wait_for(watchdog), std::future_status::ready);
  const auto [st, n] = next.get();
  EXPECT_EQ(st, read_status::ok);
  EXPECT_EQ(n, 1U);
  ::close(p.a);
}

TEST(Transport, BurstsFromSeveralSendersArriveCompleteAndInPerSenderOrder) {
  // Bursts are queued and written in batches (by a filling sender or the writer): nothing
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
  b.set_receive_timeout(watchdog);
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
  ASSERT_EQ(fut.wait_for(watchdog), std::future_status::ready);
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

// ---- newline-delimited streams (Go's wire format on `unix`) ---------------------------------

TEST(Transport, StreamWritesJsonAndANewlineAsGoDoes) {
  auto p = make_pair(SOCK_STREAM);
  transport a(p.a, socket_kind::stream, 4096);
  ASSERT_TRUE(a.send("{\"x\":1}"));
  ASSERT_TRUE(a.send("{\"y\":2}"));
  std::string got;
  char buf[64];
  while (got.size() < 16) {
    const ssize_t r = ::recv(p.b, buf, sizeof buf, 0);
    ASSERT_GT(r, 0);
    got.append(buf, static_cast<std::size_t>(r));
  }
  EXPECT_EQ(got, "{\"x\":1}\n{\"y\":2}\n");  // no length prefix
  ::close(p.b);
}

TEST(Transport, StreamReadsGoRecordsSplitAcrossWritesAndSeveralPerWrite) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream, 4096);
  std::string all;
  for (const auto& r : go_records) all += r;
  // Pieces of 7 bytes: records split anywhere, several records per read further on.
  for (std::size_t i = 0; i < all.size(); i += 7) put(p.a, std::string_view(all).substr(i, 7));
  put(p.a, all);  // all three in one write
  const auto got = read_n(b, 6);
  ASSERT_EQ(got.size(), 6U);
  for (std::size_t i = 0; i < 6; ++i) {
    const auto& want = go_records[i % 3];
    EXPECT_EQ(got[i], want.substr(0, want.size() - 1));
    EXPECT_TRUE(decode_message(got[i])) << got[i];
  }
  ::close(p.a);
}

TEST(Transport, StreamRoundTripBetweenTwoTransports) {
  auto p = make_pair(SOCK_STREAM);
  transport a(p.a, socket_kind::stream, 4096);
  transport b(p.b, socket_kind::stream, 4096);
  for (const auto& r : go_records) ASSERT_TRUE(a.send(r.substr(0, r.size() - 1)));
  const auto got = read_n(b, 3);
  ASSERT_EQ(got.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i] + "\n", go_records[i]);
}

TEST(Transport, StreamRecordLongerThanBufferSizeIsOversizedAndTheStreamGoesOn) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream, 32);
  put(p.a, "{\"n\":1}\n" + std::string(31, 'x') + "\n" + std::string(32, 'y') + "\n{\"n\":2}\n");
  // 31 bytes + '\n' fit in 32; 32 + '\n' do not.
  EXPECT_EQ(read_n(b, 4), (std::vector<std::string>{"{\"n\":1}", std::string(31, 'x'),
                                                    "<oversized>", "{\"n\":2}"}));
  ::close(p.a);
}

TEST(Transport, StreamEmptyLineIsAnEmptyRecord) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream, 128);
  put(p.a, "{}\n\n{}\n");
  EXPECT_EQ(read_n(b, 3), (std::vector<std::string>{"{}", "<empty>", "{}"}));
  ::close(p.a);
}

TEST(Transport, StreamPeerClosingMidRecordIsTruncated) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream, 4096);
  put(p.a, "{\"whole\":1}\n{\"cut\":");
  ::close(p.a);
  EXPECT_EQ(read_n(b, 1), (std::vector<std::string>{"{\"whole\":1}"}));
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::truncated);
}

TEST(Transport, StreamPeerClosingBetweenRecordsIsClosed) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream, 4096);
  put(p.a, "{}\n");
  ::close(p.a);
  EXPECT_EQ(read_n(b, 1).size(), 1U);
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::closed);
}

TEST(Transport, StreamReaderFreesItsBufferWhenIdle) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream, 65536);
  put(p.a, "{}\n");
  EXPECT_EQ(read_n(b, 1).size(), 1U);
  EXPECT_EQ(b.read_buffers_in_use(), 1U);
  b.set_receive_timeout(1ms);
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::timed_out);
  EXPECT_EQ(b.read_buffers_in_use(), 0U);
  put(p.a, "{\"again\":1}\n");  // allocated again on demand
  EXPECT_EQ(read_n(b, 1), (std::vector<std::string>{"{\"again\":1}"}));
  ::close(p.a);
}

// ---- package-framed streams (the option) ----------------------------------------------------

TEST(Transport, PackageFramesRoundTrip) {
  auto p = make_pair(SOCK_STREAM);
  transport a(p.a, socket_kind::stream_package, 4096);
  transport b(p.b, socket_kind::stream_package, 4096);
  for (const char* r : {"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"}) ASSERT_TRUE(a.send(r));
  EXPECT_EQ(read_n(b, 3), (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"}));
}

TEST(Transport, PackageFrameOnTheWireIsTheTwelveByteHeaderThenJson) {
  auto p = make_pair(SOCK_STREAM);
  transport a(p.a, socket_kind::stream_package, 4096);
  ASSERT_TRUE(a.send("{}"));
  char buf[64];
  const ssize_t r = ::recv(p.b, buf, sizeof buf, 0);
  std::string expect;
  append_package("{}", expect);
  ASSERT_EQ(r, static_cast<ssize_t>(expect.size()));
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(r)), expect);
  ::close(p.b);
}

TEST(Transport, PackageWrongMagicIsABadFrame) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream_package, 4096);
  const char bad[] = "beexv1rv\0\0\0\2{}";
  ASSERT_EQ(::send(p.a, bad, 14, 0), 14);
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::bad_frame);
  ::close(p.a);
}

TEST(Transport, PackageLengthAboveBufferSizeIsABadFrame) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream_package, 16);
  char hdr[package_header_size];
  write_package_header(1000, hdr);
  ASSERT_EQ(::send(p.a, hdr, sizeof hdr, 0), static_cast<ssize_t>(sizeof hdr));
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::bad_frame);
  ::close(p.a);
}

TEST(Transport, PackagePeerClosingMidFrameIsTruncated) {
  auto p = make_pair(SOCK_STREAM);
  transport b(p.b, socket_kind::stream_package, 4096);
  std::string frame;
  append_package("{\"header\":{}}", frame);
  ASSERT_EQ(::send(p.a, frame.data(), 15, 0), 15);  // header + 3 bytes of payload
  ::close(p.a);
  std::vector<read_item> items;
  EXPECT_EQ(b.read(items), read_status::truncated);
}

// ---- a peer that stops reading ----------------------------------------------------------------

// Fills the socket buffer of `fd` (the peer never reads) with junk packets, so that the next
// write finds it full; returns how many went in.
std::size_t choke(int fd) {
  std::size_t n = 0;
  while (::send(fd, "{\"junk\":0}\n", 11, MSG_DONTWAIT | MSG_NOSIGNAL) == 11) ++n;
  EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
  return n;
}

// Sends to a peer that never reads until the queue refuses; returns how many were accepted.
std::size_t fill(transport& t, int& next, admission how = admission::wait) {
  for (int guard = 0; guard < 1'000'000; ++guard) {
    if (!t.send("{\"seq\":" + std::to_string(next) + "}", how))
      return static_cast<std::size_t>(next);
    ++next;
  }
  ADD_FAILURE() << "the outbound queue never refused";
  return 0;
}

TEST(Transport, StuckPeerFailPolicyRefusesOnceTheQueueIsFullAndLosesNothingAccepted) {
  auto p = make_pair(SOCK_SEQPACKET);
  socket_counters counters;
  transport a(p.a, socket_kind::seqpacket, 4096, opts(8, overflow_policy::fail), &counters);
  const std::size_t junk = choke(a.native_handle());
  int next = 0;
  const std::size_t accepted = fill(a, next);
  EXPECT_EQ(accepted, 8U);
  EXPECT_EQ(a.outbound_pending(), 8U);
  EXPECT_EQ(a.send("{}").error(), make_error_code(errc::queue_full));
  EXPECT_EQ(counters.outbound_rejected.load(), 2U);
  // The peer reads again: everything accepted arrives, in order.
  transport b(p.b, socket_kind::seqpacket, 4096);
  const auto got = read_n(b, junk + accepted);
  ASSERT_EQ(got.size(), junk + accepted);
  for (std::size_t i = 0; i < accepted; ++i) {
    ASSERT_EQ(got[junk + i], "{\"seq\":" + std::to_string(i) + "}");
  }
  ASSERT_TRUE(eventually([&] { return a.outbound_pending() == 0; }));
  EXPECT_EQ(counters.records_out.load(), accepted);
}

TEST(Transport, StuckPeerBlockPolicyWithATimeoutReturnsTimedOut) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport a(p.a, socket_kind::seqpacket, 4096, opts(4, overflow_policy::block, 20ms));
  choke(a.native_handle());
  int next = 0;
  EXPECT_EQ(fill(a, next), 4U);
  EXPECT_EQ(a.send("{}").error(), make_error_code(errc::timed_out));
  ::close(p.b);
}

TEST(Transport, StuckPeerNeverBlocksAParkedRecord) {
  // A group copy or sync request to a stuck `block` peer: refused when the parking is full,
  // never left waiting.
  auto p = make_pair(SOCK_SEQPACKET);
  transport a(p.a, socket_kind::seqpacket, 4096, opts(4, overflow_policy::block));
  choke(a.native_handle());
  int next = 0;
  auto filled = std::async(std::launch::async, [&] { return fill(a, next, admission::park); });
  ASSERT_EQ(filled.wait_for(watchdog), std::future_status::ready);
  EXPECT_EQ(filled.get(), 8U);
  EXPECT_EQ(a.outbound_pending(), 8U);
  EXPECT_EQ(a.send("{}", admission::park).error(), make_error_code(errc::queue_full));
  ::close(p.b);
}

TEST(Transport, ShutdownWakesSendersAndTheWriterBlockedOnAStuckPeer) {
  auto p = make_pair(SOCK_SEQPACKET);
  socket_counters counters;
  auto a = std::make_unique<transport>(p.a, socket_kind::seqpacket, 4096,
                                       opts(4, overflow_policy::block), &counters);
  // Fill with parked records (they never wait), then block a plain send.
  choke(a->native_handle());
  int next = 0;
  EXPECT_EQ(fill(*a, next, admission::park), 8U);
  auto blocked = std::async(std::launch::async, [&] { return a->send("{}"); });
  ASSERT_TRUE(eventually([&] { return a->outbound_waiting() == 1; }));
  a->shutdown();
  ASSERT_EQ(blocked.wait_for(watchdog), std::future_status::ready);
  EXPECT_EQ(blocked.get().error(), make_error_code(errc::not_connected));
  // The writer, blocked in a write to the full socket, ends too: destruction joins it.
  auto destroyed = std::async(std::launch::async, [&] { a.reset(); });
  ASSERT_EQ(destroyed.wait_for(watchdog), std::future_status::ready);
  EXPECT_EQ(counters.outbound_unsent.load(), 8U);
  ::close(p.b);
}

TEST(Transport, StreamPartialWritesToASlowPeerKeepRecordsWhole) {
  // Large records to a peer that reads slowly: writes stop inside records and resume there.
  auto p = make_pair(SOCK_STREAM);
  transport a(p.a, socket_kind::stream, 1 << 20, opts(1024, overflow_policy::block));
  transport b(p.b, socket_kind::stream, 1 << 20);
  constexpr int count = 200;
  auto record = [](int i) {
    return "{\"i\":" + std::to_string(i) + ",\"pad\":\"" +
           std::string(static_cast<std::size_t>(1000 + (i * 7919) % 60000), 'p') + "\"}";
  };
  std::thread sender([&] {
    for (int i = 0; i < count; ++i) ASSERT_TRUE(a.send(record(i)));
  });
  const auto got = read_n(b, count);
  sender.join();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], record(i));
}

TEST(Transport, RecordAboveThePacketLimitIsTooLargeAndTheLinkStays) {
  auto p = make_pair(SOCK_SEQPACKET);
  transport a(p.a, socket_kind::seqpacket, 4096);
  EXPECT_EQ(a.send(std::string(64 << 20, 'x')).error(), make_error_code(errc::message_too_large));
  ASSERT_TRUE(a.send("{}"));
  transport b(p.b, socket_kind::seqpacket, 4096);
  EXPECT_EQ(read_n(b, 1), (std::vector<std::string>{"{}"}));
}

// ---- listening and connecting -----------------------------------------------------------------

TEST(Transport, ListenRemovesAStaleSocketAndSetsMode0600) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/s.sock";
  {
    socket_io io;
    auto first = socket_listener::open(io.context(), path, socket_kind::seqpacket);
    ASSERT_TRUE(first);
  }  // a crashed server: its socket is closed, its socket file left behind
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  ASSERT_TRUE(S_ISSOCK(st.st_mode));
  test::listening_socket second(path, socket_kind::seqpacket);
  ASSERT_TRUE(second.ok()) << "a stale socket file must be removed: " << second.error().message();
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  auto c = test::connect_unix(path, socket_kind::seqpacket);
  ASSERT_TRUE(c);
  const int a = second.accept(watchdog);
  ASSERT_GE(a, 0);
  transport ta(a, socket_kind::seqpacket, 128);
  transport tc(*c, socket_kind::seqpacket, 128);
  ASSERT_TRUE(tc.send("{}"));
  std::vector<read_item> items;
  ASSERT_EQ(ta.read(items), read_status::ok);
  EXPECT_EQ(items.at(0).record, "{}");
  second.close();
  ::rmdir(dir.c_str());
}

TEST(Transport, StreamListenerAndConnectorSpeakNewlineRecords) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/s.sock";
  test::listening_socket l(path, socket_kind::stream);
  ASSERT_TRUE(l.ok()) << l.error().message();
  auto c = test::connect_unix(path, socket_kind::stream);
  ASSERT_TRUE(c);
  const int a = l.accept(watchdog);
  ASSERT_GE(a, 0);
  transport ta(a, socket_kind::stream, 4096);
  transport tc(*c, socket_kind::stream, 4096);
  ASSERT_TRUE(tc.send("{\"hello\":1}"));
  EXPECT_EQ(read_n(ta, 1), (std::vector<std::string>{"{\"hello\":1}"}));
  l.close();
  ::rmdir(dir.c_str());
}

TEST(Transport, ListenRefusesToRemoveARegularFile) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/file";
  { std::ofstream(path) << "keep me"; }
  test::listening_socket l(path, socket_kind::seqpacket);
  EXPECT_FALSE(l.ok());
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(Transport, ListenRefusesAPathThatDoesNotFit) {
  socket_io io;
  auto r = socket_listener::open(io.context(), std::string(200, 'x'), socket_kind::seqpacket);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::invalid_argument));
}

// The test peer's connect (tests/support), which the tests above connect with; the library
// connects in socket_client.
TEST(Transport, ConnectToNobodyIsNotConnected) {
  const std::string dir = temp_dir();
  auto r = test::connect_unix(dir + "/none.sock", socket_kind::seqpacket);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::not_connected));
  EXPECT_EQ(test::connect_unix(std::string(200, 'x'), socket_kind::seqpacket).error(),
            make_error_code(errc::invalid_argument));
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace beehive::detail
