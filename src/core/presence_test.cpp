// SPDX-License-Identifier: Apache-2.0
// Presence: every change of the registry reaches every attached type as presence events, in
// order, one thread at a time, outside the registry's locks; a new type first hears a snapshot.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "beehive/context.hpp"
#include "bounded_wait.hpp"
#include "channel_module.hpp"
#include "core/context_state.hpp"
#include "fake_context_type.hpp"
#include "type/context_type.hpp"

namespace beehive {
namespace {

using detail::presence_event;
using detail::presence_kind;
using test::fake_context_type;
using test::get_bounded;
using test::mod;

// One event as a short string: "+m:type", "-m:type", "m@g", "m!g" (ungrouped); "*" for a peer.
std::string str(const presence_event& e) {
  std::string s;
  switch (e.kind) {
    case presence_kind::added:
      s = "+" + e.module + ":" + e.type;
      break;
    case presence_kind::removed:
      s = "-" + e.module + ":" + e.type;
      break;
    case presence_kind::grouped:
      s = e.module + "@" + e.group;
      break;
    case presence_kind::ungrouped:
      s = e.module + "!" + e.group;
      break;
  }
  return e.peer ? s + "*" : s;
}
std::vector<std::string> strs(const std::vector<presence_event>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(str(e));
  return out;
}

module_info of_type(std::string name, std::string type) {
  auto i = mod(std::move(name));
  i.type = std::move(type);
  return i;
}

TEST(Presence, ANewTypeFirstHearsWhatExists) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("a")));
  ASSERT_TRUE(ctx.add_module(mod("b")));
  ASSERT_TRUE(ctx.add_module_group("a", "g"));
  ASSERT_TRUE(ctx.add_module(mod("gone")));
  ASSERT_TRUE(ctx.cleanup("gone"));
  auto fake = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
  EXPECT_EQ(fake->presence_batches(), 1);
  auto got = strs(fake->presence_events());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"+a:channel", "+b:channel", "a@g"}));
}

TEST(Presence, EveryChangeOfEveryTypeInOrder) {
  context ctx;
  auto fake = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
  ASSERT_TRUE(ctx.add_module(mod("a")));
  ASSERT_TRUE(ctx.add_module_group("a", "g"));
  ASSERT_TRUE(ctx.add_module_group("a", "g"));  // already in: no event
  ASSERT_TRUE(ctx.add_module_group("a", "h"));
  ASSERT_TRUE(ctx.add_module(of_type("r", "fake")));
  ASSERT_TRUE(ctx.add_module_group("r", "g"));
  ASSERT_TRUE(ctx.cleanup("a"));
  ASSERT_TRUE(ctx.cleanup("a"));          // already cleaned up: no event
  ASSERT_TRUE(ctx.add_module(mod("a")));  // reopened
  EXPECT_EQ(strs(fake->presence_events()),
            (std::vector<std::string>{"+a:channel", "a@g", "a@h", "+r:fake", "r@g", "a!h", "a!g",
                                      "-a:channel", "+a:channel"}));
  EXPECT_EQ(fake->grouped(), std::vector<std::string>{"r@g"});
  ASSERT_TRUE(ctx.cleanup("r"));
  EXPECT_EQ(fake->removed(), std::vector<std::string>{"r"});
}

