// SPDX-License-Identifier: Apache-2.0
#include "beehive/short_string.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "allocation_counter.hpp"

namespace {

using small = beehive::short_string<16>;
using medium = beehive::short_string<23>;
using id_size = beehive::short_string<39>;
using beehive::test::allocations_in;

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

TEST(ShortString, SizeIsInlineCapacityPlusOneByteWithNoAlignment) {
  static_assert(sizeof(small) == 17);
  static_assert(sizeof(medium) == 24);
  static_assert(sizeof(id_size) == 40);
  static_assert(alignof(id_size) == 1);
  static_assert(std::is_nothrow_move_constructible_v<medium>);
  static_assert(std::is_nothrow_move_assignable_v<medium>);
  static_assert(std::is_convertible_v<medium, std::string_view>);
  static_assert(std::is_convertible_v<const char*, medium>);
  static_assert(!std::is_convertible_v<std::string, medium>);
  static_assert(!std::is_convertible_v<std::string_view, medium>);
  SUCCEED();
}

TEST(ShortString, DefaultIsEmptyAndTerminated) {
  const medium s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0U);
  EXPECT_STREQ(s.c_str(), "");
  EXPECT_FALSE(s.on_heap());
  EXPECT_EQ(s, "");
}

TEST(ShortString, ValueOfExactlyInlineCapacityStaysInline) {
  const std::string v = repeat('a', 23);
  long n = allocations_in([&] {
    const medium s(v);
    EXPECT_FALSE(s.on_heap());
    EXPECT_EQ(s.size(), 23U);
    EXPECT_EQ(s, v);
    // The tag byte doubles as the terminator when the value fills the buffer.
    EXPECT_EQ(s.c_str()[23], '\0');
    EXPECT_EQ(std::strlen(s.c_str()), 23U);
  });
  EXPECT_EQ(n, 0);
}

TEST(ShortString, OneByteOverInlineCapacityGoesToTheHeap) {
  const std::string v = repeat('b', 24);
  long n = allocations_in([&] {
    const medium s(v);
    EXPECT_TRUE(s.on_heap());
    EXPECT_EQ(s.size(), 24U);
    EXPECT_EQ(s, v);
    EXPECT_EQ(std::strlen(s.c_str()), 24U);
  });
  EXPECT_EQ(n, 1);
}

TEST(ShortString, EveryLengthAroundTheBoundaryRoundTrips) {
  for (std::size_t len = 0; len <= 40; ++len) {
    std::string v;
    for (std::size_t i = 0; i < len; ++i) v.push_back(static_cast<char>('a' + i % 26));
    medium s(v);
    EXPECT_EQ(s.size(), len);
    EXPECT_EQ(s.on_heap(), len > 23) << len;
    EXPECT_EQ(std::string_view(s), v);
    EXPECT_EQ(s.str(), v);
    EXPECT_EQ(s.c_str()[len], '\0');
    EXPECT_EQ(s.empty(), len == 0);
    if (len > 0) {
      EXPECT_EQ(s[len - 1], v[len - 1]);
    }
  }
  medium m("abc");
  m[1] = 'X';
  EXPECT_EQ(m, "aXc");
}

TEST(ShortString, CopyOfAnInlineValueAllocatesNothing) {
  const medium a("module-name");
  long n = allocations_in([&] {
    medium b(a);
    medium c;
    c = a;
    EXPECT_EQ(b, a);
    EXPECT_EQ(c, a);
  });
  EXPECT_EQ(n, 0);
}

TEST(ShortString, CopyOfAHeapValueOwnsItsOwnBuffer) {
  const medium a(repeat('x', 100));
  medium b(a);
  EXPECT_TRUE(b.on_heap());
  EXPECT_NE(b.data(), a.data());
  EXPECT_EQ(b, a);
  b.clear();
  EXPECT_EQ(a.size(), 100U);
}

TEST(ShortString, MoveFromInlineLeavesTheSourceEmpty) {
  medium a("edged");
  long n = allocations_in([&] {
    medium b(std::move(a));
    EXPECT_EQ(b, "edged");
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the documented state
    EXPECT_STREQ(a.c_str(), "");
    medium c("other");
    c = std::move(b);
    EXPECT_EQ(c, "edged");
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  });
  EXPECT_EQ(n, 0);
}

