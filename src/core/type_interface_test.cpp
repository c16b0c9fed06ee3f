// SPDX-License-Identifier: Apache-2.0
// The type interface, proven through a complete third type (tests/support/fake_context_type.hpp,
// a fake remote type): peers that come and go, a slow link with relay flow control, a connect
// that takes time, presence. The core knows nothing of this type: it is installed under a name
// of the test's choosing and reached only through context_type, type_host and endpoint.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "beehive/context.hpp"
#include "bounded_wait.hpp"
#include "channel_module.hpp"
#include "core/context_state.hpp"
#include "fake_context_type.hpp"
#include "type/context_type.hpp"
#include "type/endpoint.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using detail::delivery;
using detail::endpoint_state;
using test::fake_context_type;
using test::get_bounded;
using test::mod;

module_info of_type(std::string name, std::string type, std::size_t capacity = 1024) {
  auto i = mod(std::move(name), capacity);
  i.type = std::move(type);
  return i;
}

fake_context_type::options slow_link(std::size_t capacity) {
  fake_context_type::options o;
  o.slow_link = true;
  o.link_capacity = capacity;
  return o;
}

// Relay flow control: a full link answers would_block and leaves the message to the caller;
// when_writable fires once the link drained; the retried push goes through. Nothing is lost.
TEST(TypeInterface, ASlowLinkPushesBackOnRelayAndSaysWhenWritable) {
  context ctx;
  auto remote = std::make_shared<fake_context_type>(slow_link(2));
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_TRUE(ctx.add_module(of_type("far", "remote")));
  auto ep = remote->endpoint_of("far");
  ASSERT_NE(ep, nullptr);
  auto* host = remote->host();
  EXPECT_EQ(ep->room(), 2U);
  ASSERT_TRUE(host->deliver("far", new_message().set_destination("1"), delivery::relay));
  ASSERT_TRUE(host->deliver("far", new_message().set_destination("2"), delivery::relay));
  EXPECT_EQ(ep->room(), 0U);
  message third = new_message().set_destination("3");
  auto r = host->deliver("far", std::move(third), delivery::relay);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::would_block);
  EXPECT_EQ(third.route.destination.str(), "3");  // left to the caller
  // A direct send meets the bound as its policy says (the fake: queue_full).
  EXPECT_EQ(ctx.send("far", new_message()).error(), errc::queue_full);
  std::atomic<int> writable{0};
  ASSERT_TRUE(ep->when_writable([&] { ++writable; }));
  EXPECT_EQ(writable.load(), 0);
  EXPECT_EQ(ep->pump(1), 1U);
  EXPECT_EQ(writable.load(), 1);
  ASSERT_TRUE(host->deliver("far", std::move(third), delivery::relay));
  // Room already: when_writable does not keep the callback.
  EXPECT_EQ(ep->pump(10), 2U);
  EXPECT_FALSE(ep->when_writable([&] { ++writable; }));
  std::vector<std::string> wire;
  for (const auto& p : remote->pushes()) wire.push_back(p.msg.route.destination.str());
  EXPECT_EQ(wire, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(writable.load(), 1);
}

// A closing endpoint fires a pending when_writable: the retry hears why (channel_closed).
TEST(TypeInterface, WhenWritableFiresOnCloseAndTheRetryFails) {
  context ctx;
  auto remote = std::make_shared<fake_context_type>(slow_link(1));
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_TRUE(ctx.add_module(of_type("far", "remote")));
  auto ep = remote->endpoint_of("far");
  ASSERT_TRUE(ctx.send("far", new_message()));
  std::atomic<bool> fired{false};
  ASSERT_TRUE(ep->when_writable([&] { fired = true; }));
  ASSERT_TRUE(ctx.cleanup("far"));
  EXPECT_TRUE(fired.load());
  EXPECT_EQ(ep->state(), endpoint_state::closed);
  EXPECT_EQ(remote->host()->deliver("far", new_message(), delivery::relay).error(),
            errc::channel_closed);
}

// A connect that takes time: add_module returns at once with the endpoint connecting; sends
// wait in its bounded queue (then queue_full) and go out in order once it is ready.
TEST(TypeInterface, AConnectThatTakesTimeDoesNotBlockAddModule) {
  context ctx;
  fake_context_type::options o;
  o.slow_connect = true;
  o.link_capacity = 3;
  auto remote = std::make_shared<fake_context_type>(o);
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_TRUE(ctx.add_module(of_type("far", "remote")));
  EXPECT_TRUE(ctx.has_module("far"));
  auto ep = remote->endpoint_of("far");
  EXPECT_EQ(ep->state(), endpoint_state::connecting);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ctx.send("far", new_message().set_destination(std::to_string(i))));
  }
  EXPECT_EQ(ctx.send("far", new_message()).error(), errc::queue_full);
  EXPECT_EQ(remote->pushes().size(), 0U);
  // A sync request waits as well; it is answered once the link is up.
  auto sync =
      std::async(std::launch::async, [&] { return ctx.send_sync("far", new_message(), 20s); });
  ep->finish_connect();
  EXPECT_EQ(ep->state(), endpoint_state::ready);
  // The sync request found the queue full (before) or went out (after): either way it ends.
  auto r = get_bounded(sync);
  if (!r) {
    EXPECT_EQ(r.error(), errc::queue_full);
  }
  std::vector<std::string> wire;
  for (const auto& p : remote->pushes()) wire.push_back(p.msg.route.destination.str());
  ASSERT_GE(wire.size(), 3U);
  EXPECT_EQ(std::vector<std::string>(wire.begin(), wire.begin() + 3),
            (std::vector<std::string>{"0", "1", "2"}));
}

