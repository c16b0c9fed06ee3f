// SPDX-License-Identifier: Apache-2.0
// Every call between two processes of one namespace, through one real nats-server.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "support/bounded_wait.hpp"
#include "support/nats_client.hpp"
#include "support/nats_process.hpp"
#include "support/nats_servers.hpp"

namespace beehive::test {
namespace {

using namespace std::chrono_literals;

std::string text_of(const message& m) { return m.content.get<std::string>().value_or("?"); }

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

class NatsCalls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { servers_ = new nats_servers(nats_servers::single()); }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  static nats_config config(std::string ns = "t") {
    static int n = 0;
    // A namespace per test: tests never see each other's modules.
    return nats_test_config(servers_->url(0), ns + std::to_string(++n));
  }
  static nats_servers* servers_;
};
nats_servers* NatsCalls::servers_ = nullptr;

TEST_F(NatsCalls, ModulesOfTheOtherProcessAppearAsPeersWithTheirGroups) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(a.add("alpha"));
  ASSERT_TRUE(a.ctx->add_module_group("alpha", "workers"));
  ASSERT_TRUE(b.add("beta"));
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(b.nats->wait_peer("alpha", 2s));
  ASSERT_TRUE(a.nats->wait_peer("beta", 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(has(b.ctx->modules(), "alpha"));
  EXPECT_EQ(b.ctx->module_type("alpha"), "nats");
  ASSERT_TRUE(eventually([&] { return has(b.ctx->groups()["workers"], "alpha"); }));
  // A clean leave is seen within 2 s.
  ASSERT_TRUE(a.ctx->cleanup("alpha"));
  ASSERT_TRUE(b.nats->wait_peer_gone("alpha", 2s));
  EXPECT_FALSE(has(b.ctx->modules(), "alpha"));
  EXPECT_TRUE(b.ctx->groups()["workers"].empty());
  EXPECT_GE(b.nats->stats().peers_left, 1U);
}

TEST_F(NatsCalls, SendAndReceiveBothWays) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(a.add("alpha"));
  ASSERT_TRUE(b.add("beta"));
  ASSERT_TRUE(a.nats->wait_peer("beta", 5s));
  ASSERT_TRUE(b.nats->wait_peer("alpha", 5s));
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(a.ctx->send("beta", new_message().fill_body(num(i))));
  }
  for (int i = 0; i < 100; ++i) {
    auto m = b.ctx->receive_for("beta", watchdog);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(num_of(*m), i);  // one sender's order holds
  }
  ASSERT_TRUE(b.ctx->send("alpha", new_message().fill_body(std::string("back"))));
  auto m = a.ctx->receive_for("alpha", watchdog);
  ASSERT_TRUE(m);
  EXPECT_EQ(text_of(*m), "back");
  EXPECT_EQ(a.nats->stats().published, 100U);
  EXPECT_EQ(b.nats->stats().delivered, 100U);
}

TEST_F(NatsCalls, SendSyncAndSendRespBothWays) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(a.add("alpha"));
  ASSERT_TRUE(b.add("beta"));
  ASSERT_TRUE(a.nats->wait_peer("beta", 5s));
  ASSERT_TRUE(b.nats->wait_peer("alpha", 5s));
  auto echo = [](context& ctx, const char* module) {
    return std::thread([&ctx, module] {
      for (;;) {
        auto req = ctx.receive_for(module, watchdog);
        if (!req) return;
        if (req->content.is_null()) return;
        auto resp = new_resp_by_message(*req, num(num_of(*req) * 2));
        (void)ctx.send_resp(std::move(resp));
      }
    });
  };
  auto tb = echo(*b.ctx, "beta");
  auto ta = echo(*a.ctx, "alpha");
  for (int i = 1; i <= 20; ++i) {
    auto r = a.ctx->send_sync("beta", new_message().fill_body(num(i)), 5s);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(num_of(*r), 2 * i);
    auto r2 = b.ctx->send_sync("alpha", new_message().fill_body(num(i)), 5s);
    ASSERT_TRUE(r2) << r2.error().message();
    EXPECT_EQ(num_of(*r2), 2 * i);
  }
  ASSERT_TRUE(a.ctx->send("beta", new_message()));
  ASSERT_TRUE(b.ctx->send("alpha", new_message()));
  tb.join();
  ta.join();
  EXPECT_EQ(a.nats->stats().replies_in, 20U);
  EXPECT_EQ(a.nats->stats().replies_out, 20U);
}

