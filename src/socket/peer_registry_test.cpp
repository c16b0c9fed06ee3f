// SPDX-License-Identifier: Apache-2.0
#include "socket/peer_registry.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "bounded_wait.hpp"
#include "core/reply_table.hpp"
#include "fake_type_host.hpp"
#include "socket/peer_endpoint.hpp"

namespace beehive::detail {
namespace {

using namespace std::chrono_literals;
using test::watchdog;

// Accepts every handshake and records each link's end.
class ends_handler final : public link_handler {
 public:
  bool on_handshake(const std::shared_ptr<socket_link>& /*link*/, const message& /*m*/) override {
    return true;
  }
  void on_ended(const std::shared_ptr<socket_link>& /*link*/, bool was_established) override {
    {
      std::lock_guard lock(mu_);
      ends_.push_back(was_established);
    }
    cv_.notify_all();
  }
  bool wait_ends(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, watchdog, [&] { return ends_.size() >= n; });
  }
  std::vector<bool> ends() {
    std::lock_guard lock(mu_);
    return ends_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> ends_;
};

struct registry_fixture : ::testing::Test {
  // A link over one end of a socketpair; the test keeps the other end (closing it ends the
  // link).
  struct made {
    std::shared_ptr<socket_link> link;
    int peer = -1;
  };
  made make_link(bool server_side) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    peers_fds.push_back(fds[1]);
    auto conn =
        std::make_shared<connection>(fds[0], socket_kind::seqpacket, 4096, server_side, counters);
    return {std::make_shared<socket_link>(conn, handler, "test link"), fds[1]};
  }
  static void close_fd(int& fd) {
    ::close(fd);
    fd = -1;
  }
  void TearDown() override {
    io.stop();
    registry.stop();
    for (int fd : peers_fds) ::close(fd);
  }

  std::shared_ptr<socket_counters> counters = std::make_shared<socket_counters>();
  test::fake_type_host host;
  socket_io io;
  ends_handler handler;
  peer_registry registry{host, *counters, io};
  std::vector<int> peers_fds;
};
using PeerRegistry = registry_fixture;

TEST_F(PeerRegistry, AnEstablishedLinksPeerIsConnectedAndListed) {
  auto [link, peer] = make_link(true);
  ASSERT_TRUE(registry.start(link));
  ASSERT_TRUE(registry.add_peer(*link, "remotemod", {"remotemod"}));
  EXPECT_FALSE(registry.connected("remotemod"));  // not before the handshake completed
  ASSERT_TRUE(registry.establish(*link));
  EXPECT_TRUE(registry.connected("remotemod"));
  EXPECT_EQ(registry.peers(), (std::vector<std::string>{"remotemod"}));
  ASSERT_EQ(host.peers().size(), 1U);
  EXPECT_EQ(host.peers()[0].groups, (std::vector<std::string>{"remotemod"}));
}

TEST_F(PeerRegistry, ANameOfThisProcessIsNotTakenByAPeer) {
  host.add_local("srvmod");
  auto [link, peer] = make_link(false);
  ASSERT_TRUE(registry.start(link));
  auto r = registry.add_peer(*link, "srvmod", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::already_exists));
  EXPECT_TRUE(registry.peer_names().empty());
}

