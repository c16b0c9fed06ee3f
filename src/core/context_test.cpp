// SPDX-License-Identifier: Apache-2.0
#include "beehive/context.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "bounded_wait.hpp"
#include "core/context_state.hpp"
#include "fake_context_type.hpp"
#include "type/context_type.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::fake_context_type;
using test::watchdog;

module_info info(std::string name, std::string type = "channel", std::size_t capacity = 1024) {
  module_info i;
  i.name = std::move(name);
  i.type = std::move(type);
  i.remote = i.type != "channel";
  i.inbox.capacity = capacity;
  return i;
}

struct ContextWithFake : ::testing::Test {
  void SetUp() override { ASSERT_TRUE(detail::install_type(ctx, "fake", fake)); }
  context ctx;
  std::shared_ptr<fake_context_type> fake = std::make_shared<fake_context_type>();
};

TEST(Context, ChannelTypeIsAlwaysRegistered) {
  context ctx;
  EXPECT_TRUE(ctx.has_type("channel"));
  EXPECT_FALSE(ctx.has_type("unixpacket"));
  auto r = detail::install_type(ctx, "channel", std::make_shared<fake_context_type>());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::already_exists);
}

TEST(Context, InstallTypeTwiceIsAlreadyExists) {
  context ctx;
  auto fake = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
  EXPECT_TRUE(ctx.has_type("fake"));
  EXPECT_NE(fake->host(), nullptr);  // attached
  auto r = detail::install_type(ctx, "fake", std::make_shared<fake_context_type>());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::already_exists);
}

TEST(Context, InstallTypeRejectsNullTypeAndEmptyName) {
  context ctx;
  EXPECT_EQ(detail::install_type(ctx, "x", nullptr).error(), errc::invalid_argument);
  EXPECT_EQ(detail::install_type(ctx, "", std::make_shared<fake_context_type>()).error(),
            errc::invalid_argument);
}

TEST(Context, DestroyingTheContextStopsItsTypesFirst) {
  auto fake = std::make_shared<fake_context_type>();
  {
    context ctx;
    ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
    ASSERT_TRUE(ctx.add_module(info("remote", "fake")));
  }
  EXPECT_EQ(fake->stops(), 1);
  EXPECT_EQ(fake->host(), nullptr);
  EXPECT_GE(fake->closes(), 1);
}

TEST(Context, AddModuleOfUnregisteredTypeIsUnsupportedType) {
  context ctx;
  auto r = ctx.add_module(info("remote", "unixpacket"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unsupported_type);
  EXPECT_FALSE(ctx.module_type("remote"));
  EXPECT_TRUE(ctx.modules().empty());
}

TEST(Context, AddModuleWithEmptyNameIsInvalidArgument) {
  context ctx;
  EXPECT_EQ(ctx.add_module(info("")).error(), errc::invalid_argument);
}

TEST(Context, SendAndReceiveThroughChannel) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(info("dst")));
  EXPECT_EQ(ctx.module_type("dst"), "channel");
  auto msg = new_message().fill_body("hello");
  const auto id = msg.header.id;
  ASSERT_TRUE(ctx.send("dst", msg));
  auto got = ctx.receive("dst");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->header.id, id);
}

TEST(Context, UnknownModuleIsModuleNotFound) {
  context ctx;
  EXPECT_EQ(ctx.send("nobody", new_message()).error(), errc::module_not_found);
  EXPECT_EQ(ctx.receive("nobody").error(), errc::module_not_found);
  EXPECT_EQ(ctx.send_sync("nobody", new_message(), 1s).error(), errc::module_not_found);
  EXPECT_EQ(ctx.add_module_group("nobody", "g").error(), errc::module_not_found);
  EXPECT_EQ(ctx.cleanup("nobody").error(), errc::module_not_found);
}

TEST(Context, UnknownGroupIsGroupNotFound) {
  context ctx;
  EXPECT_EQ(ctx.send_to_group("none", new_message()).error(), errc::group_not_found);
  EXPECT_EQ(ctx.send_to_group_sync("none", new_message(), 1s).error(), errc::group_not_found);
}

TEST(Context, SendSyncRoundTripThroughChannel) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(info("echo")));
  auto echo = std::async(std::launch::async, [&] {
    auto req = ctx.receive_for("echo", watchdog);
    if (!req) return req.error();
    EXPECT_TRUE(req->header.sync);
    auto r = ctx.send_resp(new_resp_by_message(*req, "pong"));
    return r ? std::error_code{} : r.error();
  });
  auto req = new_message().fill_body("ping");
  auto reply = ctx.send_sync("echo", req, watchdog);
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->header.parent_id, req.header.id);
  EXPECT_EQ(reply->content_data().value_or(""), "pong");
  EXPECT_FALSE(echo.get());
}