TEST_F(NatsCalls, GroupsAcrossProcessesWithExactMissing) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  nats_process c(cfg);
  ASSERT_TRUE(b.add("answers"));
  ASSERT_TRUE(b.ctx->add_module_group("answers", "grp"));
  ASSERT_TRUE(c.add("silent"));
  ASSERT_TRUE(c.ctx->add_module_group("silent", "grp"));
  ASSERT_TRUE(a.add("local"));
  ASSERT_TRUE(a.ctx->add_module_group("local", "grp"));
  ASSERT_TRUE(eventually([&] { return a.ctx->groups()["grp"].size() == 3; }));
  auto sent = a.ctx->send_to_group("grp", new_message().fill_body(num(7)));
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->delivered, 3U);
  for (auto* p : {&a, &b, &c}) {
    const char* name = p == &a ? "local" : p == &b ? "answers" : "silent";
    auto m = p->ctx->receive_for(name, watchdog);
    ASSERT_TRUE(m) << name;
    EXPECT_EQ(num_of(*m), 7);
  }
  std::thread answer([&] {
    auto req = b.ctx->receive_for("answers", watchdog);
    ASSERT_TRUE(req);
    (void)b.ctx->send_resp(new_resp_by_message(*req, std::string("b")));
  });
  std::thread answer_local([&] {
    auto req = a.ctx->receive_for("local", watchdog);
    ASSERT_TRUE(req);
    (void)a.ctx->send_resp(new_resp_by_message(*req, std::string("a")));
  });
  auto r = a.ctx->send_to_group_sync("grp", new_message(), 1500ms);
  answer.join();
  answer_local.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->replies.size(), 2U);
  EXPECT_EQ(r->missing, std::vector<std::string>{"silent"});
  EXPECT_TRUE(r->failed.empty());
}

// The sender encodes a group send's copies once (nats_link::send reuses the last record when
// header, route and content are the same): every remote member gets the same record, and a
// later message that differs in any part is encoded afresh, even with the same id and route
// (a content made after the previous one was freed may have its address).
TEST_F(NatsCalls, GroupCopiesShareOneEncodingAndNothingStaleIsSent) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  for (const char* m : {"m1", "m2", "m3"}) {
    ASSERT_TRUE(b.add(m));
    ASSERT_TRUE(b.ctx->add_module_group(m, "grp"));
  }
  ASSERT_TRUE(eventually([&] { return a.ctx->groups()["grp"].size() == 3; }));
  auto first = new_message().fill_body(num(1));
  first.route.resource = "r";
  auto sent = a.ctx->send_to_group("grp", message(first));
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->delivered, 3U);
  for (int i = 2; i <= 4; ++i) {
    message again = first;  // same id and route: only the content differs
    again.content = num(i);
    ASSERT_TRUE(a.ctx->send("m1", std::move(again)));
  }
  message routed = first;  // same id and content: only the route differs
  routed.route.resource = "other";
  ASSERT_TRUE(a.ctx->send("m1", std::move(routed)));
  for (const char* m : {"m1", "m2", "m3"}) {
    auto got = b.ctx->receive_for(m, watchdog);
    ASSERT_TRUE(got) << m;
    EXPECT_EQ(num_of(*got), 1) << m;
    EXPECT_EQ(got->header.id, first.header.id) << m;
    EXPECT_EQ(got->route.resource, "r") << m;
  }
  for (int i = 2; i <= 4; ++i) {
    auto got = b.ctx->receive_for("m1", watchdog);
    ASSERT_TRUE(got);
    EXPECT_EQ(num_of(*got), i);
  }
  auto got = b.ctx->receive_for("m1", watchdog);
  ASSERT_TRUE(got);
  EXPECT_EQ(num_of(*got), 1);
  EXPECT_EQ(got->route.resource, "other");
  EXPECT_EQ(a.nats->stats().published, 7U);
}

