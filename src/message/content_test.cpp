// SPDX-License-Identifier: Apache-2.0
#include "beehive/content.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "codec/json_text.hpp"

namespace {

using beehive::content;
using beehive::content_kind;
using beehive::errc;

struct pod {
  std::string name;
  int replicas = 0;
  friend bool operator==(const pod&, const pod&) = default;
};
void to_json(nlohmann::json& j, const pod& p) { j = {{"name", p.name}, {"replicas", p.replicas}}; }
void from_json(const nlohmann::json& j, pod& p) {
  j.at("name").get_to(p.name);
  j.at("replicas").get_to(p.replicas);
}

struct opaque {  // no JSON form
  int fd = -1;
};

std::string go_json(const nlohmann::json& j) {
  std::string out;
  beehive::detail::write_go_json(j, out);
  return out;
}

std::string text_of(const content& c) {
  auto t = c.json_text();
  EXPECT_TRUE(t) << t.error().message();
  return t ? *t : std::string("<error>");
}

TEST(Content, DefaultIsNull) {
  const content c;
  EXPECT_TRUE(c.is_null());
  EXPECT_EQ(c.kind(), content_kind::null);
  EXPECT_EQ(text_of(c), "null");
  EXPECT_TRUE(c.to_json().value().is_null());
  EXPECT_EQ(c.to_string().error(), errc::type_mismatch);
  EXPECT_EQ(c.if_string(), nullptr);
  EXPECT_EQ(c.raw_json(), "");
  EXPECT_FALSE(c.shares_payload_with(content{}));
}

TEST(Content, StringFromEveryStringType) {
  std::string s = "abc";
  for (const content& c : {content(s), content("abc"), content(std::string_view("abc"))}) {
    EXPECT_EQ(c.kind(), content_kind::string);
    ASSERT_NE(c.if_string(), nullptr);
    EXPECT_EQ(*c.if_string(), "abc");
    EXPECT_EQ(c.to_string().value(), "abc");
    EXPECT_EQ(c.get<std::string>().value(), "abc");
    EXPECT_EQ(text_of(c), R"("abc")");
    EXPECT_EQ(c.to_json().value(), nlohmann::json("abc"));
    EXPECT_EQ(c.if_bytes(), nullptr);
    EXPECT_EQ(c.if_json(), nullptr);
  }
}

TEST(Content, CopiesShareOnePayload) {
  const content a(std::string(10000, 'x'));
  const content b = a;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_TRUE(a.shares_payload_with(b));
  EXPECT_EQ(a.if_string(), b.if_string());
  content c = b;
  const content d = std::move(c);
  EXPECT_TRUE(d.shares_payload_with(a));
}

TEST(Content, BytesEncodeAsPaddedBase64) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", R"("")"},
      {"f", R"("Zg==")"},
      {"fo", R"("Zm8=")"},
      {"foo", R"("Zm9v")"},
      {"foob", R"("Zm9vYg==")"},
      {std::string("\xff\xfe\x00", 3), R"("//4A")"}};
  for (const auto& [raw, json] : vectors) {
    const content c(beehive::bytes(raw.begin(), raw.end()));
    EXPECT_EQ(c.kind(), content_kind::binary);
    EXPECT_EQ(text_of(c), json);
    ASSERT_NE(c.if_bytes(), nullptr);
    EXPECT_EQ(c.get<beehive::bytes>().value(), beehive::bytes(raw.begin(), raw.end()));
  }
  EXPECT_EQ(content(beehive::bytes{'h', 'i'}).to_json().value(), nlohmann::json("aGk="));
  EXPECT_EQ(content(beehive::bytes{}).to_string().error(), errc::type_mismatch);
}

TEST(Content, BytesSurviveAJsonHopAsBase64) {
  const content wire = content::from_json_text(R"("aGVsbG8=")").value();
  EXPECT_EQ(wire.to_bytes().value(), (beehive::bytes{'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(content(nlohmann::json("aGk=")).to_bytes().value(), (beehive::bytes{'h', 'i'}));
}

TEST(Content, ToBytesRejectsWhatIsNotBase64) {
  for (const char* text : {R"("a")", R"("abc")", R"("ab!=")", R"("=abc")", R"("Zh==")", "5"}) {
    SCOPED_TRACE(text);
    auto r = content::from_json_text(text).value().to_bytes();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::type_mismatch);
  }
  EXPECT_EQ(content("aGk=").to_bytes().error(), errc::type_mismatch);
  EXPECT_EQ(content().to_bytes().error(), errc::type_mismatch);
}

TEST(Content, JsonValueWritesGoForm) {
  const content c(nlohmann::json{{"z", 1}, {"a", {true, false, nullptr}}, {"m", "x<y"}});
  EXPECT_EQ(c.kind(), content_kind::json);
  ASSERT_NE(c.if_json(), nullptr);
  EXPECT_EQ(text_of(c), R"({"a":[true,false,null],"m":"x\u003cy","z":1})");
  EXPECT_EQ(c.to_string().error(), errc::type_mismatch);
  EXPECT_EQ(content(nlohmann::json("s")).to_string().value(), "s");
}

TEST(Content, GoJsonSortsKeysByteWise) {
  EXPECT_EQ(go_json({{"b", 1}, {"B", 2}, {"a", 3}, {"\xc3\xa9", 4}, {"aa", 5}}),
            "{\"B\":2,\"a\":3,\"aa\":5,\"b\":1,\"\xc3\xa9\":4}");
  EXPECT_EQ(go_json(nlohmann::json::object()), "{}");
  EXPECT_EQ(go_json(nlohmann::json::array()), "[]");
}

TEST(Content, GoJsonNumbers) {
  EXPECT_EQ(go_json(0), "0");
  EXPECT_EQ(go_json(-42), "-42");
  EXPECT_EQ(go_json(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(go_json(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(go_json(1.0), "1");
  EXPECT_EQ(go_json(-0.0), "-0");
  EXPECT_EQ(go_json(0.1), "0.1");
  EXPECT_EQ(go_json(1.5e300), "1.5e+300");
  EXPECT_EQ(go_json(1e20), "100000000000000000000");
  EXPECT_EQ(go_json(1e21), "1e+21");
  EXPECT_EQ(go_json(0.000001), "0.000001");
  EXPECT_EQ(go_json(1e-7), "1e-7");
  EXPECT_EQ(go_json(1.25e-10), "1.25e-10");
  EXPECT_EQ(go_json(123456.789), "123456.789");
  EXPECT_EQ(go_json(std::nan("")), "null");
  EXPECT_EQ(go_json(std::numeric_limits<double>::infinity()), "null");
}

TEST(Content, GoStringEscaping) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plain", R"("plain")"},
      {"q\"b\\s/", R"("q\"b\\s/")"},
      {"\n\r\t", R"("\n\r\t")"},
      {std::string("\0\x01\x08\x0c\x1f", 5), R"("\u0000\u0001\u0008\u000c\u001f")"},
      {"<a href='x'>&amp;</a>", R"("\u003ca href='x'\u003e\u0026amp;\u003c/a\u003e")"},
      {"\x7f", "\"\x7f\""},
      {"\xe2\x80\xa8\xe2\x80\xa9", R"("\u2028\u2029")"},
      {"h\xc3\xa9llo \xe4\xb8\xad \xf0\x9f\x90\x9d",
       "\"h\xc3\xa9llo \xe4\xb8\xad \xf0\x9f\x90\x9d\""},
      {"a\xffz", R"("a\ufffdz")"},
      {"\xc0\x80", R"("\ufffd\ufffd")"},                      // overlong NUL
      {"\xed\xa0\x80", R"("\ufffd\ufffd\ufffd")"},            // UTF-8-encoded surrogate
      {"\xf4\x90\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"},  // above U+10FFFF
      {"\xe4\xb8", R"("\ufffd\ufffd")"},                      // truncated sequence
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(want);
    EXPECT_EQ(text_of(content(in)), want);
    EXPECT_EQ(go_json(in), want);
  }
}

TEST(Content, FromJsonTextKeepsTheTextVerbatim) {
  const auto c = content::from_json_text(R"({ "b" : 1, "a" : [ 1.50, "<" ] })");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind(), content_kind::raw_json);
  EXPECT_EQ(c->raw_json(), R"({ "b" : 1, "a" : [ 1.50, "<" ] })");
  EXPECT_EQ(text_of(*c), R"({ "b" : 1, "a" : [ 1.50, "<" ] })");
  EXPECT_EQ(c->to_json().value(), (nlohmann::json{{"a", {1.5, "<"}}, {"b", 1}}));
}

TEST(Content, FromJsonTextTrimsSurroundingWhitespace) {
  EXPECT_EQ(content::from_json_text(" \n\t[1]\r\n ").value().raw_json(), "[1]");
}

TEST(Content, FromJsonTextAcceptsEveryKindOfValue) {
  for (const char* text : {"null", "true", "false", "0", "-0", "-1.5e+10", "1E-2", R"("")",
                           R"("\u00e9\ud83d\udc1d\/")", "[]", "{}", R"([{"a":{"b":[null]}}])",
                           "123456789012345678901234567890", "1e-400", "-0.0000e-999999999999",
                           "1.7976931348623157e308", "0.1e309", "1e308"}) {
    SCOPED_TRACE(text);
    auto c = content::from_json_text(text);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->raw_json(), text);
    EXPECT_TRUE(c->to_json());
  }
}

TEST(Content, FromJsonTextRejectsMalformedJson) {
  for (const char* text :
       {"", " ", "{", "}", "[", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}",
        "{'a':1}", "{\"a\" 1}", "[1 2]", "01", "1.", ".5", "-", "1e", "1e+", "+1", "0x10", "NaN",
        "Infinity", "tru", "nul", "True", "\"abc", "\"a\\x\"", "\"\\u12G4\"", "\"\\u12\"",
        "\"tab\there\"", "\"nl\nhere\"", "1 2", "{} {}", "[1]x", "\"a\"\"b\"", "[\"a\\\"]",
        "{\"a\":1}}", "//c\n1", "/*c*/1", "\xef\xbb\xbf{}",
        // beyond float64: Go refuses to decode these into interface{}
        "1e400", "-1e309", "[1.8e308]", "10e308", "0.0001e313", "1e99999999999999999999"}) {
    SCOPED_TRACE(text);
    auto c = content::from_json_text(text);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), errc::protocol_error);
  }
}

