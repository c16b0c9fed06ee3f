// SPDX-License-Identifier: Apache-2.0
#include "beehive/codec.hpp"

#include <charconv>
#include <cstring>
#include <utility>

#include "json_text.hpp"

namespace beehive {
namespace {

using detail::append_go_string;

// ---- encoding ---------------------------------------------------------------------------

// Appends `,"name":"value"` (or without the comma for the first field of an object).
inline void append_field(std::string& out, bool& first, std::string_view quoted_name,
                         std::string_view value) {
  if (!first) out.push_back(',');
  first = false;
  out.append(quoted_name);
  append_go_string(value, out);
}

// ---- decoding ---------------------------------------------------------------------------

// Go matches a JSON key to a struct field exactly first, then case-insensitively
// (bytes.EqualFold: ASCII case plus the Kelvin sign for k and the long s for s). Every field
// name here is lower-case ASCII and no two differ only by case, so one folded comparison gives
// the same answer as Go's two steps.
bool key_matches(std::string_view key, std::string_view name) noexcept {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < key.size() && j < name.size()) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A'))
                                                : static_cast<char>(c);
      if (lower != name[j]) return false;
      ++i;
    } else if (name[j] == 's' && key.substr(i, 2) == "\xC5\xBF") {  // U+017F long s
      i += 2;
    } else if (name[j] == 'k' && key.substr(i, 3) == "\xE2\x84\xAA") {  // U+212A Kelvin sign
      i += 3;
    } else {
      return false;
    }
    ++j;
  }
  return i == key.size() && j == name.size();
}

class record_reader {
 public:
  explicit record_reader(std::string_view t) noexcept : t_(t) {}

  void skip_space() noexcept {
    while (i_ < t_.size() && detail::is_json_space(t_[i_])) ++i_;
  }
  [[nodiscard]] bool at_end() const noexcept { return i_ == t_.size(); }
  [[nodiscard]] bool peek(char c) const noexcept { return i_ < t_.size() && t_[i_] == c; }
  bool consume(char c) noexcept {
    if (!peek(c)) return false;
    ++i_;
    return true;
  }
  // Consumes a `null` literal if one is next.
  bool consume_null() noexcept {
    if (t_.substr(i_, 4) != "null") return false;
    i_ += 4;
    return true;
  }

  // Reads an object key and the ':' after it. The view stays valid until the next key.
  bool key(std::string_view& out) {
    if (!peek('"')) return false;
    // Keys are nearly always plain ASCII: take them in place without copying.
    std::size_t j = i_ + 1;
    while (j < t_.size()) {
      const auto c = static_cast<unsigned char>(t_[j]);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      ++j;
    }
    if (j < t_.size() && t_[j] == '"') {
      out = t_.substr(i_ + 1, j - i_ - 1);
      i_ = j + 1;
    } else {
      if (!detail::decode_json_string(t_, i_, scratch_)) return false;
      out = scratch_;
    }
    skip_space();
    if (!consume(':')) return false;
    skip_space();
    return true;
  }

  // Reads a string value into `out`; `null` leaves `out` as it is (Go's rule).
  bool string_field(std::string& out) {
    if (consume_null()) return true;
    if (!peek('"')) return false;
    return detail::decode_json_string(t_, i_, out);
  }

  bool bool_field(bool& out) noexcept {
    if (consume_null()) return true;
    if (t_.substr(i_, 4) == "true") {
      out = true;
      i_ += 4;
      return true;
    }
    if (t_.substr(i_, 5) == "false") {
      out = false;
      i_ += 5;
      return true;
    }
    return false;
  }

  // An int64 field: Go refuses a fraction, an exponent or an out-of-range value.
  bool int_field(std::int64_t& out) noexcept {
    if (consume_null()) return true;
    const std::size_t start = i_;
    std::size_t end = i_;
    if (!scan_value(end)) return false;
    const std::string_view lit = t_.substr(start, end - start);
    if (lit.empty() || (lit.front() != '-' && (lit.front() < '0' || lit.front() > '9'))) {
      return false;
    }
    if (lit.find_first_of(".eE") != std::string_view::npos) return false;
    std::int64_t v = 0;
    const auto res = std::from_chars(lit.data(), lit.data() + lit.size(), v);
    if (res.ec != std::errc{} || res.ptr != lit.data() + lit.size()) return false;
    out = v;
    i_ = end;
    return true;
  }

