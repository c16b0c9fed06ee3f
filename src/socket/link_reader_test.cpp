// SPDX-License-Identifier: Apache-2.0
#include "socket/link_reader.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "beehive/codec.hpp"
#include "bounded_wait.hpp"
#include "core/reply_table.hpp"
#include "fake_type_host.hpp"
#include "socket/peer_endpoint.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;

// Records the handshakes it is handed and answers them with `accept`.
class recording_handler final : public link_handler {
 public:
  explicit recording_handler(bool accept) : accept_(accept) {}
  bool on_handshake(const std::shared_ptr<socket_link>& /*link*/, const message& m) override {
    std::lock_guard lock(mu_);
    handshakes_.push_back(m);
    return accept_;
  }
  void on_ended(const std::shared_ptr<socket_link>& /*link*/, bool /*was_established*/) override {}
  std::vector<message> handshakes() {
    std::lock_guard lock(mu_);
    return handshakes_;
  }

 private:
  const bool accept_;
  std::mutex mu_;
  std::vector<message> handshakes_;
};

// A link over one end of a socketpair, read by a `link_reader` on its own thread; the test
// holds the other end (`peer`).
struct reader_fixture {
  explicit reader_fixture(bool server_side, bool accept = true) : handler(accept) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    peer = fds[1];
    auto conn =
        std::make_shared<connection>(fds[0], socket_kind::seqpacket, 65536, server_side, counters);
    link = std::make_shared<socket_link>(conn, handler, "test link");
    link->origin = std::make_shared<peer_endpoint>("origin", conn);
    host.add_local("srvmod");
  }
  ~reader_fixture() {
    close_peer();
    if (thread.joinable()) thread.join();
  }
  void start() {
    thread = std::thread([this] { reader.run(link); });
  }
  void put(const message& m) const {
    const std::string text = *encode_message(m) + "\n";
    ASSERT_EQ(::send(peer, text.data(), text.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(text.size()));
  }
  void put_raw(const std::string& bytes) const {
    ASSERT_EQ(::send(peer, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Reads one record the reader's side wrote back, within a bound.
  std::optional<message> take() const {
    pollfd p{peer, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return std::nullopt;
    char buf[65536];
    const ssize_t n = ::recv(peer, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    auto m = decode_message(std::string_view(buf, static_cast<std::size_t>(n)));
    return m ? std::optional<message>(std::move(*m)) : std::nullopt;
  }
  // A record for srvmod, then a wait for it: every record written before it was handled.
  // `delivered_before`: the records delivered so far (or written to be, before the marker).
  void sync_with_reader(std::size_t delivered_before) {
    put(to("srvmod", "marker"));
    ASSERT_TRUE(host.wait_delivered(delivered_before + 1));
  }
  void close_peer() {
    if (peer >= 0) ::close(peer);
    peer = -1;
  }
  static message to(const std::string& dest, const std::string& body) {
    auto m = new_message().fill_body(body);
    m.route.source = "remotemod";
    m.route.destination = dest;
    return m;
  }
  static message handshake() {
    auto m = new_message();
    m.header.sync = true;
    m.route.source = "remotemod";
    m.route.operation = "add";
    m.route.resource = "module";
    return m;
  }

  std::shared_ptr<socket_counters> counters = std::make_shared<socket_counters>();
  test::fake_type_host host;
  recording_handler handler;
  link_reader reader{host, *counters};
  std::shared_ptr<socket_link> link;
  int peer = -1;
  std::thread thread;
};

TEST(LinkReader, ServerHandsTheFirstRecordToTheHandlerAndRoutesTheRest) {
  reader_fixture f(/*server_side=*/true);
  f.start();
  f.put(reader_fixture::handshake());
  f.put(reader_fixture::to("srvmod", "hello"));
  f.sync_with_reader(1);
  const auto got = f.host.delivered();
  EXPECT_EQ(got[0].module, "srvmod");
  EXPECT_EQ(got[0].msg.content.to_string().value_or(""), "hello");
  ASSERT_EQ(f.handler.handshakes().size(), 1U);
  EXPECT_EQ(f.handler.handshakes()[0].route.operation, "add");
  EXPECT_GE(f.counters->records_in.load(), 2U);
  EXPECT_GE(f.counters->forwarded.load(), 1U);
}

TEST(LinkReader, AMalformedFirstRecordEndsAServerLinkAsARejectedHandshake) {
  reader_fixture f(/*server_side=*/true);
  f.start();
  f.put_raw("not json\n");
  f.thread.join();  // returns without the peer closing
  EXPECT_EQ(f.counters->malformed_records.load(), 1U);
  EXPECT_EQ(f.counters->handshakes_rejected.load(), 1U);
  EXPECT_TRUE(f.handler.handshakes().empty());
}

TEST(LinkReader, AHandshakeTheHandlerRefusesEndsTheLink) {
  reader_fixture f(/*server_side=*/true, /*accept=*/false);
  f.start();
  f.put(reader_fixture::handshake());
  f.put(reader_fixture::to("srvmod", "never routed"));
  f.thread.join();
  EXPECT_TRUE(f.host.delivered().empty());
}

TEST(LinkReader, AMalformedRecordAfterTheHandshakeIsCountedAndTheLinkKept) {
  reader_fixture f(/*server_side=*/true);
  f.start();
  f.put(reader_fixture::handshake());
  f.put_raw("{\"header\":\n");
  f.sync_with_reader(0);
  EXPECT_EQ(f.counters->malformed_records.load(), 1U);
}

TEST(LinkReader, AReplyReachesTheCallerWaitingForIt) {
  reader_fixture f(/*server_side=*/true);
  f.start();
  f.put(reader_fixture::handshake());
  const message request = new_message();
  reply_table::waiter w(f.host.replies(), 1);
  ASSERT_TRUE(w.expect(std::string_view(request.header.id), 0, nullptr));
  f.put(new_resp_by_message(request, content("answer")));
  w.wait_until(reply_table::clock::now() + 10s);
  auto reply = w.take(0);
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->content.to_string().value_or(""), "answer");
  EXPECT_EQ(f.counters->replies_routed.load(), 1U);
}

TEST(LinkReader, AReplyNobodyWaitsForIsAnOrphan) {
  reader_fixture f(/*server_side=*/true);
  f.start();
  f.put(reader_fixture::handshake());
  f.put(new_resp_by_message(new_message(), content("late")));
  f.sync_with_reader(0);
  EXPECT_EQ(f.counters->orphan_replies.load(), 1U);
  EXPECT_EQ(f.counters->replies_routed.load(), 0U);
}

TEST(LinkReader, ASyncRequestForAnUnknownModuleIsAnsweredWithAnErrorAtOnce) {
  reader_fixture f(/*server_side=*/true);
  f.start();
  f.put(reader_fixture::handshake());
  auto request = reader_fixture::to("nobody", "q");
  request.header.sync = true;
  f.put(request);
  auto err = f.take();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->route.operation, "error");
  EXPECT_EQ(err->header.parent_id, request.header.id);
  EXPECT_EQ(f.counters->unknown_destination.load(), 1U);
}

TEST(LinkReader, ARecordWithoutDestinationIsDropped) {
  reader_fixture f(/*server_side=*/true);
  f.start();
  f.put(reader_fixture::handshake());
  f.put(reader_fixture::to("", "nowhere"));
  f.sync_with_reader(0);
  EXPECT_EQ(f.counters->unknown_destination.load(), 1U);
  EXPECT_EQ(f.host.delivered().size(), 1U);  // the marker only
}

TEST(LinkReader, AClientRoutesRecordsBeforeTheAnswerAndHandsOnlyTheAnswerToTheHandler) {
  reader_fixture f(/*server_side=*/false);
  const message request = reader_fixture::handshake();
  f.link->handshake_id = std::string(std::string_view(request.header.id));
  f.start();
  f.put(reader_fixture::to("srvmod", "early"));
  ASSERT_TRUE(f.host.wait_delivered(1));
  EXPECT_TRUE(f.handler.handshakes().empty());
  f.put(new_resp_by_message(request, content::from_trusted_json_text(R"({"modules":[]})")));
  f.sync_with_reader(1);
  ASSERT_EQ(f.handler.handshakes().size(), 1U);
  EXPECT_EQ(f.handler.handshakes()[0].header.parent_id, request.header.id);
}

TEST(LinkReader, AClientNeverSendsARecordBackToTheSideItCameFrom) {
  reader_fixture f(/*server_side=*/false);
  // `other` is a module of the server's side, reached over this very link.
  f.link->peers.push_back(std::make_shared<peer_endpoint>("other", f.link->conn));
  f.start();
  f.put(reader_fixture::to("other", "loop"));
  f.sync_with_reader(0);
  EXPECT_EQ(f.counters->unknown_destination.load(), 1U);
  EXPECT_EQ(f.counters->records_out.load(), 0U);
}

TEST(LinkReader, ReturnsWhenThePeerCloses) {
  reader_fixture f(/*server_side=*/true);
  f.start();
  f.close_peer();
  f.thread.join();
  EXPECT_EQ(f.counters->truncated_frames.load(), 0U);
}

// A host whose destination answers `would_block` while `full`, as the relay contract says (the
// message is left to the caller), and keeps the `when_writable` signal for the test to fire.
class full_host final : public type_host {
 public:
  reply_table& replies() noexcept override { return replies_; }
  expected<void> deliver(std::string_view module, message&& msg, delivery how) override {
    std::lock_guard lock(mu);
    EXPECT_EQ(how, delivery::relay);
    if (full) {
      ++refused;
      return unexpected(errc::would_block);
    }
    delivered.emplace_back(module, std::string(std::string_view(msg.header.id)));
    return {};
  }
  bool when_writable(std::string_view /*module*/, std::function<void()> fn) override {
    std::lock_guard lock(mu);
    signal = std::move(fn);
    return true;
  }
  expected<void> add_peer(std::string_view, std::shared_ptr<endpoint>,
                          const std::vector<std::string>&) override {
    return {};
  }
  void remove_peer(std::string_view, const endpoint&) override {}
  void cleanup(std::string_view, const endpoint&) override {}
  std::vector<std::error_code> update_peers(std::span<const peer_update> batch) override {
    return std::vector<std::error_code>(batch.size());
  }
  membership members() const override { return {}; }
  bool cancelled() const noexcept override { return false; }

  // Makes room and fires the signal, outside the lock (as an inbox does).
  void make_room() {
    std::function<void()> fn;
    {
      std::lock_guard lock(mu);
      full = false;
      fn = std::move(signal);
    }
    if (fn) fn();
  }

  std::mutex mu;
  bool full = true;
  int refused = 0;
  std::function<void()> signal;
  std::vector<std::pair<std::string, std::string>> delivered;

 private:
  reply_table replies_;
};

TEST(LinkReaderFlow, AFullDestinationHoldsTheLinkUntilItIsWritable) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  auto counters = std::make_shared<socket_counters>();
  recording_handler handler(true);
  full_host host;
  link_reader reader(host, *counters);
  auto conn = std::make_shared<connection>(fds[0], socket_kind::seqpacket, 65536, true, counters);
  auto link = std::make_shared<socket_link>(conn, handler, "test link");
  link->origin = std::make_shared<peer_endpoint>("origin", conn);
  std::thread t([&] { reader.run(link); });
  const auto put = [&](const message& m) {
    const std::string text = *encode_message(m) + "\n";
    ASSERT_EQ(::send(fds[1], text.data(), text.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(text.size()));
  };
  put(reader_fixture::handshake());
  const message a = reader_fixture::to("srvmod", "a");
  const message b = reader_fixture::to("srvmod", "b");
  put(a);
  put(b);
  // The reader holds `a` and waits for the signal; `b` stays unread meanwhile.
  ASSERT_TRUE(test::eventually([&] {
    std::lock_guard lock(host.mu);
    return static_cast<bool>(host.signal);
  }));
  {
    std::lock_guard lock(host.mu);
    EXPECT_EQ(host.refused, 1);
    EXPECT_TRUE(host.delivered.empty());
  }
  host.make_room();
  ASSERT_TRUE(test::eventually([&] {
    std::lock_guard lock(host.mu);
    return host.delivered.size() == 2;
  }));
  {
    std::lock_guard lock(host.mu);
    EXPECT_EQ(host.delivered[0].second, std::string_view(a.header.id));  // in order, none lost
    EXPECT_EQ(host.delivered[1].second, std::string_view(b.header.id));
  }
  EXPECT_EQ(counters->forwarded.load(), 2U);
  EXPECT_EQ(counters->undeliverable.load(), 0U);
  ::close(fds[1]);
  t.join();
}

TEST(LinkReaderFlow, AReaderHeldByAFullDestinationReturnsWhenItsLinkIsShutDown) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  auto counters = std::make_shared<socket_counters>();
  recording_handler handler(true);
  full_host host;
  link_reader reader(host, *counters);
  auto conn = std::make_shared<connection>(fds[0], socket_kind::seqpacket, 65536, true, counters);
  auto link = std::make_shared<socket_link>(conn, handler, "test link");
  link->origin = std::make_shared<peer_endpoint>("origin", conn);
  std::thread t([&] { reader.run(link); });
  for (const auto& m : {reader_fixture::handshake(), reader_fixture::to("srvmod", "held")}) {
    const std::string text = *encode_message(m) + "\n";
    ASSERT_EQ(::send(fds[1], text.data(), text.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(text.size()));
  }
  ASSERT_TRUE(test::eventually([&] {
    std::lock_guard lock(host.mu);
    return static_cast<bool>(host.signal);
  }));
  conn->wire.shutdown();  // a stop or a cleanup: the reader gives up the held record
  auto done = std::async(std::launch::async, [&] { t.join(); });
  test::get_bounded(done);
  EXPECT_EQ(counters->undeliverable.load(), 1U);  // counted, not lost silently
  ::close(fds[1]);
}

}  // namespace
}  // namespace beehive::detail