TEST(ShortString, MoveFromHeapTakesTheBufferWithoutAllocating) {
  const std::string value = repeat('h', 64);
  medium a(value);
  medium c(repeat('c', 50));
  const char* buffer = a.data();
  long n = allocations_in([&] {
    medium b(std::move(a));
    EXPECT_EQ(b.data(), buffer);
    EXPECT_EQ(b, value);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(a.on_heap());
    c = std::move(b);  // frees c's own buffer, takes b's
    EXPECT_EQ(c.data(), buffer);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  });
  EXPECT_EQ(n, 0);
  EXPECT_EQ(c, value);
}

TEST(ShortString, SelfAssignmentKeepsTheValue) {
  medium inline_value("abc");
  medium heap_value(repeat('z', 40));
  const auto& inline_alias = inline_value;
  const auto& heap_alias = heap_value;
  inline_value = inline_alias;
  heap_value = heap_alias;
  EXPECT_EQ(inline_value, "abc");
  EXPECT_EQ(heap_value, repeat('z', 40));
  auto& inline_ref = inline_value;  // through a reference: compilers warn on a plain self-move
  auto& heap_ref = heap_value;
  inline_value = std::move(inline_ref);
  heap_value = std::move(heap_ref);
  EXPECT_EQ(inline_value, "abc");
  EXPECT_EQ(heap_value, repeat('z', 40));
}

TEST(ShortString, AssignFromAPartOfItself) {
  medium heap_value(repeat('a', 5) + repeat('b', 35));
  heap_value.assign(heap_value.data() + 5, 10);  // heap to inline, source in the old buffer
  EXPECT_EQ(heap_value, repeat('b', 10));
  EXPECT_FALSE(heap_value.on_heap());
  medium inline_value("0123456789");
  inline_value.assign(inline_value.data() + 2, 5);
  EXPECT_EQ(inline_value, "23456");
  medium big(repeat('q', 60));
  big.assign(big.data() + 1, 30);  // heap to heap, same buffer
  EXPECT_EQ(big, repeat('q', 30));
}

TEST(ShortString, CopyAssignAcrossInlineAndHeap) {
  const medium heap_value(repeat('h', 30));
  const medium inline_value("inline");
  medium s("first");
  s = heap_value;  // inline -> heap
  EXPECT_TRUE(s.on_heap());
  EXPECT_EQ(s, heap_value);
  s = inline_value;  // heap -> inline frees the buffer
  EXPECT_FALSE(s.on_heap());
  EXPECT_EQ(s, "inline");
  s = heap_value;
  const char* buffer = s.data();
  const std::string longer = repeat('k', 31);
  long n = allocations_in([&] { s = longer; });
  // 31 bytes fit the 32-byte buffer that 30 bytes got: reused.
  EXPECT_EQ(n, 0);
  EXPECT_EQ(s.data(), buffer);
  EXPECT_EQ(s, repeat('k', 31));
}

TEST(ShortString, AssignsFromEveryStringType) {
  medium s;
  s = "literal";
  EXPECT_EQ(s, "literal");
  s = std::string("string");
  EXPECT_EQ(s, "string");
  const std::string named = "named";
  s = named;
  EXPECT_EQ(s, named);
  s = std::string_view("view");
  EXPECT_EQ(s, "view");
  const char* pointer = "pointer";
  s = pointer;
  EXPECT_EQ(s, pointer);
  const id_size other("other size");
  s = other;
  EXPECT_EQ(s, other);
  s.assign("abcdef", 3);
  EXPECT_EQ(s, "abc");
  s.assign(std::string_view("xyz"));
  EXPECT_EQ(s, "xyz");
  s = std::string_view();  // null data()
  EXPECT_TRUE(s.empty());
  s = "x";
  s.append(std::string_view());
  EXPECT_EQ(s, "x");
  s.clear();
  EXPECT_TRUE(s.empty());
}

TEST(ShortString, AppendGrowsAcrossTheBoundary) {
  medium s;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    const char c = static_cast<char>('a' + i % 26);
    s.push_back(c);
    expected.push_back(c);
    ASSERT_EQ(s, expected);
    ASSERT_EQ(s.c_str()[s.size()], '\0');
  }
  s += "tail";
  s += '!';
  expected += "tail!";
  EXPECT_EQ(s, expected);
  medium self("abcdefghijkl");
  self.append(self);  // to the heap, the source is the old inline value
  EXPECT_EQ(self, "abcdefghijklabcdefghijkl");
  self.append(std::string_view(self).substr(0, 3));
  EXPECT_EQ(self, "abcdefghijklabcdefghijklabc");
}