TEST(Content, FromJsonTextReplacesInvalidUtf8AndLoneSurrogatesAsGoDoes) {
  auto c = content::from_json_text("[\"a\xff\",\"\\ud800x\",\"\\udc00\",\"\\ud83d\\udc1d\"]");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->raw_json(), R"(["a\ufffd","\ufffdx","\ufffd","\ud83d\udc1d"])");
  const auto j = c->to_json();
  ASSERT_TRUE(j);
  EXPECT_EQ((*j)[0], "a\xef\xbf\xbd");
  EXPECT_EQ((*j)[3], "\xf0\x9f\x90\x9d");
}

TEST(Content, FromJsonTextLimitsNestingDepth) {
  const std::size_t max = beehive::detail::max_json_depth;
  const auto deepest = content::from_json_text(std::string(max, '[') + std::string(max, ']'));
  ASSERT_TRUE(deepest);
  EXPECT_TRUE(deepest->to_json());  // the on-demand parse copes with the deepest accepted value
  auto deep = content::from_json_text(std::string(max + 1, '[') + std::string(max + 1, ']'));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error(), errc::protocol_error);
}

TEST(Content, RawJsonStringConvertsToString) {
  EXPECT_EQ(content::from_json_text(R"("a\n\u00e9")").value().to_string().value(), "a\n\xc3\xa9");
  EXPECT_EQ(content::from_json_text("42").value().to_string().error(), errc::type_mismatch);
  EXPECT_EQ(content::from_json_text("{}").value().get<std::string>().error(), errc::type_mismatch);
}