TEST(Presence, PeersComeAndGoInBatches) {
  context ctx;
  auto fake = std::make_shared<fake_context_type>();
  auto other = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
  ASSERT_TRUE(detail::install_type(ctx, "other", other));
  const int before = other->presence_batches();
  auto codes = fake->announce({"p1", "p2", "p3"}, {"edge"});
  ASSERT_EQ(codes.size(), 3U);
  for (const auto& c : codes) EXPECT_FALSE(c);
  // One batch for the whole announcement, heard by every type.
  EXPECT_EQ(other->presence_batches(), before + 1);
  auto tail = [](const std::vector<presence_event>& v, std::size_t n) {
    return strs(std::vector<presence_event>(v.end() - static_cast<std::ptrdiff_t>(n), v.end()));
  };
  EXPECT_EQ(tail(other->presence_events(), 6),
            (std::vector<std::string>{"+p1:fake*", "p1@edge*", "+p2:fake*", "p2@edge*", "+p3:fake*",
                                      "p3@edge*"}));
  EXPECT_EQ(ctx.groups().at("edge"), (std::vector<std::string>{"p1", "p2", "p3"}));
  codes = fake->withdraw({"p1", "p3", "nobody"});
  EXPECT_FALSE(codes[0]);
  EXPECT_FALSE(codes[1]);
  EXPECT_EQ(codes[2], errc::invalid_argument);  // no endpoint: never announced
  EXPECT_EQ(other->presence_batches(), before + 2);
  EXPECT_EQ(fake->withdraw({"p1"})[0], errc::module_not_found);  // already gone
  EXPECT_EQ(tail(other->presence_events(), 4),
            (std::vector<std::string>{"p1!edge*", "-p1:fake*", "p3!edge*", "-p3:fake*"}));
  EXPECT_EQ(other->presence_batches(), before + 2);  // nothing changed: no batch
  EXPECT_EQ(ctx.groups().at("edge"), std::vector<std::string>{"p2"});
  EXPECT_FALSE(ctx.has_module("p1"));
  EXPECT_TRUE(ctx.has_module("p2"));
}

TEST(Presence, JoinAndLeaveOfAPeer) {
  context ctx;
  auto fake = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
  ASSERT_FALSE(fake->announce({"p"})[0]);
  auto ep = fake->endpoint_of("p");
  auto* host = fake->host();
  std::vector<detail::peer_update> batch{{detail::peer_op::join, "p", ep, {"a", "b"}},
                                         {detail::peer_op::leave, "p", ep, {"a"}},
                                         {detail::peer_op::join, "p", nullptr, {"c"}},
                                         {detail::peer_op::leave, "ghost", ep, {"a"}}};
  auto codes = host->update_peers(batch);
  EXPECT_FALSE(codes[0]);
  EXPECT_FALSE(codes[1]);
  EXPECT_EQ(codes[2], errc::invalid_argument);
  EXPECT_EQ(codes[3], errc::module_not_found);
  EXPECT_EQ(ctx.groups(), (std::map<std::string, std::vector<std::string>>{{"b", {"p"}}}));
  ASSERT_TRUE(ctx.send_to_group("b", new_message()));
  EXPECT_EQ(fake->pushes_to("p"), 1U);
  EXPECT_EQ(ctx.send_to_group("a", new_message()).error(), errc::group_not_found);
}

// A type's presence may change the registry: no deadlock; what that causes comes in a later
// batch, after the current one, still one thread at a time.
TEST(Presence, ATypeMayChangeTheRegistryFromPresence) {
  context ctx;
  auto fake = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
  fake->on_presence([&](std::span<const presence_event> events) {
    for (const auto& e : events) {
      // Every channel module added gets a peer shadow "<name>.remote".
      if (e.kind == presence_kind::added && e.type == "channel") {
        (void)fake->announce({e.module + ".remote"});
      }
    }
  });
  ASSERT_TRUE(ctx.add_module(mod("a")));
  EXPECT_TRUE(ctx.has_module("a.remote"));
  EXPECT_EQ(strs(fake->presence_events()),
            (std::vector<std::string>{"+a:channel", "+a.remote:fake*"}));
  EXPECT_EQ(fake->presence_overlaps(), 0);
}