TEST(Context, CleanupKeepsRoutingSoSendIsChannelClosed) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(info("m")));
  ASSERT_TRUE(ctx.add_module_group("m", "g"));
  ASSERT_TRUE(ctx.cleanup("m"));
  EXPECT_EQ(ctx.send("m", new_message()).error(), errc::channel_closed);
  EXPECT_EQ(ctx.receive("m").error(), errc::channel_closed);
  EXPECT_TRUE(ctx.modules().empty());
  EXPECT_TRUE(ctx.groups().empty());
  EXPECT_EQ(ctx.module_type("m"), "channel");
  // Added again, it is live and reachable again.
  ASSERT_TRUE(ctx.add_module(info("m")));
  ASSERT_TRUE(ctx.add_module_group("m", "g"));
  EXPECT_TRUE(ctx.send("m", new_message()));
  EXPECT_EQ(ctx.modules(), std::vector<std::string>{"m"});
}

TEST(Context, ModulesAndGroupsAreListedSorted) {
  context ctx;
  for (const char* name : {"b", "a", "c"}) ASSERT_TRUE(ctx.add_module(info(name)));
  ASSERT_TRUE(ctx.add_module_group("c", "g1"));
  ASSERT_TRUE(ctx.add_module_group("a", "g1"));
  ASSERT_TRUE(ctx.add_module_group("b", "g2"));
  EXPECT_EQ(ctx.modules(), (std::vector<std::string>{"a", "b", "c"}));
  const auto groups = ctx.groups();
  ASSERT_EQ(groups.size(), 2U);
  EXPECT_EQ(groups.at("g1"), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(groups.at("g2"), (std::vector<std::string>{"b"}));
}

TEST_F(ContextWithFake, ModuleCallsGoToTheModulesEndpoint) {
  ASSERT_TRUE(ctx.add_module(info("local")));
  ASSERT_TRUE(ctx.add_module(info("remote", "fake")));
  EXPECT_EQ(ctx.module_type("remote"), "fake");
  EXPECT_EQ(fake->made(), 1);

  ASSERT_TRUE(ctx.send("remote", new_message()));
  auto reply = ctx.send_sync("remote", new_message(), 1s);
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->content_data().value_or(""), "fake reply");
  EXPECT_EQ(fake->pushes_to("remote"), 2U);
  // A module of another process cannot be received from here.
  EXPECT_EQ(ctx.receive("remote").error(), errc::module_not_found);
  EXPECT_EQ(ctx.stats("remote").error(), errc::module_not_found);

  // The channel module is not routed to the fake.
  ASSERT_TRUE(ctx.send("local", new_message()));
  EXPECT_EQ(fake->pushes_to("local"), 0U);
  auto stats = ctx.stats("local");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->queued, 1U);

  ASSERT_TRUE(ctx.cleanup("remote"));
  EXPECT_EQ(fake->closes(), 1);
  EXPECT_EQ(fake->removed(), std::vector<std::string>{"remote"});
  // After cleanup the module's endpoint answers channel_closed.
  EXPECT_EQ(ctx.send("remote", new_message()).error(), errc::channel_closed);
}

TEST_F(ContextWithFake, GroupCallsReachMembersOfEveryType) {
  ASSERT_TRUE(ctx.add_module(info("local")));
  ASSERT_TRUE(ctx.add_module_group("local", "g"));
  ASSERT_TRUE(ctx.add_module(info("remote", "fake")));
  ASSERT_TRUE(ctx.add_module_group("remote", "g"));
  EXPECT_EQ(fake->grouped(), std::vector<std::string>{"remote@g"});
  EXPECT_EQ(ctx.groups().at("g"), (std::vector<std::string>{"local", "remote"}));

  auto d = ctx.send_to_group("g", new_message().fill_body("all"));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->delivered, 2U);
  EXPECT_TRUE(d->failed.empty());
  ASSERT_EQ(fake->pushes_to("remote"), 1U);
  EXPECT_EQ(fake->pushes().back().how, detail::delivery::group);
  auto got = ctx.receive_for("local", watchdog);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->content_data().value_or(""), "all");

  // Sync: the local member answers, the fake answers for its member; one request id each.
  auto local = std::async(std::launch::async, [&] {
    auto req = ctx.receive_for("local", watchdog);
    if (!req) return std::string("<none>");
    EXPECT_TRUE(ctx.send_resp(new_resp_by_message(*req, "local reply")));
    return std::string(req->header.id);
  });
  auto request = new_message();
  const std::string id(request.header.id);
  auto replies = ctx.send_to_group_sync("g", std::move(request), watchdog);
  ASSERT_TRUE(replies) << replies.error().message();
  const auto local_id = local.get();
  EXPECT_TRUE(replies->complete());
  ASSERT_EQ(replies->replies.size(), 2U);
  std::set<std::string> bodies;
  for (const auto& r : replies->replies) {
    bodies.insert(r.content_data().value_or(""));
    EXPECT_EQ(std::string(r.header.parent_id), id);  // the caller's id, as in Go
  }
  EXPECT_EQ(bodies, (std::set<std::string>{"local reply", "fake reply"}));
  // Each member had its own request id.
  EXPECT_NE(std::string(fake->pushes().back().msg.header.id), local_id);
}