TEST_F(NatsCalls, HostileModuleNamesAreReachable) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  const std::string names[] = {"a.b", "*", ">", "with space", "ünï", "~x"};
  for (const auto& n : names) ASSERT_TRUE(a.add(n)) << n;
  for (const auto& n : names) ASSERT_TRUE(b.nats->wait_peer(n, 5s)) << n;
  for (const auto& n : names) {
    ASSERT_TRUE(b.ctx->send(n, new_message().fill_body(n))) << n;
    auto m = a.ctx->receive_for(n, watchdog);
    ASSERT_TRUE(m) << n;
    EXPECT_EQ(text_of(*m), n);
  }
}

TEST_F(NatsCalls, ANameIsUniqueInTheNamespace) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(a.add("only"));
  // Whether b has heard of it yet or not: the claim asks the namespace.
  auto r = b.add("only");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::already_exists);
  ASSERT_TRUE(b.nats->wait_peer("only", 5s));
  EXPECT_EQ(b.add("only").error(), errc::already_exists);
  // Once a lets it go, b may take it.
  ASSERT_TRUE(a.ctx->cleanup("only"));
  ASSERT_TRUE(b.nats->wait_peer_gone("only", 5s));
  EXPECT_TRUE(b.add("only"));
}

TEST_F(NatsCalls, AnotherNamespaceNeitherSeesNorReachesOurModules) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  nats_process other(config("other"));
  ASSERT_TRUE(a.add("secret"));
  ASSERT_TRUE(other.add("probe"));
  ASSERT_TRUE(b.nats->wait_peer("secret", 5s));
  ASSERT_TRUE(b.nats->wait_peer("probe", 0s) == false);
  EXPECT_FALSE(other.ctx->has_module("secret"));
  EXPECT_EQ(other.ctx->send("secret", new_message()).error(), errc::module_not_found);
  // Its own module of the same name is a different module.
  EXPECT_TRUE(other.add("secret"));
}

TEST_F(NatsCalls, OversizedRecordIsRefusedBeforeSending) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_process b(cfg);
  ASSERT_TRUE(b.add("big"));
  ASSERT_TRUE(a.nats->wait_peer("big", 5s));
  const auto max = a.nats->max_payload();
  ASSERT_GT(max, 0);
  std::string body(static_cast<std::size_t>(max) + 10, 'x');
  auto r = a.ctx->send("big", new_message().fill_body(body));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::message_too_large);
  auto s = a.ctx->send_sync("big", new_message().fill_body(body), 1s);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), errc::message_too_large);
  EXPECT_EQ(a.nats->stats().oversized, 2U);
  EXPECT_EQ(a.nats->stats().published, 0U);
  // A record that fits still goes.
  ASSERT_TRUE(a.ctx->send("big", new_message().fill_body(std::string("small"))));
  EXPECT_TRUE(b.ctx->receive_for("big", watchdog));
}

// A process that crashed: it announced a module, subscribes to its subject (so requests reach
// it) and never answers; then it falls silent. Callers waiting on it wake with not_connected
// within 3 presence intervals, and its module disappears.
TEST_F(NatsCalls, CrashedProcessModulesExpireAndWaitersWake) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_client_options o;
  o.urls = servers_->url(0);
  auto ghost = nats_client::connect(o);
  ASSERT_TRUE(ghost);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(
      natsConnection_SubscribeSync(&sub, ghost->get(), (cfg.name_space + ".m.ghost.*").c_str()),
      NATS_OK);
  const std::string hb =
      R"({"pid":"deadbeef","mods":[{"n":"ghost","g":["grp"],"o":0,"bt":0,"r":false}]})";
  ASSERT_EQ(
      natsConnection_PublishString(ghost->get(), (cfg.name_space + ".p.hb").c_str(), hb.c_str()),
      NATS_OK);
  ASSERT_EQ(natsConnection_Flush(ghost->get()), NATS_OK);
  ASSERT_TRUE(a.nats->wait_peer("ghost", 5s));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = a.ctx->send_sync("ghost", new_message(), 20s);
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_connected);
  EXPECT_LT(waited, 3 * cfg.presence_interval + 500ms);
  EXPECT_FALSE(a.ctx->has_module("ghost"));
  EXPECT_TRUE(a.ctx->groups()["grp"].empty());
  EXPECT_EQ(a.nats->stats().peers_expired, 1U);
  // A later send says why.
  EXPECT_EQ(a.ctx->send("ghost", new_message()).error(), errc::not_connected);
  natsSubscription_Destroy(sub);
}

