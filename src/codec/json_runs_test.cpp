// SPDX-License-Identifier: Apache-2.0
// The codec's string escaper, validator and decoder skip runs of plain bytes 16 at a time
// (json_runs.hpp). These tests put every byte class that needs work at every position around
// the 16-byte blocks (first byte, last byte, bytes 7/8/15/16/17, ...) of strings of every
// length up to three blocks, and compare with a byte-at-a-time reference written from Go's
// encoding/json rules (the literal cases of content_test and codec_test hold Go's own bytes).
#include "codec/json_runs.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/codec.hpp"
#include "beehive/short_string.hpp"
#include "codec/json_text.hpp"

namespace {

using beehive::detail::append_go_string;
using beehive::detail::decode_json_string;
using beehive::detail::scan_json_value;

// Joins its parts (a chain of `+` on temporaries trips GCC 12's -Wrestrict at -O2).
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (const auto part : parts) s.append(part);
  return s;
}

// Go's encodeState.string with HTML escaping on, one byte (or rune) at a time.
std::string reference_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
        out.push_back(static_cast<char>(c));
      } else if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else {
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xF]);
      }
      ++i;
      continue;
    }
    const std::size_t len = beehive::detail::utf8_sequence_length(s, i);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    const std::string_view seq = s.substr(i, len);
    if (seq == "\xe2\x80\xa8") {
      out += "\\u2028";
    } else if (seq == "\xe2\x80\xa9") {
      out += "\\u2029";
    } else {
      out += seq;
    }
    i += len;
  }
  out.push_back('"');
  return out;
}

// Each class of byte (or sequence) the escaper or the decoder must not skip, plus plain ones
// at the edges of the class ranges (space, `~`, DEL, `/`, `'`, `=`, `?`).
const std::vector<std::string>& specials() {
  static const std::vector<std::string> v = {"\"",
                                             "\\",
                                             "<",
                                             ">",
                                             "&",
                                             "\n",
                                             "\r",
                                             "\t",
                                             std::string(1, '\0'),
                                             "\x01",
                                             "\x1f",
                                             " ",
                                             "~",
                                             "\x7f",
                                             "/",
                                             "'",
                                             "=",
                                             "?",
                                             "\xc3\xa9",
                                             "\xe4\xb8\xad",
                                             "\xf0\x9f\x90\x9d",
                                             "\xe2\x80\xa8",
                                             "\xe2\x80\xa9",
                                             "\xe2\x80\xaa",
                                             "\xff",
                                             "\x80",
                                             "\xc0\x80",
                                             "\xe4\xb8",
                                             "\xed\xa0\x80"};
  return v;
}

// Strings of `len` plain bytes with `special` written at `pos` (a multi-byte one may run past
// the 16-byte block it starts in, which is a boundary case too).
std::string with_special(std::size_t len, std::size_t pos, const std::string& special) {
  std::string s(len, 'a');
  for (std::size_t k = 0; k < len; ++k) s[k] = static_cast<char>('a' + k % 26);
  s.replace(pos, 0, special);
  return s;
}

TEST(JsonRuns, EscapeMatchesGoAtEveryPositionAroundTheBlocks) {
  for (const auto& sp : specials()) {
    for (std::size_t len = 0; len <= 48; ++len) {
      for (std::size_t pos = 0; pos <= len; ++pos) {
        const std::string s = with_special(len, pos, sp);
        std::string out = "prefix";
        append_go_string(s, out);
        ASSERT_EQ(out, cat({"prefix", reference_escape(s)})) << "len " << len << " pos " << pos;
      }
    }
  }
}

TEST(JsonRuns, EscapeOfEveryByteAloneAndBetweenFullBlocks) {
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    for (const std::size_t pad : {0UL, 7UL, 8UL, 15UL, 16UL, 31UL, 32UL}) {
      const std::string s = cat({std::string(pad, 'x'), one, std::string(pad, 'y')});
      std::string out;
      append_go_string(s, out);
      ASSERT_EQ(out, reference_escape(s)) << "byte " << b << " pad " << pad;
    }
  }
}

TEST(JsonRuns, GoBytesForEachEscapeClassInsideALongRun) {
  // Go's own output (encoding/json, HTML escaping on) for the classes, placed at byte 16.
  const std::string pad(16, 'p');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"<>&", R"(\u003c\u003e\u0026)"},
      {"\"\\", R"(\"\\)"},
      {"\n\r\t", R"(\n\r\t)"},
      {std::string("\0\x1f", 2), R"(\u0000\u001f)"},
      {"\xe2\x80\xa8", R"(\u2028)"},
      {"\xe2\x80\xa9", R"(\u2029)"},
      {"\xff", R"(\ufffd)"},
      {"\xe4\xb8\xad\x7f/", "\xe4\xb8\xad\x7f/"}};
  for (const auto& [in, escaped] : cases) {
    std::string out;
    append_go_string(cat({pad, in, pad}), out);
    EXPECT_EQ(out, cat({"\"", pad, escaped, pad, "\""}));
  }
}

