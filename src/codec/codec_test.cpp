// SPDX-License-Identifier: Apache-2.0
#include "beehive/codec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checked_codec.hpp"
#include "codec/json_text.hpp"

namespace {

using beehive::content;
using beehive::content_kind;
using beehive::decode_message;
using beehive::encode_message;
using beehive::errc;
using beehive::message;
using beehive::test::encoded;

// A record as Go writes it (from tests/data/go-beehive-wire-trace.txt).
constexpr std::string_view go_record =
    R"({"header":{"msg_id":"709147fd-2bfb-49ee-bda7-aef80690d16f","parent_msg_id":)"
    R"("79319fb7-7f78-4be3-91e1-a78d49e4301c","timestamp":1795721459883,"type":"unixpacket"},)"
    R"("route":{"source":"remotemod","destination":"remotemod","operation":"response",)"
    R"("resource":"resource"},"content":"pong"})";

void expect_protocol_error(std::string_view record) {
  SCOPED_TRACE(std::string(record));
  auto m = decode_message(record);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error(), errc::protocol_error);
}

// A record with the given header members and content, everything else minimal.
std::string with_header(std::string_view members) {
  return std::string(R"({"header":{)") + std::string(members) + R"(},"route":{},"content":null})";
}

struct pod {
  std::string name;
};
void to_json(nlohmann::json& j, const pod& p) { j = {{"name", p.name}}; }

struct opaque {
  int fd = 0;
};

// ---- encoding ----

TEST(Codec, EncodesZeroMessageWithRouteAndNullContent) {
  EXPECT_EQ(encoded(message{}),
            R"({"header":{"msg_id":"","timestamp":0},"route":{},"content":null})");
}

TEST(Codec, EncodesEveryFieldInGoOrder) {
  message m;
  m.build_header("id", "pid", 123)
      .set_resource_version("42")
      .set_type("unixpacket")
      .build_router("src", "grp", "res", "op")
      .set_destination("dst")
      .fill_body(nlohmann::json{{"k", "v"}});
  m.header.sync = true;
  EXPECT_EQ(encoded(m),
            R"({"header":{"msg_id":"id","parent_msg_id":"pid","timestamp":123,)"
            R"("resourceversion":"42","sync":true,"type":"unixpacket"},"route":{"source":"src",)"
            R"("destination":"dst","group":"grp","operation":"op","resource":"res"},)"
            R"("content":{"k":"v"}})");
}

TEST(Codec, OmitsEachEmptyOptionalField) {
  message m;
  m.header.id = "i";
  m.header.timestamp = -5;
  m.route.group = "g";
  EXPECT_EQ(encoded(m),
            R"({"header":{"msg_id":"i","timestamp":-5},"route":{"group":"g"},"content":null})");
  m.route = {};
  m.route.resource = "r";
  EXPECT_EQ(encoded(m),
            R"({"header":{"msg_id":"i","timestamp":-5},"route":{"resource":"r"},"content":null})");
}

TEST(Codec, EscapesHeaderAndRouteStringsAsGo) {
  message m;
  m.header.id = "a\"<>&\n\xe2\x80\xa8\xff/";
  m.route.source = "\x01";
  EXPECT_EQ(encoded(m),
            R"({"header":{"msg_id":"a\"\u003c\u003e\u0026\n\u2028\ufffd/","timestamp":0},)"
            R"("route":{"source":"\u0001"},"content":null})");
}

TEST(Codec, EncodesEachContentKind) {
  message m;
  m.header.id = "i";
  const std::string prefix = R"({"header":{"msg_id":"i","timestamp":0},"route":{},"content":)";
  m.content = content("x<y");
  EXPECT_EQ(encoded(m), prefix + R"("x\u003cy"})");
  m.content = content(beehive::bytes{'h', 'i', '!'});
  EXPECT_EQ(encoded(m), prefix + R"("aGkh"})");
  m.content = content(nlohmann::json{{"b", 2.5}, {"a", nullptr}});
  EXPECT_EQ(encoded(m), prefix + R"({"a":null,"b":2.5}})");
  m.content = content::from_json_text(R"([1, "<"])").value();
  EXPECT_EQ(encoded(m), prefix + R"([1, "<"]})");
  m.content = content::from_object(pod{"n"});
  EXPECT_EQ(encoded(m), prefix + R"({"name":"n"}})");
}