TEST_F(PeerRegistry, TeardownForgetsThePeersAndFailsTheCallsWaitingOnThem) {
  auto [link, peer] = make_link(true);
  ASSERT_TRUE(registry.start(link));
  // Read before the registry's mutex is taken again below (the teardown takes it too).
  const std::weak_ptr<endpoint> origin = link->origin;
  ASSERT_TRUE(registry.add_peer(*link, "remotemod", {"remotemod"}));
  ASSERT_TRUE(registry.establish(*link));
  const auto peer_ep = host.peers().at(0).ep;
  // A call of this process waits on the peer; a request of the peer waits here.
  const message request = new_message();
  reply_table::waiter w(host.replies(), 1);
  ASSERT_TRUE(w.expect(std::string_view(request.header.id), 0, peer_ep.get()));
  const std::string remote_id = new_uuid();
  host.replies().expect_remote(remote_id, origin);
  ASSERT_TRUE(host.replies().waiting(remote_id));

  close_fd(peer);  // the peer goes
  const auto start = reply_table::clock::now();
  w.wait_until(start + 60s);
  EXPECT_LT(reply_table::clock::now() - start, 30s) << "woken by the teardown, not the timeout";
  auto r = w.take(0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::not_connected));
  ASSERT_TRUE(registry.wait_disconnected("remotemod", watchdog));
  EXPECT_EQ(host.removed(), (std::vector<std::string>{"remotemod"}));
  EXPECT_FALSE(host.replies().waiting(remote_id));
  // The peer's endpoint stays routable until replaced, and answers `not_connected`.
  auto push = peer_ep->push(new_message(), delivery::direct);
  ASSERT_FALSE(push);
  EXPECT_EQ(push.error(), make_error_code(errc::not_connected));
  ASSERT_TRUE(handler.wait_ends(1));
  EXPECT_EQ(handler.ends(), (std::vector<bool>{true}));
  EXPECT_EQ(counters->connections_lost.load(), 1U);
}

TEST_F(PeerRegistry, AReaderIsJoinedAsSoonAsItsLinkEnds) {
  auto [link, peer] = make_link(false);
  ASSERT_TRUE(registry.start(link));
  EXPECT_EQ(registry.reader_threads(), 1U);
  close_fd(peer);
  // No other link comes and nothing stops: the loop joins it.
  EXPECT_TRUE(registry.wait_reader_threads_for(0, watchdog));
  EXPECT_EQ(registry.reader_threads(), 0U);
  EXPECT_EQ(handler.ends(), (std::vector<bool>{false}));
  EXPECT_EQ(counters->connections_lost.load(), 0U);  // never established
}

TEST_F(PeerRegistry, TheDeadlineAndTheHandshakeSettleALinkOnce) {
  auto [late, late_peer] = make_link(true);
  ASSERT_TRUE(registry.start(late));
  EXPECT_TRUE(registry.expire(*late));
  EXPECT_FALSE(registry.establish(*late));  // the handshake came after its deadline
  EXPECT_FALSE(registry.expire(*late));
  EXPECT_EQ(counters->handshakes_rejected.load(), 1U);
  ASSERT_TRUE(handler.wait_ends(1));  // expiring shut it down

  auto [in_time, in_time_peer] = make_link(false);
  ASSERT_TRUE(registry.start(in_time));
  EXPECT_TRUE(registry.establish(*in_time));
  EXPECT_FALSE(registry.expire(*in_time));
  EXPECT_TRUE(registry.wait_established(*in_time, 1ms));
  EXPECT_EQ(counters->connects.load(), 1U);  // a client link counts its connect
  EXPECT_EQ(counters->handshakes_rejected.load(), 1U);
}

TEST_F(PeerRegistry, ServerLinksCountsTheServerLinksThatHaveNotEnded) {
  auto [a, a_peer] = make_link(true);
  auto [b, b_peer] = make_link(true);
  auto [c, c_peer] = make_link(false);
  for (const auto& l : {a, b, c}) ASSERT_TRUE(registry.start(l));
  EXPECT_EQ(registry.server_links(), 2U);
  close_fd(a_peer);
  ASSERT_TRUE(handler.wait_ends(1));
  EXPECT_EQ(registry.server_links(), 1U);
}

TEST_F(PeerRegistry, AReconnectedPeerReplacesItsOlderLink) {
  auto [old_link, old_peer] = make_link(true);
  auto [new_link, new_peer] = make_link(true);
  for (const auto& l : {old_link, new_link}) {
    ASSERT_TRUE(registry.start(l));
    ASSERT_TRUE(registry.establish(*l));
  }
  ASSERT_TRUE(registry.add_peer(*old_link, "remotemod", {}));
  registry.replace_older(*new_link, "remotemod");
  ASSERT_TRUE(handler.wait_ends(1));
  EXPECT_TRUE(old_link->conn->wire.is_shut_down());
  EXPECT_FALSE(new_link->conn->wire.is_shut_down());
}