// Decoding what the escaper wrote gives the text back, where the text is valid UTF-8.
TEST(JsonRuns, DecodeRoundTripsAtEveryPositionAroundTheBlocks) {
  for (const auto& sp : specials()) {
    for (std::size_t len = 0; len <= 48; ++len) {
      for (std::size_t pos = 0; pos <= len; ++pos) {
        const std::string s = with_special(len, pos, sp);
        std::string quoted;
        append_go_string(s, quoted);
        std::size_t p = 0;
        std::string decoded;
        ASSERT_TRUE(decode_json_string(quoted, p, decoded));
        ASSERT_EQ(p, quoted.size());
        // Invalid UTF-8 was written as \ufffd: decoding gives U+FFFD where it was.
        std::string expected_text;
        std::size_t i = 0;
        while (i < s.size()) {
          const std::size_t l = beehive::detail::utf8_sequence_length(s, i);
          if (l == 0) {
            expected_text += "\xef\xbf\xbd";
            ++i;
          } else {
            expected_text += s.substr(i, l);
            i += l;
          }
        }
        ASSERT_EQ(decoded, expected_text) << "len " << len << " pos " << pos;
        // A short_string field decodes the same.
        beehive::short_string<16> field;
        p = 0;
        ASSERT_TRUE(decode_json_string(quoted, p, field));
        ASSERT_EQ(std::string_view(field), expected_text);
      }
    }
  }
}

// Raw bytes the escaper never writes, inside a JSON string literal: the decoder and the
// validator must find them wherever they are in a block.
TEST(JsonRuns, DecodeAndScanSeeEveryByteClassAtEveryPosition) {
  for (std::size_t len = 0; len <= 40; ++len) {
    for (std::size_t pos = 0; pos <= len; ++pos) {
      const std::string plain(len, 'q');
      auto literal = [&](const std::string& mid) {
        return cat({"\"", std::string_view(plain).substr(0, pos), mid,
                    std::string_view(plain).substr(pos), "\""});
      };
      const std::string expect_plain = plain.substr(0, pos);
      const std::string expect_rest = plain.substr(pos);
      // A control byte ends the string as malformed; so does a closing quote missing.
      for (const char ctl : {'\0', '\x01', '\n', '\x1f'}) {
        const std::string t = literal(std::string(1, ctl));
        std::size_t p = 0;
        std::string out;
        ASSERT_FALSE(decode_json_string(t, p, out)) << len << " " << pos;
        p = 0;
        ASSERT_FALSE(scan_json_value(t, p).ok) << len << " " << pos;
      }
      // An escape is resolved in place.
      {
        const std::string t = literal(R"(\"\u003c\\)");
        std::size_t p = 0;
        std::string out;
        ASSERT_TRUE(decode_json_string(t, p, out));
        EXPECT_EQ(out, cat({expect_plain, "\"<\\", expect_rest}));
        EXPECT_EQ(p, t.size());
        p = 0;
        const auto r = scan_json_value(t, p);
        ASSERT_TRUE(r.ok);
        EXPECT_FALSE(r.needs_sanitize);
        EXPECT_EQ(p, t.size());
      }
      // Invalid UTF-8 is flagged by the validator and replaced by the decoder.
      {
        const std::string t = literal("\xff");
        std::size_t p = 0;
        std::string out;
        ASSERT_TRUE(decode_json_string(t, p, out));
        EXPECT_EQ(out, cat({expect_plain, "\xef\xbf\xbd", expect_rest}));
        p = 0;
        const auto r = scan_json_value(t, p);
        ASSERT_TRUE(r.ok);
        EXPECT_TRUE(r.needs_sanitize);
      }
      // The closing quote is found wherever it is, and what follows is not read.
      {
        const std::string t = cat({"\"", std::string_view(plain).substr(0, pos), "\"",
                                   std::string_view(plain).substr(pos), "\""});
        std::size_t p = 0;
        std::string out;
        ASSERT_TRUE(decode_json_string(t, p, out));
        EXPECT_EQ(out, expect_plain);
        EXPECT_EQ(p, pos + 2);
        p = 0;
        ASSERT_TRUE(scan_json_value(t, p).ok);
        EXPECT_EQ(p, pos + 2);
      }
      // Truncated: no closing quote at all.
      {
        const std::string t = cat({"\"", plain});
        std::size_t p = 0;
        std::string out;
        ASSERT_FALSE(decode_json_string(t, p, out));
        p = 0;
        ASSERT_FALSE(scan_json_value(t, p).ok);
      }
    }
  }
}

TEST(JsonRuns, SkipFunctionsStopAtTheFirstByteOfTheirClass) {
  for (int b = 0; b < 256; ++b) {
    for (std::size_t pos = 0; pos < 40; ++pos) {
      std::string s(40, 'z');
      s[pos] = static_cast<char>(b);
      const auto ub = static_cast<std::size_t>(b);
      const std::size_t plain_end = beehive::detail::skip_plain_string_bytes(s, 0);
      const std::size_t safe_end = beehive::detail::skip_html_safe_bytes(s, 0);
      ASSERT_EQ(plain_end, beehive::detail::plain_string_byte[ub] ? s.size() : pos) << b;
      ASSERT_EQ(safe_end, beehive::detail::html_safe_byte[ub] ? s.size() : pos) << b;
      // Starting past the byte, the rest is one run.
      ASSERT_EQ(beehive::detail::skip_plain_string_bytes(s, pos + 1), s.size());
    }
  }
}

// A whole record with a long body round-trips byte for byte through the codec.
TEST(JsonRuns, RecordWithLongBodyRoundTrips) {
  std::string body(250, ' ');
  body.replace(0, 7, "1234567");
  body[100] = '<';
  body[200] = '\n';
  body += "\xe2\x80\xa8";
  beehive::message m;
  m.content = beehive::content(body);
  std::string wire;
  ASSERT_TRUE(beehive::encode_message(m, wire));
  EXPECT_NE(wire.find(R"(\u003c)"), std::string::npos);
  auto d = beehive::decode_message(wire);
  ASSERT_TRUE(d);
  std::string again;
  ASSERT_TRUE(beehive::encode_message(*d, again));
  EXPECT_EQ(again, wire);
  EXPECT_EQ(d->content.to_json().value().get<std::string>(), body);
}

}  // namespace