// Changes from many threads: every type hears the same events in the same order, never two
// threads inside one type's presence at once.
TEST(Presence, ConcurrentChangesReachEveryTypeInOneOrder) {
  context ctx;
  auto t1 = std::make_shared<fake_context_type>();
  auto t2 = std::make_shared<fake_context_type>();
  ASSERT_TRUE(detail::install_type(ctx, "t1", t1));
  ASSERT_TRUE(detail::install_type(ctx, "t2", t2));
  const auto skip = t2->presence_events().size();  // t2's snapshot has nothing; t1 heard none
  ASSERT_EQ(skip, 0U);
  constexpr int threads = 4;
  constexpr int per_thread = 200;
  std::vector<std::future<void>> done;
  for (int t = 0; t < threads; ++t) {
    done.push_back(std::async(std::launch::async, [&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const auto name = "m" + std::to_string(t) + "_" + std::to_string(i);
        (void)ctx.add_module(mod(name));
        (void)ctx.add_module_group(name, "g" + std::to_string(i % 3));
        if (i % 2 == 0) (void)ctx.cleanup(name);
      }
    }));
  }
  for (auto& d : done) get_bounded(d);
  // Every batch was delivered before the last call returned or by a delivery still running:
  // wait (bounded) for the counts, then compare.
  const std::size_t expected = threads * per_thread * 2 + threads * (per_thread / 2) * 2;
  ASSERT_TRUE(test::eventually([&] {
    return t1->presence_events().size() == expected && t2->presence_events().size() == expected;
  }));
  EXPECT_EQ(strs(t1->presence_events()), strs(t2->presence_events()));
  EXPECT_EQ(t1->presence_overlaps(), 0);
  EXPECT_EQ(t2->presence_overlaps(), 0);
}

TEST(Presence, NothingAfterTheContextBeginsToGo) {
  auto fake = std::make_shared<fake_context_type>();
  int stops_seen_in_presence = 0;
  {
    context ctx;
    ASSERT_TRUE(detail::install_type(ctx, "fake", fake));
    ASSERT_TRUE(ctx.add_module(mod("a")));
    fake->on_presence([&](std::span<const presence_event>) {
      if (fake->stops() != 0) ++stops_seen_in_presence;
    });
  }
  EXPECT_EQ(stops_seen_in_presence, 0);
  const auto n = fake->presence_events().size();
  EXPECT_EQ(n, 1U);  // "+a:channel"; the teardown is no presence
}

// A type that still overrides the superseded calls hears them, for its own modules only (not
// peers, not other types'), right after presence.
TEST(Presence, TheSupersededCallsStillReachATypeThatOverridesThem) {
  struct legacy final : detail::context_type {
    void attach(detail::type_host& h) override { host = &h; }
    expected<std::shared_ptr<detail::endpoint>> make_endpoint(const module_info& info) override {
      return std::make_shared<fake_context_type::fake_endpoint>(info.name, *fake);
    }
    void member_grouped(std::string_view m, std::string_view g) override {
      calls.push_back(std::string(m) + "@" + std::string(g));
    }
    void member_removed(std::string_view m) override { calls.push_back("-" + std::string(m)); }
    void stop() override {}
    detail::type_host* host = nullptr;
    std::vector<std::string> calls;
    std::shared_ptr<fake_context_type> fake = std::make_shared<fake_context_type>();
  };
  context ctx;
  auto t = std::make_shared<legacy>();
  ASSERT_TRUE(detail::install_type(ctx, "legacy", t));
  ASSERT_TRUE(ctx.add_module(of_type("l", "legacy")));
  ASSERT_TRUE(ctx.add_module(mod("c")));
  ASSERT_TRUE(ctx.add_module_group("l", "g"));
  ASSERT_TRUE(ctx.add_module_group("c", "g"));
  auto peer = std::make_shared<fake_context_type::fake_endpoint>("p", *t->fake);
  ASSERT_TRUE(t->host->add_peer("p", peer, {"g"}));
  ASSERT_TRUE(ctx.cleanup("c"));
  ASSERT_TRUE(ctx.cleanup("l"));
  EXPECT_EQ(t->calls, (std::vector<std::string>{"l@g", "-l"}));
}

}  // namespace
}  // namespace beehive
