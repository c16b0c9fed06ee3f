// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_subject.hpp"

#include <charconv>
#include <utility>

namespace beehive::detail {
namespace {

bool plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string encode_token(std::string_view text) {
  bool as_is = !text.empty() && text.front() != '~';
  for (const char c : text) as_is = as_is && plain(c);
  if (as_is) return std::string(text);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(1 + 2 * text.size());
  out.push_back('~');
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(digits[b >> 4U]);
    out.push_back(digits[b & 15U]);
  }
  return out;
}

std::optional<std::string> decode_token(std::string_view token) {
  if (token.empty()) return std::nullopt;
  if (token.front() != '~') {
    for (const char c : token) {
      if (!plain(c)) return std::nullopt;
    }
    return std::string(token);
  }
  token.remove_prefix(1);
  if (token.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(token.size() / 2);
  for (std::size_t i = 0; i < token.size(); i += 2) {
    const int hi = hex_value(token[i]);
    const int lo = hex_value(token[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

subjects::subjects(std::string name_space, std::string me)
    : ns(std::move(name_space)), process(std::move(me)) {}

std::string subjects::module(std::string_view module_name) const {
  return ns + ".m." + encode_token(module_name) + "." + process;
}

std::string subjects::module_wildcard(std::string_view module_name) const {
  return ns + ".m." + encode_token(module_name) + ".*";
}

std::string subjects::group(std::string_view group_name) const {
  return ns + ".g." + encode_token(group_name) + "." + process;
}

std::string subjects::group_wildcard(std::string_view group_name) const {
  return ns + ".g." + encode_token(group_name) + ".*";
}

std::string subjects::reply_to(std::string_view module_name, std::string_view request_id) const {
  return reply_prefix() + "." + encode_token(module_name) + "." + encode_token(request_id);
}

std::string_view subjects::last_token(std::string_view subject) {
  const auto dot = subject.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : subject.substr(dot + 1);
}

std::optional<subjects::sequence> subjects::parse_sequence(std::string_view token) {
  const auto dash = token.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  sequence s;
  const char* const end = token.data() + token.size();
  auto a = std::from_chars(token.data(), token.data() + dash, s.stream);
  if (a.ec != std::errc{} || a.ptr != token.data() + dash || dash == 0) return std::nullopt;
  auto b = std::from_chars(token.data() + dash + 1, end, s.seq);
  if (b.ec != std::errc{} || b.ptr != end || dash + 1 == token.size()) return std::nullopt;
  if (s.stream == 0) return std::nullopt;
  return s;
}

void subjects::write_sequence(std::string& out, sequence s) {
  char digits[24];  // a uint64_t has at most 20 digits
  auto r = std::to_chars(digits, digits + sizeof(digits), s.stream);
  out.assign(digits, static_cast<std::size_t>(r.ptr - digits));
  out.push_back('-');
  r = std::to_chars(digits, digits + sizeof(digits), s.seq);
  out.append(digits, static_cast<std::size_t>(r.ptr - digits));
}

}  // namespace beehive::detail