TEST(TypeInterface, APolicyMayRefusePushesWhileConnecting) {
  context ctx;
  fake_context_type::options o;
  o.slow_connect = true;
  o.refuse_while_connecting = true;
  auto remote = std::make_shared<fake_context_type>(o);
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_TRUE(ctx.add_module(of_type("far", "remote")));
  EXPECT_EQ(ctx.send("far", new_message()).error(), errc::not_connected);
  remote->endpoint_of("far")->finish_connect();
  EXPECT_TRUE(ctx.send("far", new_message()));
  EXPECT_EQ(remote->pushes_to("far"), 1U);
}

// Peers come and go while the context's own modules send to them and to groups they join.
TEST(TypeInterface, PeersThatComeAndGoAreRoutedAndSayWhyWhenGone) {
  context ctx;
  auto remote = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_TRUE(ctx.add_module(mod("local")));
  ASSERT_TRUE(ctx.add_module_group("local", "all"));
  auto codes = remote->announce({"p1", "p2", "local"}, {"all"});
  EXPECT_FALSE(codes[0]);
  EXPECT_FALSE(codes[1]);
  EXPECT_EQ(codes[2], errc::already_exists);  // a live channel module keeps its name
  EXPECT_EQ(ctx.module_type("p1"), "remote");
  auto d = ctx.send_to_group("all", new_message());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->delivered, 3U);
  auto reply = ctx.send_sync("p2", new_message(), 20s);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->content_data().value_or(""), "fake reply");
  ASSERT_FALSE(remote->withdraw({"p1"})[0]);
  // Gone: out of the group and the module list; its endpoint answers (closed: the fake's).
  EXPECT_FALSE(ctx.has_module("p1"));
  d = ctx.send_to_group("all", new_message());
  EXPECT_EQ(d->delivered, 2U);
  // Back with a new endpoint: the old one is discarded.
  const int discards = remote->discards();
  ASSERT_FALSE(remote->announce({"p1"})[0]);
  EXPECT_TRUE(ctx.has_module("p1"));
  EXPECT_EQ(remote->discards(), discards + 1);
}

// Replacing a live peer's endpoint discards the old one: what it still held is counted as
// dropped, and a sync request queued on it wakes its caller (channel_closed) at once.
TEST(TypeInterface, ReplacingAPeerDiscardsTheOldEndpoint) {
  context ctx;
  auto remote = std::make_shared<fake_context_type>(slow_link(4));
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_FALSE(remote->announce({"p"}, {"g"})[0]);
  auto sync =
      std::async(std::launch::async, [&] { return ctx.send_sync("p", new_message(), 600s); });
  ASSERT_TRUE(test::eventually([&] { return remote->endpoint_of("p")->room() == 3; }));
  ASSERT_FALSE(remote->announce({"p"}, {"g"})[0]);  // a new connection of the same peer
  auto r = get_bounded(sync);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::channel_closed);
  EXPECT_EQ(remote->discards(), 1);
  // The group reaches the new endpoint.
  ASSERT_TRUE(ctx.send_to_group("g", new_message()));
  EXPECT_EQ(remote->endpoint_of("p")->room(), 3U);
}

// The type is told of everything through presence: its own modules, the channel's, peers.
TEST(TypeInterface, PresenceSeesEveryKindOfModule) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("before")));
  auto remote = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_TRUE(ctx.add_module(of_type("mine", "remote")));
  ASSERT_FALSE(remote->announce({"peer"})[0]);
  ASSERT_TRUE(ctx.add_module(mod("after")));
  std::vector<std::string> added;
  for (const auto& e : remote->presence_events()) {
    if (e.kind == detail::presence_kind::added) added.push_back(e.module + "/" + e.type);
  }
  EXPECT_EQ(added, (std::vector<std::string>{"before/channel", "mine/remote", "peer/remote",
                                             "after/channel"}));
}

// The default type comes from one constant the registry is given, not a name it knows.
TEST(TypeInterface, TheRegistryHasNoTypeNameOfItsOwn) {
  detail::registry reg("remote-default");
  auto remote = std::make_shared<fake_context_type>();
  ASSERT_TRUE(reg.reserve_type("remote-default", remote));
  reg.publish_type("remote-default");
  module_info i = mod("m");
  i.type.clear();
  std::vector<message> dropped;
  ASSERT_TRUE(reg.add_module(i, dropped));
  EXPECT_EQ(reg.module_type("m"), "remote-default");
  EXPECT_EQ(remote->made(), 1);
  i.type = "channel";  // not installed in this registry: no name is special
  i.name = "c";
  EXPECT_EQ(reg.add_module(i, dropped).error(), errc::unsupported_type);
}