TEST_F(ContextWithFake, GroupOfOneTypeIsNotSentToOthers) {
  ASSERT_TRUE(ctx.add_module(info("remote", "fake")));
  ASSERT_TRUE(ctx.add_module_group("remote", "far"));
  ASSERT_TRUE(ctx.add_module(info("local")));
  ASSERT_TRUE(ctx.add_module_group("local", "near"));

  auto d = ctx.send_to_group("far", new_message());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->delivered, 1U);
  EXPECT_EQ(ctx.stats("local")->queued, 0U);

  auto n = ctx.send_to_group("near", new_message());
  ASSERT_TRUE(n);
  EXPECT_EQ(n->delivered, 1U);
  EXPECT_EQ(fake->pushes().size(), 1U);
  EXPECT_EQ(ctx.send_to_group("nowhere", new_message()).error(), errc::group_not_found);
}

TEST_F(ContextWithFake, SendRespUsesTheOneReplyTableWhateverTheType) {
  // A waiter of this process gets a reply whose header names the fake type.
  ASSERT_TRUE(ctx.add_module(info("local")));
  auto responder = std::async(std::launch::async, [&] {
    auto req = ctx.receive_for("local", watchdog);
    if (!req) return false;
    auto resp = new_resp_by_message(*req, "typed");
    resp.header.type = "fake";
    return ctx.send_resp(std::move(resp)).has_value();
  });
  auto reply = ctx.send_sync("local", new_message(), watchdog);
  ASSERT_TRUE(reply);
  EXPECT_TRUE(responder.get());

  // Nobody waits: an orphan, counted.
  auto local = new_message("parent-2");
  EXPECT_EQ(ctx.send_resp(local).error(), errc::orphan_response);
  EXPECT_EQ(ctx.orphan_responses(), 1U);

  auto unknown = new_message("parent-3");
  unknown.header.type = "carrier-pigeon";
  EXPECT_EQ(ctx.send_resp(unknown).error(), errc::unsupported_type);
}

TEST_F(ContextWithFake, ReaddingUnderAnotherTypeMovesTheRouteAndCountsWhatWasQueued) {
  ASSERT_TRUE(ctx.add_module(info("m")));
  ASSERT_TRUE(ctx.send("m", new_message()));
  ASSERT_TRUE(ctx.cleanup("m"));
  ASSERT_TRUE(ctx.add_module(info("m", "fake")));
  ASSERT_TRUE(ctx.send("m", new_message()));
  EXPECT_EQ(fake->pushes_to("m"), 1U);
  EXPECT_EQ(ctx.module_type("m"), "fake");
}

TEST_F(ContextWithFake, PeersAddedByTheTypeAreRoutedAndRemoved) {
  auto* host = fake->host();
  ASSERT_NE(host, nullptr);
  auto ep = std::make_shared<fake_context_type::fake_endpoint>("peer", *fake);
  ASSERT_TRUE(host->add_peer("peer", ep, {"peers", "peer"}));
  EXPECT_EQ(ctx.module_type("peer"), "fake");
  EXPECT_EQ(ctx.groups().at("peers"), std::vector<std::string>{"peer"});
  ASSERT_TRUE(ctx.send("peer", new_message()));
  EXPECT_EQ(fake->pushes_to("peer"), 1U);
  // A name owned by a channel module is refused.
  ASSERT_TRUE(ctx.add_module(info("mine")));
  auto other = std::make_shared<fake_context_type::fake_endpoint>("mine", *fake);
  EXPECT_EQ(host->add_peer("mine", other, {}).error(), errc::already_exists);
  // Removal only by the endpoint that is registered.
  host->remove_peer("peer", *other);
  EXPECT_TRUE(ctx.has_module("peer"));
  host->remove_peer("peer", *ep);
  EXPECT_FALSE(ctx.has_module("peer"));
  // Still routed to its endpoint, which says why (the fake answers as it is: accepted).
  EXPECT_EQ(ctx.module_type("peer"), "fake");
  // Joining again replaces the endpoint.
  auto again = std::make_shared<fake_context_type::fake_endpoint>("peer", *fake);
  ASSERT_TRUE(host->add_peer("peer", again, {}));
  EXPECT_TRUE(ctx.has_module("peer"));
  EXPECT_TRUE(ctx.groups().empty() || ctx.groups().count("peers") == 0);
  // What the host delivers from outside goes to the module's endpoint.
  ASSERT_TRUE(host->deliver("mine", new_message(), detail::delivery::direct));
  EXPECT_EQ(ctx.stats("mine")->queued, 1U);
  EXPECT_EQ(host->deliver("nobody", new_message(), detail::delivery::direct).error(),
            errc::module_not_found);
}