TEST(ShortString, AppendAllocatesLogarithmically) {
  medium s;
  long n = allocations_in([&] {
    for (int i = 0; i < 1000; ++i) s.push_back('x');
  });
  // 24 → 32 → 64 → ... → 1024: seven buffers for 1000 bytes.
  EXPECT_LE(n, 7);
  EXPECT_EQ(s.size(), 1000U);
}

TEST(ShortString, ResizeAndOverwriteWritesInPlace) {
  medium s("keep");
  long n = allocations_in([&] {
    s.resize_and_overwrite(10, [](char* p, std::size_t size) {
      EXPECT_EQ(std::string_view(p, 4), "keep");
      std::memcpy(p + 4, "-more!", 6);
      return size;
    });
  });
  EXPECT_EQ(n, 0);
  EXPECT_EQ(s, "keep-more!");
  s.resize_and_overwrite(50, [](char* p, std::size_t size) {
    std::memset(p + 10, 'y', size - 10);
    return size;
  });
  EXPECT_TRUE(s.on_heap());
  EXPECT_EQ(s, "keep-more!" + repeat('y', 40));
  s.resize_and_overwrite(50, [](char*, std::size_t) { return std::size_t{4}; });
  EXPECT_FALSE(s.on_heap());  // short again: back inline
  EXPECT_EQ(s, "keep");
}

TEST(ShortString, ComparesWithEveryStringType) {
  const medium a("abc");
  const id_size b("abc");
  const small c("abd");
  const std::string s = "abc";
  const std::string_view v = "abc";
  const char* p = "abc";
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(b == a);
  EXPECT_TRUE(a == "abc");
  EXPECT_TRUE("abc" == a);
  EXPECT_TRUE(a == s);
  EXPECT_TRUE(s == a);
  EXPECT_TRUE(a == v);
  EXPECT_TRUE(v == a);
  EXPECT_TRUE(a == p);
  EXPECT_TRUE(p == a);
  EXPECT_TRUE(a != c);
  EXPECT_TRUE(a != "abd");
  EXPECT_TRUE(a != std::string("x"));
  EXPECT_TRUE(a < c);
  EXPECT_TRUE(c > b);
  EXPECT_TRUE(a < "abd");
  EXPECT_TRUE("abb" < a);
  EXPECT_TRUE(a <= s);
  EXPECT_TRUE(a >= v);
  EXPECT_TRUE(std::string("b") > a);
  EXPECT_EQ(a <=> b, std::strong_ordering::equal);
  EXPECT_EQ(a <=> "abcd", std::strong_ordering::less);
  EXPECT_EQ(medium(repeat('a', 30)) <=> medium(repeat('a', 29)), std::strong_ordering::greater);
  // Bytes after a NUL count, as in std::string.
  EXPECT_NE(medium(std::string_view("a\0b", 3)), medium(std::string_view("a\0c", 3)));
}

TEST(ShortString, HashesAsItsStringView) {
  const medium a("hash-me");
  EXPECT_EQ(std::hash<medium>{}(a), std::hash<std::string_view>{}("hash-me"));
  const medium heap_value(repeat('h', 40));
  EXPECT_EQ(std::hash<medium>{}(heap_value), std::hash<std::string>{}(repeat('h', 40)));
  std::unordered_set<medium> set{a, heap_value, medium("other")};
  EXPECT_EQ(set.count(medium("hash-me")), 1U);
  EXPECT_EQ(set.size(), 3U);
  std::map<medium, int> ordered{{medium("b"), 2}, {medium("a"), 1}};
  EXPECT_EQ(ordered.begin()->second, 1);
}

TEST(ShortString, PrintsItsValue) {
  std::ostringstream os;
  os << medium("printed") << '|' << medium(repeat('p', 30));
  EXPECT_EQ(os.str(), "printed|" + repeat('p', 30));
  EXPECT_EQ(::testing::PrintToString(medium("gtest")), "gtest");
}

TEST(ShortString, AggregateInitializationFromLiterals) {
  struct route {
    medium source;
    medium destination;
  };
  const route r{"edged", "metaManager"};
  EXPECT_EQ(r.source, "edged");
  EXPECT_EQ(r.destination, "metaManager");
  const route d{.source = "a", .destination = {}};
  EXPECT_TRUE(d.destination.empty());
}

}  // namespace