// install_type: the type is attached before anyone can name it.
TEST(TypeInterface, ATypeIsInvisibleUntilAttached) {
  context ctx;
  struct probing final : detail::context_type {
    explicit probing(context& c) : ctx(c) {}
    void attach(detail::type_host& h) override {
      visible_in_attach = ctx.has_type("probe");
      add_in_attach = ctx.add_module(of_type("early", "probe")).has_value();
      host = &h;
    }
    expected<std::shared_ptr<detail::endpoint>> make_endpoint(const module_info& info) override {
      if (host == nullptr) ++made_before_attach;
      return std::make_shared<test::fake_context_type::fake_endpoint>(info.name, *fake);
    }
    void stop() override { host = nullptr; }
    context& ctx;
    detail::type_host* host = nullptr;
    bool visible_in_attach = true;
    bool add_in_attach = true;
    int made_before_attach = 0;
    std::shared_ptr<fake_context_type> fake = std::make_shared<fake_context_type>();
  };
  auto t = std::make_shared<probing>(ctx);
  ASSERT_TRUE(detail::install_type(ctx, "probe", t));
  EXPECT_FALSE(t->visible_in_attach);
  EXPECT_FALSE(t->add_in_attach);
  EXPECT_EQ(t->made_before_attach, 0);
  EXPECT_TRUE(ctx.has_type("probe"));
  EXPECT_TRUE(ctx.add_module(of_type("late", "probe")));
  // The name stays taken while it attaches, and after.
  EXPECT_EQ(detail::install_type(ctx, "probe", std::make_shared<fake_context_type>()).error(),
            errc::already_exists);
}

}  // namespace
}  // namespace beehive

namespace beehive {
namespace {

// The host's side of relay flow control, on a channel inbox: a relay into a full inbox answers
// would_block and leaves the message; the host's when_writable fires once the receiver took
// one; the retry goes through. An unknown name has nothing to wait for.
TEST(TypeInterface, TheHostSaysWhenAFullInboxHasRoomAgain) {
  context ctx;
  auto remote = std::make_shared<test::fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_TRUE(ctx.add_module(test::mod("near", 1)));
  auto* host = remote->host();
  ASSERT_TRUE(host->deliver("near", new_message().set_destination("1"), detail::delivery::relay));
  message second = new_message().set_destination("2");
  auto r = host->deliver("near", std::move(second), detail::delivery::relay);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::would_block);
  EXPECT_EQ(second.route.destination, "2");  // left to the caller
  std::atomic<int> fired{0};
  ASSERT_TRUE(host->when_writable("near", [&] { ++fired; }));
  EXPECT_EQ(fired.load(), 0);
  ASSERT_TRUE(ctx.receive("near"));
  EXPECT_EQ(fired.load(), 1);
  ASSERT_TRUE(host->deliver("near", std::move(second), detail::delivery::relay));
  EXPECT_EQ(ctx.stats("near")->accepted, 2U);
  EXPECT_FALSE(host->when_writable("nobody", [&] { ++fired; }));
  EXPECT_EQ(fired.load(), 1);
}

// A group send hands each member's endpoint the call (endpoint::push_group): the group's name,
// one id per call (the same for every member of it), the member's place and the call's size.
// A type that carries one message to several members at once (nats) relies on it.
TEST(TypeInterface, EachMemberOfAGroupSendHearsTheCall) {
  context ctx;
  auto remote = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "remote", remote));
  ASSERT_TRUE(ctx.add_module(of_type("far1", "remote")));
  ASSERT_TRUE(ctx.add_module(of_type("far2", "remote")));
  ASSERT_TRUE(ctx.add_module(mod("near")));
  for (const char* m : {"far1", "near", "far2"}) ASSERT_TRUE(ctx.add_module_group(m, "g"));
  for (int i = 0; i < 2; ++i) {
    auto r = ctx.send_to_group("g", new_message().set_destination(std::to_string(i)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->delivered, 3U);
  }
  const auto calls = remote->group_calls();
  ASSERT_EQ(calls.size(), 4U);  // two calls, two remote members each
  std::set<std::size_t> places;
  for (const auto& c : calls) {
    EXPECT_EQ(c.group, "g");
    EXPECT_EQ(c.count, 3U);
    EXPECT_LT(c.index, 3U);
    EXPECT_NE(c.id, 0U);
    places.insert(c.index);
  }
  EXPECT_EQ(places.size(), 2U);  // the two remote members' places, the same in both calls
  EXPECT_EQ(calls[0].id, calls[1].id);
  EXPECT_EQ(calls[2].id, calls[3].id);
  EXPECT_NE(calls[0].id, calls[2].id);
  EXPECT_NE(calls[0].module, calls[1].module);
  // The local member got both through its inbox, as before.
  EXPECT_TRUE(ctx.receive_for("near", 1s));
  EXPECT_TRUE(ctx.receive_for("near", 1s));
  EXPECT_EQ(remote->pushes_to("far1"), 2U);
  EXPECT_EQ(remote->pushes_to("far2"), 2U);
}

}  // namespace
}  // namespace beehive