  // Validates any value and skips it.
  bool skip_value() noexcept { return scan_value(i_); }

  // Reads the content value as verbatim text.
  bool content_field(beehive::content& out) {
    if (consume_null()) {
      // Go sets an interface{} field to nil on null.
      out = beehive::content{};
      return true;
    }
    const std::size_t start = i_;
    const auto r = detail::scan_json_value(t_, i_);
    if (!r.ok) return false;
    const std::string_view text = t_.substr(start, i_ - start);
    out = beehive::content::from_trusted_json_text(r.needs_sanitize
                                                       ? detail::sanitize_json_text(text)
                                                       : std::string(text));
    return true;
  }

  // Iterates the members of the object that starts here, calling `on_member(key)` with the
  // reader positioned on each value; `on_member` must consume the value.
  template <class F>
  bool object(F&& on_member) {
    if (!consume('{')) return false;
    skip_space();
    if (consume('}')) return true;
    for (;;) {
      std::string_view k;
      if (!key(k)) return false;
      if (!on_member(k)) return false;
      skip_space();
      if (consume('}')) return true;
      if (!consume(',')) return false;
      skip_space();
    }
  }

 private:
  bool scan_value(std::size_t& pos) const noexcept {
    return detail::scan_json_value(t_, pos).ok;
  }

  std::string_view t_;
  std::size_t i_ = 0;
  std::string scratch_;
};

bool decode_header(record_reader& r, message_header& h) {
  if (r.consume_null()) return true;
  return r.object([&](std::string_view k) {
    if (key_matches(k, "msg_id")) return r.string_field(h.id);
    if (key_matches(k, "parent_msg_id")) return r.string_field(h.parent_id);
    if (key_matches(k, "timestamp")) return r.int_field(h.timestamp);
    if (key_matches(k, "resourceversion")) return r.string_field(h.resource_version);
    if (key_matches(k, "sync")) return r.bool_field(h.sync);
    if (key_matches(k, "type")) return r.string_field(h.type);
    return r.skip_value();
  });
}

bool decode_route(record_reader& r, message_route& route) {
  if (r.consume_null()) return true;
  return r.object([&](std::string_view k) {
    if (key_matches(k, "source")) return r.string_field(route.source);
    if (key_matches(k, "destination")) return r.string_field(route.destination);
    if (key_matches(k, "group")) return r.string_field(route.group);
    if (key_matches(k, "operation")) return r.string_field(route.operation);
    if (key_matches(k, "resource")) return r.string_field(route.resource);
    return r.skip_value();
  });
}

constexpr char frame_prefix[] = {'b', 'e', 'e', 'h', 'v', '1', 'r', 'v'};
constexpr std::size_t frame_prefix_size = sizeof frame_prefix;

}  // namespace

expected<void> encode_message(const message& msg, std::string& out) {
  const std::size_t size_before = out.size();
  const auto& h = msg.header;
  const auto& rt = msg.route;
  out.append(R"({"header":{"msg_id":)");
  append_go_string(h.id, out);
  if (!h.parent_id.empty()) {
    out.append(R"(,"parent_msg_id":)");
    append_go_string(h.parent_id, out);
  }
  out.append(R"(,"timestamp":)");
  char num[24];
  const auto res = std::to_chars(num, num + sizeof num, h.timestamp);
  out.append(num, static_cast<std::size_t>(res.ptr - num));
  if (!h.resource_version.empty()) {
    out.append(R"(,"resourceversion":)");
    append_go_string(h.resource_version, out);
  }
  if (h.sync) out.append(R"(,"sync":true)");
  if (!h.type.empty()) {
    out.append(R"(,"type":)");
    append_go_string(h.type, out);
  }
  out.append(R"(},"route":{)");
  bool first = true;
  if (!rt.source.empty()) append_field(out, first, R"("source":)", rt.source);
  if (!rt.destination.empty()) append_field(out, first, R"("destination":)", rt.destination);
  if (!rt.group.empty()) append_field(out, first, R"("group":)", rt.group);
  if (!rt.operation.empty()) append_field(out, first, R"("operation":)", rt.operation);
  if (!rt.resource.empty()) append_field(out, first, R"("resource":)", rt.resource);
  out.append(R"(},"content":)");
  if (auto r = msg.content.write_json(out); !r) {
    out.resize(size_before);
    return r;
  }
  out.push_back('}');
  return {};
}