TEST(Content, ObjectIsRetrievedTypeSafelyWithoutSerialization) {
  const content c = content::make_object<pod>(pod{"nginx", 3});
  EXPECT_EQ(c.kind(), content_kind::object);
  const pod* p = c.if_object<pod>();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name, "nginx");
  EXPECT_EQ(c.if_object<opaque>(), nullptr);
  EXPECT_EQ(c.if_object<std::string>(), nullptr);
  const content copy = c;               // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.if_object<pod>(), p);  // same object, never copied
  EXPECT_EQ(c.get<pod>().value(), (pod{"nginx", 3}));
}

TEST(Content, ObjectWithJsonFormSerializes) {
  const content c = content::from_object(pod{"a<b", 2});
  EXPECT_EQ(text_of(c), R"({"name":"a\u003cb","replicas":2})");
  EXPECT_EQ(c.to_json().value()["replicas"], 2);
  EXPECT_EQ(c.get<nlohmann::json>().value()["name"], "a<b");
}

TEST(Content, ObjectSurvivesAJsonHop) {
  const content wire = content::from_json_text(text_of(content::from_object(pod{"x", 1}))).value();
  EXPECT_EQ(wire.get<pod>().value(), (pod{"x", 1}));
  EXPECT_EQ(wire.if_object<pod>(), nullptr);
}

TEST(Content, GetReportsTypeMismatch) {
  EXPECT_EQ(content("text").get<int>().error(), errc::type_mismatch);
  EXPECT_EQ(content::from_json_text(R"({"name":1})").value().get<pod>().error(),
            errc::type_mismatch);
  EXPECT_EQ(content(nlohmann::json{1, 2}).get<pod>().error(), errc::type_mismatch);
  EXPECT_EQ(content().get<int>().error(), errc::type_mismatch);
  EXPECT_EQ(content::from_object(pod{}).get<std::string>().error(), errc::type_mismatch);
  EXPECT_EQ(content::from_json_text("7").value().get<int>().value(), 7);
}

