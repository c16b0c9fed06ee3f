// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_subject.hpp"

#include <gtest/gtest.h>

#include <string>

namespace beehive::detail {
namespace {

bool valid_token(const std::string& t) {
  if (t.empty()) return false;
  for (const char ch : t) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>') return false;
  }
  return true;
}

TEST(NatsSubject, PlainNamesStayAsTheyAre) {
  EXPECT_EQ(encode_token("edged"), "edged");
  EXPECT_EQ(encode_token("twin_2-b"), "twin_2-b");
  EXPECT_EQ(decode_token("twin_2-b"), "twin_2-b");
}

TEST(NatsSubject, HostileNamesAreEncodedAndRoundTrip) {
  const std::string names[] = {"a.b",       "*",        ">",      "a b",
                               "ünïcode",   "",         "~tilde", "a.*.>",
                               "tab\there", "\x01\xff", "x~y",    std::string("nul\0in", 6)};
  for (const auto& n : names) {
    const auto t = encode_token(n);
    EXPECT_TRUE(valid_token(t)) << n << " -> " << t;
    auto back = decode_token(t);
    ASSERT_TRUE(back) << t;
    EXPECT_EQ(*back, n);
  }
  // Distinct names give distinct tokens (no name can pass for an encoded one).
  EXPECT_NE(encode_token("~61"), encode_token("a"));
  EXPECT_EQ(decode_token(encode_token("~61")), "~61");
}

TEST(NatsSubject, BadTokensDoNotDecode) {
  EXPECT_FALSE(decode_token(""));
  EXPECT_FALSE(decode_token("~6"));
  EXPECT_FALSE(decode_token("~zz"));
  EXPECT_FALSE(decode_token("a.b"));
}

TEST(NatsSubject, SubjectsOfANamespace) {
  subjects s("ns1", "p1");
  EXPECT_EQ(s.module("a.b"), "ns1.m." + encode_token("a.b") + ".p1");
  EXPECT_EQ(s.module_wildcard("m"), "ns1.m.m.*");
  EXPECT_EQ(s.reply_to("m.x", "id-1"), "ns1.r.p1." + encode_token("m.x") + ".id-1");
  EXPECT_EQ(s.reply_wildcard(), "ns1.r.p1.*.*");
  EXPECT_EQ(s.probe("p2"), "ns1.x.p2");
  EXPECT_EQ(s.credits("p2"), "ns1.c.p2");
  EXPECT_EQ(subjects::last_token("ns1.m.x.p9"), "p9");
  EXPECT_EQ(subjects::last_token("nodot"), "");
}

TEST(NatsSubject, NumbersRoundTrip) {
  std::string out = "left over";
  subjects::write_sequence(out, {7, 12345});
  EXPECT_EQ(out, "7-12345");
  const auto n = subjects::parse_sequence(out);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->stream, 7U);
  EXPECT_EQ(n->seq, 12345U);
  subjects::write_sequence(out, {18446744073709551615ULL, 18446744073709551615ULL});
  EXPECT_EQ(subjects::parse_sequence(out)->seq, 18446744073709551615ULL);
}

TEST(NatsSubject, MalformedSequencesAreNotNumbers) {
  for (const char* t : {"", "-", "1-", "-1", "0-1", "a-1", "1-a", "1-2-3", "1_2",
                        "99999999999999999999-1", "1-2x"}) {
    EXPECT_FALSE(subjects::parse_sequence(t)) << t;
  }
  ASSERT_TRUE(subjects::parse_sequence("3-4"));
  EXPECT_EQ(subjects::parse_sequence("3-4")->seq, 4U);
  // A request's reply subject is not a number.
  EXPECT_FALSE(subjects::parse_sequence("ns.r.p1.mod.id"));
}

}  // namespace
}  // namespace beehive::detail