void answer_probe(natsConnection* nc, natsSubscription* /*sub*/, natsMsg* msg, void* /*closure*/) {
  if (natsMsg_GetReply(msg) != nullptr)
    (void)natsConnection_PublishString(nc, natsMsg_GetReply(msg), "ok");
  natsMsg_Destroy(msg);
}

// A module announced by a process that is reachable but does not subscribe to it: a sync
// request fails at once with module_not_found.
TEST_F(NatsCalls, SendSyncWithoutResponderIsModuleNotFoundAtOnce) {
  const auto cfg = config();
  nats_process a(cfg);
  nats_client_options o;
  o.urls = servers_->url(0);
  auto ghost = nats_client::connect(o);
  ASSERT_TRUE(ghost);
  natsSubscription* probe = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&probe, ghost->get(), (cfg.name_space + ".x.cafe").c_str(),
                                     answer_probe, nullptr),
            NATS_OK);
  const std::string hb = R"({"pid":"cafe","mods":[{"n":"nobody","g":[],"o":0,"bt":0,"r":false}]})";
  ASSERT_EQ(
      natsConnection_PublishString(ghost->get(), (cfg.name_space + ".p.hb").c_str(), hb.c_str()),
      NATS_OK);
  ASSERT_EQ(natsConnection_Flush(ghost->get()), NATS_OK);
  ASSERT_TRUE(a.nats->wait_peer("nobody", 5s));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = a.ctx->send_sync("nobody", new_message(), 20s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::module_not_found);
  // "At once": well before the call's 20 s (1 s was too tight under TSan on 2 loaded cores).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(a.nats->stats().no_responders, 1U);
  natsSubscription_Destroy(probe);
}

// A process that nobody can reach any more (it died, or a link to it is cut) while its modules
// are still known: the first sync request fails at once with not_connected, and every module
// of that process goes at once (later calls: not_connected), without waiting for its expiry.
TEST_F(NatsCalls, UnreachableProcessIsNotConnectedAtOnce) {
  auto cfg = config();
  cfg.presence_interval = 5s;  // expiry alone would take 12 s
  nats_process a(cfg);
  nats_client_options o;
  o.urls = servers_->url(0);
  auto ghost = nats_client::connect(o);
  ASSERT_TRUE(ghost);
  const std::string hb =
      R"({"pid":"gone","mods":[{"n":"m1","g":[],"o":0,"bt":0,"r":false},{"n":"m2","g":[],"o":0,"bt":0,"r":false}]})";
  ASSERT_EQ(
      natsConnection_PublishString(ghost->get(), (cfg.name_space + ".p.hb").c_str(), hb.c_str()),
      NATS_OK);
  ASSERT_EQ(natsConnection_Flush(ghost->get()), NATS_OK);
  ASSERT_TRUE(a.nats->wait_peer("m2", 5s));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = a.ctx->send_sync("m1", new_message(), 20s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_connected);
  // "At once": well before the call's 20 s and the 12 s expiry (1 s was too tight under TSan on
  // 2 loaded cores: 2.4 s once).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_FALSE(a.ctx->has_module("m2"));
  EXPECT_EQ(a.ctx->send("m2", new_message()).error(), errc::not_connected);
  EXPECT_EQ(a.nats->stats().peers_expired, 2U);
}

TEST_F(NatsCalls, BadCredentialsAreNotConnectedNamingTheCause) {
  nats_server_options so;
  so.user = "u";
  so.password = "right";
  auto secured = nats_servers::single(so);
  auto cfg = nats_test_config(secured.url(0));
  cfg.user = "u";
  cfg.password = "wrong";
  context ctx;
  std::string why;
  auto r = register_nats_context(ctx, cfg, &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_connected);
  EXPECT_NE(why.find("Authorization"), std::string::npos) << why;
  EXPECT_FALSE(ctx.has_type("nats"));
  cfg.password = "right";
  auto ok = register_nats_context(ctx, cfg, &why);
  ASSERT_TRUE(ok) << why;
  EXPECT_TRUE((*ok)->connected());
}

TEST_F(NatsCalls, NoServerIsNotConnectedWithinTheBound) {
  auto cfg = nats_test_config("nats://127.0.0.1:1");
  context ctx;
  std::string why;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = register_nats_context(ctx, cfg, &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_connected);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2 * cfg.connect_timeout + 1s);
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace beehive::test