TEST(Content, ObjectWithoutJsonFormIsNotSerializable) {
  const content c = content::make_object<opaque>(opaque{3});
  ASSERT_NE(c.if_object<opaque>(), nullptr);
  EXPECT_EQ(c.if_object<opaque>()->fd, 3);
  std::string out = "prefix";
  auto w = c.write_json(out);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error(), errc::not_serializable);
  EXPECT_EQ(out, "prefix");  // left as it was
  EXPECT_EQ(c.json_text().error(), errc::not_serializable);
  EXPECT_EQ(c.to_json().error(), errc::not_serializable);
  EXPECT_EQ(c.get<int>().error(), errc::not_serializable);
}

TEST(Content, WriteJsonAppends) {
  std::string out = "x=";
  ASSERT_TRUE(content("v").write_json(out));
  EXPECT_EQ(out, R"(x="v")");
}

TEST(Content, ConcurrentReadersShareOnePayload) {
  const content c = content::from_json_text(R"({"a":[1,2,3],"b":"<x>"})").value();
  std::vector<std::thread> readers;
  std::vector<std::string> texts(4);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    readers.emplace_back([&, i] {
      content local = c;
      for (int k = 0; k < 100; ++k) texts[i] = local.json_text().value() + local.to_json()->dump();
    });
  }
  for (auto& t : readers) t.join();
  for (const auto& t : texts) EXPECT_EQ(t, texts[0]);
}

// Counts how it was made: the README's "moved, not copied" for `from_object(std::move(pod))`.
struct counted {
  int copies = 0;
  int moves = 0;
  counted() = default;
  counted(const counted& o) : copies(o.copies + 1), moves(o.moves) {}
  counted(counted&& o) noexcept : copies(o.copies), moves(o.moves + 1) {}
  counted& operator=(const counted&) = delete;
  counted& operator=(counted&&) = delete;
  ~counted() = default;
};

struct move_only {
  std::unique_ptr<int> value;
};

TEST(Content, FromObjectMovesAnRvalue) {
  counted source;
  const content c = content::from_object(std::move(source));
  ASSERT_NE(c.if_object<counted>(), nullptr);
  EXPECT_EQ(c.if_object<counted>()->copies, 0);
  EXPECT_EQ(c.if_object<counted>()->moves, 1);
}

TEST(Content, FromObjectCopiesAnLvalueOnce) {
  const counted source;
  const content c = content::from_object(source);
  ASSERT_NE(c.if_object<counted>(), nullptr);
  EXPECT_EQ(c.if_object<counted>()->copies, 1);
  EXPECT_EQ(c.if_object<counted>()->moves, 0);
  EXPECT_EQ(source.copies, 0);
}

TEST(Content, FromObjectTakesAMoveOnlyType) {
  move_only source{std::make_unique<int>(7)};
  const content c = content::from_object(std::move(source));
  const move_only* held = c.if_object<move_only>();
  ASSERT_NE(held, nullptr);
  ASSERT_NE(held->value, nullptr);
  EXPECT_EQ(*held->value, 7);
  EXPECT_EQ(c.to_json().error(), errc::not_serializable);
}

// Verbatim JSON is kept in one block with its holder: every length around the block's word
// size reads back exactly, copies share it, and it outlives the text it was made from.
TEST(Content, TrustedJsonTextOfEveryLengthIsKeptExactly) {
  for (std::size_t n = 0; n <= 70; ++n) {
    const std::string quoted = std::string(1, '"').append(n, 'x').append(1, '"');
    std::string text = quoted;
    const content c = content::from_trusted_json_text(text);
    text.assign(text.size(), '?');  // the content holds its own copy
    EXPECT_EQ(c.kind(), content_kind::raw_json);
    EXPECT_EQ(c.raw_json(), quoted);
    const content copy = c;  // NOLINT(performance-unnecessary-copy-initialization)
    EXPECT_TRUE(copy.shares_payload_with(c));
    EXPECT_EQ(c.to_json().value(), std::string(n, 'x'));
    std::string out;
    ASSERT_TRUE(copy.write_json(out));
    EXPECT_EQ(out, c.raw_json());
  }
  const std::string big = std::string(1, '[').append(5000, '1').append(1, ']');
  EXPECT_EQ(content::from_trusted_json_text(big).raw_json(), big);
}

}  // namespace