TEST(Codec, EncodeAppendsToTheBuffer) {
  std::string out = "x";
  ASSERT_TRUE(encode_message(message{}, out));
  EXPECT_EQ(out, R"(x{"header":{"msg_id":"","timestamp":0},"route":{},"content":null})");
}

TEST(Codec, EncodeOfObjectWithoutJsonFormFailsAndLeavesBufferAlone) {
  message m = beehive::new_message().fill_body(content::make_object<opaque>());
  std::string out = "kept";
  auto r = encode_message(m, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_serializable);
  EXPECT_EQ(out, "kept");
  EXPECT_EQ(encode_message(m).error(), errc::not_serializable);
}

// ---- decoding ----

TEST(Codec, DecodesGoRecord) {
  auto m = decode_message(go_record);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, "709147fd-2bfb-49ee-bda7-aef80690d16f");
  EXPECT_EQ(m->header.parent_id, "79319fb7-7f78-4be3-91e1-a78d49e4301c");
  EXPECT_EQ(m->header.timestamp, 1795721459883);
  EXPECT_EQ(m->header.type, "unixpacket");
  EXPECT_FALSE(m->header.sync);
  EXPECT_EQ(m->header.resource_version, "");
  EXPECT_EQ(m->route.source, "remotemod");
  EXPECT_EQ(m->route.destination, "remotemod");
  EXPECT_EQ(m->route.group, "");
  EXPECT_EQ(m->route.operation, "response");
  EXPECT_EQ(m->route.resource, "resource");
  EXPECT_EQ(m->content.kind(), content_kind::raw_json);
  EXPECT_EQ(m->content.raw_json(), R"("pong")");
  EXPECT_EQ(encoded(*m), go_record);
}

TEST(Codec, RoundTripsEveryField) {
  message m;
  m.build_header("i\xc3\xa9", "p\"", -1)
      .set_resource_version("rv")
      .set_type("t")
      .build_router("s", "g", "r", "o")
      .set_destination("d")
      .fill_body(nlohmann::json{{"a", {1, 2}}});
  m.header.sync = true;
  auto d = decode_message(encoded(m));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->header, m.header);
  EXPECT_EQ(d->route, m.route);
  EXPECT_EQ(d->content.to_json().value(), m.content.to_json().value());
  EXPECT_EQ(encoded(*d), encoded(m));
}

TEST(Codec, RoundTripsFieldsOfEveryLengthAroundTheInlineCapacity) {
  // The fields hold up to 16..39 bytes inline and the rest on the heap; the decoder writes into
  // them directly, by a fast path (plain ASCII) and a slow one (escapes, non-ASCII).
  for (std::size_t len = 0; len <= 80; ++len) {
    // Each piece decodes to one character; the last one varies.
    for (const char* last : {"x", R"(\n)", R"(\u00e9)", R"(\")", R"(\u4e2d)", "\xc3\xa9"}) {
      std::string value;
      for (std::size_t i = 0; i < len; ++i) {
        value += i + 1 == len ? last : i % 7 == 3 ? R"(\")" : "a";
      }
      SCOPED_TRACE(value);
      const std::string json_value = "\"" + value + "\"";
      const std::string record = R"({"header":{"msg_id":)" + json_value + R"(,"parent_msg_id":)" +
                                 json_value + R"(,"timestamp":1,"resourceversion":)" + json_value +
                                 R"(,"type":)" + json_value + R"(},"route":{"source":)" +
                                 json_value + R"(,"destination":)" + json_value + R"(,"group":)" +
                                 json_value + R"(,"operation":)" + json_value + R"(,"resource":)" +
                                 json_value + R"(},"content":null})";
      auto m = decode_message(record);
      ASSERT_TRUE(m);
      std::string decoded;
      std::size_t pos = 0;
      ASSERT_TRUE(beehive::detail::decode_json_string(json_value, pos, decoded));
      for (std::string_view field :
           {std::string_view(m->header.id), std::string_view(m->header.parent_id),
            std::string_view(m->header.resource_version), std::string_view(m->header.type),
            std::string_view(m->route.source), std::string_view(m->route.destination),
            std::string_view(m->route.group), std::string_view(m->route.operation),
            std::string_view(m->route.resource)}) {
        ASSERT_EQ(field, decoded);
      }
      EXPECT_EQ(m->route.source.c_str()[decoded.size()], '\0');
      auto again = decode_message(encoded(*m));
      ASSERT_TRUE(again);
      EXPECT_EQ(again->header, m->header);
      EXPECT_EQ(again->route, m->route);
    }
  }
}

