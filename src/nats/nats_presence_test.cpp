// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_presence.hpp"

#include <gtest/gtest.h>

namespace beehive::detail {
namespace {

using kind = presence_change::kind;
using namespace std::chrono_literals;

announced_module mod(std::string name, std::vector<std::string> groups = {}, bool replica = false) {
  announced_module m;
  m.name = std::move(name);
  m.groups = std::move(groups);
  m.replica = replica;
  return m;
}

TEST(NatsPresence, AnnouncementRoundTrips) {
  announcement a{"p1", {mod("a.b *", {"g1", "g2"}), mod("r", {}, true)}};
  a.modules[0].overflow = overflow_policy::fail;
  a.modules[0].block_timeout = 250ms;
  auto back = decode_announcement(encode_announcement(a));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->process, "p1");
  ASSERT_EQ(back->modules.size(), 2U);
  EXPECT_EQ(back->modules[0], a.modules[0]);
  EXPECT_EQ(back->modules[1], a.modules[1]);
}

TEST(NatsPresence, GarbageIsNoAnnouncement) {
  EXPECT_FALSE(decode_announcement("not json"));
  EXPECT_FALSE(decode_announcement("[]"));
  EXPECT_FALSE(decode_announcement(R"({"pid":"","mods":[]})"));
  EXPECT_FALSE(decode_announcement(R"({"pid":"p","mods":[{"n":"a"}]})"));
  EXPECT_FALSE(
      decode_announcement(R"({"pid":"p","mods":[{"n":"a","g":[],"o":9,"bt":0,"r":false}]})"));
}

TEST(NatsPresence, JoinGroupsLeave) {
  presence_table t;
  const auto t0 = presence_table::clock::now();
  auto c = t.heard({"p1", {mod("a")}}, t0);
  ASSERT_EQ(c.size(), 1U);
  EXPECT_EQ(c[0].what, kind::add);
  EXPECT_TRUE(t.hosted("a"));
  // The same heartbeat again changes nothing.
  EXPECT_TRUE(t.heard({"p1", {mod("a")}}, t0).empty());
  c = t.heard({"p1", {mod("a", {"g"})}}, t0);
  ASSERT_EQ(c.size(), 1U);
  EXPECT_EQ(c[0].what, kind::groups);
  EXPECT_EQ(c[0].info.groups, std::vector<std::string>{"g"});
  // A module no longer announced is removed (a clean cleanup).
  c = t.heard({"p1", {mod("b")}}, t0);
  ASSERT_EQ(c.size(), 2U);
  EXPECT_EQ(c[0].what, kind::remove);
  EXPECT_EQ(c[0].info.name, "a");
  EXPECT_FALSE(c[0].expired);
  EXPECT_EQ(c[1].what, kind::add);
  c = t.left("p1");
  ASSERT_EQ(c.size(), 1U);
  EXPECT_EQ(c[0].what, kind::remove);
  EXPECT_FALSE(t.hosted("b"));
  EXPECT_EQ(t.processes(), 0U);
}

TEST(NatsPresence, SilentProcessExpires) {
  presence_table t;
  const auto t0 = presence_table::clock::now();
  (void)t.heard({"p1", {mod("a"), mod("b")}}, t0);
  (void)t.heard({"p2", {mod("c")}}, t0 + 1s);
  EXPECT_TRUE(t.expire(t0 + 1s, 1500ms).empty());
  auto c = t.expire(t0 + 2s, 1500ms);
  ASSERT_EQ(c.size(), 2U);
  for (const auto& x : c) {
    EXPECT_EQ(x.what, kind::remove);
    EXPECT_TRUE(x.expired);
  }
  EXPECT_TRUE(t.hosted("c"));
  EXPECT_FALSE(t.hosted("a"));
  c = t.drop("p2");
  ASSERT_EQ(c.size(), 1U);
  EXPECT_TRUE(c[0].expired);
  EXPECT_FALSE(t.hosted("c"));
}

TEST(NatsPresence, ReplicasAreOneModuleUntilTheLastHostGoes) {
  presence_table t;
  const auto t0 = presence_table::clock::now();
  EXPECT_EQ(t.heard({"p1", {mod("w", {"g1"}, true)}}, t0).size(), 1U);
  auto c = t.heard({"p2", {mod("w", {"g2"}, true)}}, t0);
  ASSERT_EQ(c.size(), 1U);  // no conflict: a replica on both; the groups grew
  EXPECT_EQ(c[0].what, kind::groups);
  EXPECT_EQ(c[0].info.groups, (std::vector<std::string>{"g1", "g2"}));
  EXPECT_EQ(t.hosts("w").size(), 2U);
  EXPECT_TRUE(t.left("p1").empty());
  c = t.left("p2");
  ASSERT_EQ(c.size(), 1U);
  EXPECT_EQ(c[0].what, kind::remove);
}

TEST(NatsPresence, SameNameFromTwoProcessesIsAConflict) {
  presence_table t;
  const auto t0 = presence_table::clock::now();
  (void)t.heard({"p1", {mod("x")}}, t0);
  auto c = t.heard({"p2", {mod("x")}}, t0);
  ASSERT_EQ(c.size(), 1U);
  EXPECT_EQ(c[0].what, kind::conflict);
}

}  // namespace
}  // namespace beehive::detail