TEST(Context, ContextsAreIndependent) {
  // More contexts than a thread's routing cache holds, used alternately from one thread.
  std::vector<std::unique_ptr<context>> contexts;
  for (int i = 0; i < 6; ++i) {
    contexts.push_back(std::make_unique<context>());
    ASSERT_TRUE(contexts.back()->add_module(info("m")));
  }
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < contexts.size(); ++i) {
      for (std::size_t k = 0; k <= i; ++k) ASSERT_TRUE(contexts[i]->send("m", new_message()));
    }
  }
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    EXPECT_EQ(contexts[i]->stats("m")->queued, 3 * (i + 1)) << "context " << i;
  }
  // A module of one context is unknown to another, and cancelling one leaves the others alone.
  context other;
  EXPECT_EQ(other.send("m", new_message()).error(), errc::module_not_found);
  contexts[0]->cancel();
  EXPECT_TRUE(contexts[0]->cancelled());
  EXPECT_FALSE(contexts[1]->cancelled());
  EXPECT_FALSE(other.cancelled());
}

TEST(Context, NewContextAtAReusedAddressDoesNotSeeOldRoutes) {
  auto first = std::make_unique<context>();
  ASSERT_TRUE(first->add_module(info("old")));
  ASSERT_TRUE(first->send("old", new_message()));  // caches the routing on this thread
  first.reset();
  auto second = std::make_unique<context>();
  EXPECT_EQ(second->send("old", new_message()).error(), errc::module_not_found);
}

TEST(Context, RoutingChangesAreSeenByAThreadThatCachedTheOldRouting) {
  context ctx;
  auto fake = std::make_shared<fake_context_type>();
  EXPECT_EQ(ctx.send("m", new_message()).error(), errc::module_not_found);
  ASSERT_TRUE(ctx.add_module(info("m")));
  EXPECT_TRUE(ctx.send("m", new_message()));
  ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
  ASSERT_TRUE(ctx.add_module(info("r", "fake")));
  EXPECT_TRUE(ctx.send("r", new_message()));
  EXPECT_EQ(fake->pushes_to("r"), 1U);
}

TEST(Context, ManyModulesEachReachTheirOwnInbox) {
  context ctx;
  auto fake = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
  constexpr int n = 1000;
  // Names of every length up to 20 bytes, sharing long prefixes.
  auto name = [](int i) {
    return std::string(static_cast<std::size_t>(i % 17), 'x') + "m" + std::to_string(i);
  };
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(ctx.add_module(info(name(i), i % 2 == 0 ? "channel" : "fake")));
  }
  for (int i = 0; i < n; ++i) ASSERT_TRUE(ctx.send(name(i), new_message())) << name(i);
  for (int i = 0; i < n; i += 2) {
    EXPECT_EQ(ctx.stats(name(i))->queued, 1U) << name(i);
  }
  EXPECT_EQ(fake->pushes().size(), static_cast<std::size_t>(n / 2));
  EXPECT_EQ(ctx.send("m" + std::to_string(n), new_message()).error(), errc::module_not_found);
  EXPECT_EQ(ctx.send("x", new_message()).error(), errc::module_not_found);
}

TEST(Context, ConcurrentSendsWhileModulesAreAdded) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(info("sink", "channel", 100000)));
  constexpr int senders = 3;
  constexpr int per_sender = 2000;
  std::vector<std::future<int>> results;
  for (int s = 0; s < senders; ++s) {
    results.push_back(std::async(std::launch::async, [&] {
      int ok = 0;
      for (int i = 0; i < per_sender; ++i) ok += ctx.send("sink", new_message()) ? 1 : 0;
      return ok;
    }));
  }
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(ctx.add_module(info("m" + std::to_string(i))));
  int total = 0;
  for (auto& r : results) total += r.get();
  EXPECT_EQ(total, senders * per_sender);
  EXPECT_EQ(ctx.modules().size(), 201U);
}

TEST(Context, CancelSignalsTheStopToken) {
  context ctx;
  auto token = ctx.stop_token();
  EXPECT_FALSE(ctx.cancelled());
  EXPECT_FALSE(token.stop_requested());
  ctx.cancel();
  EXPECT_TRUE(ctx.cancelled());
  EXPECT_TRUE(token.stop_requested());
  ctx.cancel();  // idempotent
  EXPECT_TRUE(ctx.cancelled());
}

TEST(Context, DefaultContextIsOneInstance) {
  EXPECT_EQ(&default_context(), &default_context());
  EXPECT_TRUE(default_context().has_type("channel"));
}

}  // namespace
}  // namespace beehive