TEST_F(PeerRegistry, StopShutsEveryLinkAndJoinsEveryReader) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(registry.start(make_link(i % 2 == 0).link));
  io.stop();
  registry.stop();
  EXPECT_EQ(registry.reader_threads(), 0U);
  EXPECT_EQ(handler.ends().size(), 3U);
  EXPECT_FALSE(registry.start(make_link(true).link));
  EXPECT_EQ(registry.reader_threads(), 0U);
}

// A host that counts `update_peers` calls and hands everything else to a fake host.
class counting_host final : public type_host {
 public:
  reply_table& replies() noexcept override { return inner.replies(); }
  expected<void> deliver(std::string_view module, message&& msg, delivery how) override {
    return inner.deliver(module, std::move(msg), how);
  }
  expected<void> add_peer(std::string_view module, std::shared_ptr<endpoint> ep,
                          const std::vector<std::string>& groups) override {
    ++single_calls;
    return inner.add_peer(module, std::move(ep), groups);
  }
  void remove_peer(std::string_view module, const endpoint& ep) override {
    ++single_calls;
    inner.remove_peer(module, ep);
  }
  void cleanup(std::string_view module, const endpoint& ep) override { inner.cleanup(module, ep); }
  bool when_writable(std::string_view module, std::function<void()> fn) override {
    return inner.when_writable(module, std::move(fn));
  }
  std::vector<std::error_code> update_peers(std::span<const peer_update> batch) override {
    std::vector<std::error_code> out;
    {
      std::lock_guard lock(mu);
      batches.push_back(batch.size());
    }
    for (const auto& u : batch) {
      if (u.op == peer_op::add) {
        auto r = inner.add_peer(u.module, u.ep, u.groups);
        out.push_back(r ? std::error_code() : r.error());
      } else {
        inner.remove_peer(u.module, *u.ep);
        out.emplace_back();
      }
    }
    return out;
  }
  membership members() const override { return inner.members(); }
  bool cancelled() const noexcept override { return false; }
  std::vector<std::size_t> calls() {
    std::lock_guard lock(mu);
    return batches;
  }

  test::fake_type_host inner;
  std::atomic<int> single_calls{0};
  std::mutex mu;
  std::vector<std::size_t> batches;
};

// Issue 11: a handshake's module exchange and a link's end are one change of the routing each.
TEST(PeerRegistryBatches, AnExchangeAndALinksEndAreOneUpdateEach) {
  auto counters = std::make_shared<socket_counters>();
  counting_host host;
  host.inner.add_local("srvmod");
  socket_io io;
  ends_handler handler;
  peer_registry registry{host, *counters, io};
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  auto conn = std::make_shared<connection>(fds[0], socket_kind::seqpacket, 4096, false, counters);
  auto link = std::make_shared<socket_link>(conn, handler, "test link");
  ASSERT_TRUE(registry.start(link));
  const auto codes =
      registry.add_peers(*link, {{"a", {"g"}}, {"srvmod", {}}, {"b", {"g", "h"}}, {"c", {}}});
  ASSERT_EQ(codes.size(), 4U);
  EXPECT_FALSE(codes[0]);
  EXPECT_EQ(codes[1], make_error_code(errc::already_exists));  // a module of this process
  EXPECT_FALSE(codes[2]);
  EXPECT_FALSE(codes[3]);
  EXPECT_EQ(host.calls(), (std::vector<std::size_t>{4}));
  EXPECT_EQ(registry.peer_names().size(), 3U);
  ASSERT_TRUE(registry.establish(*link));
  ::close(fds[1]);  // the link ends: its three peers go in one update
  ASSERT_TRUE(handler.wait_ends(1));
  EXPECT_EQ(host.calls(), (std::vector<std::size_t>{4, 3}));
  EXPECT_EQ(host.single_calls.load(), 0);
  EXPECT_EQ(host.inner.removed().size(), 3U);
  io.stop();
  registry.stop();
}

}  // namespace
}  // namespace beehive::detail