TEST(Codec, DuplicateFieldsMoveBetweenHeapAndInline) {
  const std::string long_value(60, 'l');
  auto m = decode_message(R"({"route":{"source":")" + long_value + R"(","source":"short",)" +
                          R"("group":"short","group":")" + long_value + R"("}})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->route.source, "short");
  EXPECT_FALSE(m->route.source.on_heap());
  EXPECT_EQ(m->route.group, long_value);
  EXPECT_TRUE(m->route.group.on_heap());
}

TEST(Codec, BytesRoundTripAsBase64) {
  const beehive::bytes b = {0, 1, 2, 250, 255};
  auto d = decode_message(encoded(message{}.fill_body(b)));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->content.get<beehive::bytes>().value(), b);
}

TEST(Codec, AcceptsWhitespaceAndOneTrailingNewline) {
  const std::string pretty =
      " {\n  \"header\" : { \"msg_id\" : \"x\" , \"timestamp\" : 7 } ,\r\n\t\"route\" : { } ,"
      " \"content\" : [ 1 , 2 ] }\n";
  auto m = decode_message(pretty);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, "x");
  EXPECT_EQ(m->header.timestamp, 7);
  EXPECT_EQ(m->content.raw_json(), "[ 1 , 2 ]");
  EXPECT_TRUE(decode_message(std::string(go_record) + "\n"));
}

TEST(Codec, AbsentFieldsStayEmpty) {
  ASSERT_TRUE(decode_message(go_record));
  auto m = decode_message("{}");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_empty());
  auto h = decode_message(R"({"header":{"msg_id":"only"}})");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header.parent_id, "");
  EXPECT_EQ(h->header.timestamp, 0);
  EXPECT_EQ(h->route, beehive::message_route{});
  EXPECT_TRUE(h->content.is_null());
}

TEST(Codec, NullContentIsNullContent) {
  auto m = decode_message(R"({"content":null})");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->content.is_null());
  EXPECT_EQ(encoded(*m), R"({"header":{"msg_id":"","timestamp":0},"route":{},"content":null})");
}

