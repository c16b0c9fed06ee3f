// SPDX-License-Identifier: Apache-2.0
#include "core/name_map.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace beehive::detail {
namespace {

TEST(NameMap, EmptyFindsNothing) {
  name_map<int> m;
  EXPECT_EQ(m.find("a"), nullptr);
  EXPECT_EQ(m.find(""), nullptr);
  EXPECT_FALSE(m.erase("a"));
  EXPECT_EQ(m.size(), 0U);
}

TEST(NameMap, AssignReplacesAndEraseRemoves) {
  name_map<int> m;
  m.assign("a", 1);
  m.assign("b", 2);
  m.assign("a", 3);
  EXPECT_EQ(m.size(), 2U);
  ASSERT_NE(m.find("a"), nullptr);
  EXPECT_EQ(*m.find("a"), 3);
  EXPECT_EQ(*m.find("b"), 2);
  EXPECT_TRUE(m.erase("a"));
  EXPECT_EQ(m.find("a"), nullptr);
  EXPECT_FALSE(m.erase("a"));
  EXPECT_EQ(*m.find("b"), 2);
  EXPECT_TRUE(m.erase("b"));
  EXPECT_EQ(m.size(), 0U);
  EXPECT_EQ(m.find("b"), nullptr);
}

// Persistence: a copy taken before a change never sees it, and the change never sees later
// changes of the copy.
TEST(NameMap, ACopyIsASnapshot) {
  name_map<int> m;
  for (int i = 0; i < 1000; ++i) m.assign("m" + std::to_string(i), i);
  const name_map<int> before = m;
  for (int i = 0; i < 1000; i += 2) ASSERT_TRUE(m.erase("m" + std::to_string(i)));
  m.assign("m1", -1);
  for (int i = 0; i < 1000; ++i) {
    const auto* v = before.find("m" + std::to_string(i));
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(*v, i);
  }
  EXPECT_EQ(*m.find("m1"), -1);
  EXPECT_EQ(m.find("m2"), nullptr);
  EXPECT_EQ(before.size(), 1000U);
  EXPECT_EQ(m.size(), 500U);
}

// Against std::map under random adds and removes, down to empty and back.
TEST(NameMap, MatchesAnOrderedMapUnderRandomChanges) {
  std::mt19937 rng(11);
  name_map<int> m;
  std::map<std::string, int> ref;
  for (int step = 0; step < 40000; ++step) {
    const std::string k = "k" + std::to_string(rng() % 3000);
    if (rng() % 3 == 0) {
      EXPECT_EQ(m.erase(k), ref.erase(k) == 1);
    } else {
      m.assign(k, step);
      ref[k] = step;
    }
    ASSERT_EQ(m.size(), ref.size());
  }
  for (int i = 0; i < 3000; ++i) {
    const std::string k = "k" + std::to_string(i);
    const auto* v = m.find(k);
    auto it = ref.find(k);
    ASSERT_EQ(v != nullptr, it != ref.end()) << k;
    if (v != nullptr) {
      EXPECT_EQ(*v, it->second);
    }
  }
  std::size_t seen = 0;
  m.for_each([&](std::string_view k, int v) {
    ++seen;
    EXPECT_EQ(ref.at(std::string(k)), v);
  });
  EXPECT_EQ(seen, ref.size());
  for (const auto& [k, v] : ref) ASSERT_TRUE(m.erase(k));
  EXPECT_EQ(m.size(), 0U);
}

// `keep` owns what a value points to, as long as some version of the map holds the entry.
TEST(NameMap, KeepOwnsTheValueWhileAVersionHoldsIt) {
  auto obj = std::make_shared<int>(7);
  std::weak_ptr<int> watch = obj;
  name_map<int*> m;
  m.assign("x", obj.get(), obj);
  obj.reset();
  auto copy = m;
  ASSERT_TRUE(m.erase("x"));
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(**copy.find("x"), 7);
  copy = name_map<int*>();
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace beehive::detail