expected<std::string> encode_message(const message& msg) {
  std::string out;
  out.reserve(256);
  if (auto r = encode_message(msg, out); !r) return unexpected(r.error());
  return out;
}

expected<message> decode_message(std::string_view record) {
  record_reader r(record);
  message m;
  r.skip_space();
  if (!r.peek('{')) return unexpected(errc::protocol_error);
  const bool ok = r.object([&](std::string_view k) {
    if (key_matches(k, "header")) return decode_header(r, m.header);
    if (key_matches(k, "route")) return decode_route(r, m.route);
    if (key_matches(k, "content")) return r.content_field(m.content);
    return r.skip_value();
  });
  if (!ok) return unexpected(errc::protocol_error);
  r.skip_space();
  if (!r.at_end()) return unexpected(errc::protocol_error);
  return m;
}

void write_package_header(std::uint32_t length, char* out) noexcept {
  std::memcpy(out, frame_prefix, frame_prefix_size);
  out[8] = static_cast<char>((length >> 24) & 0xFF);
  out[9] = static_cast<char>((length >> 16) & 0xFF);
  out[10] = static_cast<char>((length >> 8) & 0xFF);
  out[11] = static_cast<char>(length & 0xFF);
}

void append_package(std::string_view payload, std::string& out) {
  char header[package_header_size];
  write_package_header(static_cast<std::uint32_t>(payload.size()), header);
  out.reserve(out.size() + package_header_size + payload.size());
  out.append(header, package_header_size);
  out.append(payload);
}

expected<std::uint32_t> read_package_header(std::string_view header12, std::size_t max_length) {
  if (header12.size() < package_header_size ||
      std::memcmp(header12.data(), frame_prefix, frame_prefix_size) != 0) {
    return unexpected(errc::protocol_error);
  }
  const auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(
                                          static_cast<unsigned char>(header12[i])); };
  const std::uint32_t length = (b(8) << 24) | (b(9) << 16) | (b(10) << 8) | b(11);
  if (length > max_length) return unexpected(errc::message_too_large);
  return length;
}

void frame_decoder::append(std::string_view data) {
  // A failed stream stays failed; its bytes are worthless.
  if (error_) return;
  // Drop what next() has already handed out (views into it expire on append, as documented).
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data);
}

expected<std::optional<std::string_view>> frame_decoder::next() {
  if (error_) return unexpected(error_);
  const std::size_t avail = buf_.size() - pos_;
  const std::string_view rest(buf_.data() + pos_, avail);
  if (avail < package_header_size) {
    // Reject a wrong magic as soon as its bytes arrive rather than waiting for 12 of them.
    const std::size_t n = avail < frame_prefix_size ? avail : frame_prefix_size;
    if (std::memcmp(rest.data(), frame_prefix, n) != 0) {
      error_ = make_error_code(errc::protocol_error);
      return unexpected(error_);
    }
    return std::optional<std::string_view>{};
  }
  const auto length = read_package_header(rest.substr(0, package_header_size), max_length_);
  if (!length) {
    error_ = length.error();
    return unexpected(error_);
  }
  if (avail - package_header_size < *length) return std::optional<std::string_view>{};
  pos_ += package_header_size + *length;
  return std::optional<std::string_view>{rest.substr(package_header_size, *length)};
}

}  // namespace beehive