TEST(Codec, NullForAFieldLeavesItAsItWas) {
  auto m = decode_message(
      R"({"header":{"msg_id":"a","msg_id":null,"timestamp":null,"sync":null,"type":null},)"
      R"("route":null,"header":null,"content":"c"})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, "a");
  EXPECT_EQ(m->header.timestamp, 0);
  EXPECT_EQ(m->content.to_string().value(), "c");
}

TEST(Codec, LastDuplicateWins) {
  auto m = decode_message(
      R"({"header":{"msg_id":"a","timestamp":1,"msg_id":"b"},"header":{"timestamp":2},)"
      R"("route":{"source":"s1"},"route":{"group":"g"},"content":1,"content":"x"})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, "b");       // a later header object updates only its own members,
  EXPECT_EQ(m->header.timestamp, 2);  // as Go decodes into the same struct
  EXPECT_EQ(m->route.source, "s1");
  EXPECT_EQ(m->route.group, "g");
  EXPECT_EQ(m->content.raw_json(), R"("x")");
  auto n = decode_message(R"({"content":"x","content":null})");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->content.is_null());
}

TEST(Codec, MatchesKeysCaseInsensitivelyAsGo) {
  auto m = decode_message(
      R"({"HEADER":{"MSG_ID":"a","Parent_Msg_Id":"p","TimeStamp":3,"ResourceVersion":"v",)"
      R"("SYNC":true,"Type":"t"},"Route":{"SOURCE":"s","Destination":"d","GROUP":"g",)"
      R"("Operation":"o","RESOURCE":"r"},"Content":5})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, "a");
  EXPECT_EQ(m->header.parent_id, "p");
  EXPECT_EQ(m->header.timestamp, 3);
  EXPECT_EQ(m->header.resource_version, "v");
  EXPECT_TRUE(m->header.sync);
  EXPECT_EQ(m->header.type, "t");
  EXPECT_EQ(m->route, (beehive::message_route{"s", "d", "g", "o", "r"}));
  EXPECT_EQ(m->content.raw_json(), "5");
}

TEST(Codec, MatchesLongSAndEscapedKeysAsGo) {
  // Go folds U+017F (long s) to s, and unescapes keys before matching.
  auto m = decode_message("{\"header\":{\"\xc5\xbfync\":true,\"msg\\u005fid\":\"e\"}}");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->header.sync);
  EXPECT_EQ(m->header.id, "e");
}

TEST(Codec, IgnoresUnknownKeysButValidatesThem) {
  auto m = decode_message(
      R"({"extra":{"deep":[1,{"x":null}]},"header":{"msg_id":"a","other":[],"msgid":"no"},)"
      R"("route":{"zone":"z","source":"s"},"content":"c","tail":true})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, "a");
  EXPECT_EQ(m->route.source, "s");
  expect_protocol_error(R"({"extra":[1,],"header":{}})");
  expect_protocol_error(R"({"header":{"other":tru}})");
  // Go skips an unknown value by syntax only, but decodes content: range matters only there.
  EXPECT_TRUE(decode_message(R"({"extra":1e400,"content":1e300})"));
  expect_protocol_error(R"({"content":[1e400]})");
  expect_protocol_error(R"({"route":{"zone":01}})");
}

TEST(Codec, RejectsNonObjectTopLevel) {
  for (const char* r : {"", " ", "\n", "null", "[]", R"("s")", "1", "true", "[{}]"}) {
    expect_protocol_error(r);
  }
}

TEST(Codec, RejectsTrailingGarbage) {
  expect_protocol_error(std::string(go_record) + "x");
  expect_protocol_error(std::string(go_record) + "{}");
  expect_protocol_error(std::string(go_record) + "\n\n}");
  expect_protocol_error(std::string(go_record) + std::string(1, '\0'));
}

TEST(Codec, RejectsEveryTruncation) {
  for (std::size_t n = 0; n < go_record.size(); ++n) expect_protocol_error(go_record.substr(0, n));
}

TEST(Codec, RejectsMalformedJson) {
  for (const char* r : {"{",
                        "{\"header\"}",
                        "{\"header\":}",
                        "{\"header\":{},}",
                        "{,}",
                        "{\"a\":1 \"b\":2}",
                        "{header:{}}",
                        "{'header':{}}",
                        "{\"header\":{\"msg_id\":\"a\",}}",
                        "{\"header\":{\"msg_id\" \"a\"}}",
                        "{\"content\":}",
                        "{\"content\":[1,]}",
                        "{\"content\":{\"a\"}}",
                        "{\"content\":01}",
                        "{\"content\":'x'}",
                        "{\"content\":undefined}",
                        "{\"content\":\"a\"\"b\"}",
                        "{\"route\":{\"source\":\"s\"}",
                        "{\"header\":{}}}",
                        "{\"header\":{}]",
                        "{\"content\":NaN}",
                        "{\"content\":-}",
                        "{\"content\":1.}"}) {
    expect_protocol_error(r);
  }
}

TEST(Codec, RejectsWrongFieldTypes) {
  expect_protocol_error(R"({"header":[]})");
  expect_protocol_error(R"({"header":"h"})");
  expect_protocol_error(R"({"route":1})");
  expect_protocol_error(R"({"route":{"source":1}})");
  expect_protocol_error(R"({"route":{"group":["g"]}})");
  expect_protocol_error(with_header(R"("msg_id":5)"));
  expect_protocol_error(with_header(R"("parent_msg_id":{})"));
  expect_protocol_error(with_header(R"("type":false)"));
  expect_protocol_error(with_header(R"("resourceversion":1)"));
  expect_protocol_error(with_header(R"("sync":"true")"));
  expect_protocol_error(with_header(R"("sync":1)"));
}

TEST(Codec, TimestampMustBeAnInt64) {
  auto ok = decode_message(with_header(R"("timestamp":-9223372036854775808)"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->header.timestamp, INT64_MIN);
  EXPECT_EQ(decode_message(with_header(R"("timestamp":9223372036854775807)"))->header.timestamp,
            INT64_MAX);
  for (const char* bad :
       {R"("timestamp":1.5)", R"("timestamp":1.0)", R"("timestamp":1e3)", R"("timestamp":1E3)",
        R"("timestamp":"123")", R"("timestamp":true)", R"("timestamp":9223372036854775808)",
        R"("timestamp":-9223372036854775809)", R"("timestamp":18446744073709551616)",
        R"("timestamp":123456789012345678901234)", R"("timestamp":01)", R"("timestamp":-)",
        R"("timestamp":+1)", R"("timestamp":[1])"}) {
    expect_protocol_error(with_header(bad));
  }
}

TEST(Codec, RejectsBadEscapesAndControlCharacters) {
  expect_protocol_error(with_header(R"("msg_id":"a\x")"));
  expect_protocol_error(with_header(R"("msg_id":"\u12G4")"));
  expect_protocol_error(with_header(R"("msg_id":"\u12")"));
  expect_protocol_error(with_header(R"("msg_id":"\)"));
  expect_protocol_error(with_header("\"msg_id\":\"a\tb\""));
  expect_protocol_error(with_header(std::string("\"msg_id\":\"a") + '\0' + "b\""));
  expect_protocol_error(R"({"content":"\q"})");
  expect_protocol_error("{\"content\":\"a\nb\"}");
  expect_protocol_error(R"({"he\ader":{}})");
}

TEST(Codec, DecodesEscapesInStrings) {
  auto m =
      decode_message(with_header(R"("msg_id":"\"\\\/\b\f\n\r\t\u0041\u00e9\u4e2d\ud83d\udc1d")"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, "\"\\/\b\f\n\r\tA\xc3\xa9\xe4\xb8\xad\xf0\x9f\x90\x9d");
}

TEST(Codec, InvalidUtf8AndLoneSurrogatesBecomeReplacementCharacters) {
  // Go's decoder accepts them and substitutes U+FFFD.
  auto m =
      decode_message(with_header("\"msg_id\":\"a\xff"
                                 "b\",\"type\":\"\\ud800\\u0041\\udc00\""));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id,
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(m->header.type,
            "\xef\xbf\xbd"
            "A\xef\xbf\xbd");
  auto c = decode_message("{\"content\":[\"x\xc0\xaf\",\"\\udfff\"]}");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->content.raw_json(), R"(["x\ufffd\ufffd","\ufffd"])");
  ASSERT_TRUE(c->content.to_json());
  // Stable from then on.
  auto again = decode_message(encoded(*c));
  ASSERT_TRUE(again);
  EXPECT_EQ(encoded(*again), encoded(*c));
}

TEST(Codec, ContentIsKeptVerbatimAndNotReparsedOnForward) {
  const std::string rec =
      R"({"header":{"msg_id":"m","timestamp":1},"route":{},"content":{"z":1, "a":"<&>",)"
      R"( "n":1.50e2}})";
  auto m = decode_message(rec);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->content.kind(), content_kind::raw_json);
  EXPECT_EQ(m->content.raw_json(), R"({"z":1, "a":"<&>", "n":1.50e2})");
  EXPECT_EQ(encoded(*m), rec);
  EXPECT_EQ(m->content.to_json().value()["n"], 150.0);
}

TEST(Codec, RejectsContentNestedTooDeeply) {
  // Bounded like Go's decoder, so hostile input cannot exhaust memory or stack.
  const std::size_t depth = beehive::detail::max_json_depth;
  auto ok =
      decode_message(R"({"content":)" + std::string(depth, '[') + std::string(depth, ']') + "}");
  ASSERT_TRUE(ok);
  expect_protocol_error(R"({"content":)" + std::string(depth + 1, '[') +
                        std::string(depth + 1, ']') + "}");
  expect_protocol_error(R"({"other":)" + std::string(depth + 1, '[') + std::string(depth + 1, ']') +
                        "}");
}

}  // namespace
