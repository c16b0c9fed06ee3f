// SPDX-License-Identifier: Apache-2.0
#include "beehive/codec.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <utility>

#include "codec/json_runs.hpp"
#include "codec/json_text.hpp"

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
    if (!peek('n') || t_.substr(i_, 4) != "null") return false;
    i_ += 4;
    return true;
  }

  // Reads an object key and the ':' after it. The view stays valid until the next key.
  bool key(std::string_view& out) {
    if (!peek('"')) return false;
    // Keys are nearly always plain ASCII: take them in place without copying.
    const std::size_t j = detail::skip_plain_string_bytes(t_, i_ + 1);
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

  // Reads a string value straight into `out`; `null` leaves `out` as it is (Go's rule).
  template <class String>
  bool string_field(String& out) {
    if (consume_null()) return true;
    if (!peek('"')) return false;
    return detail::decode_json_string(t_, i_, out);
  }

  bool bool_field(bool& out) noexcept {
    if (consume_null()) return true;
    if (peek('t') && t_.substr(i_, 4) == "true") {
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
    const std::size_t n = t_.size();
    std::size_t j = i_;
    const bool negative = j < n && t_[j] == '-';
    if (negative) ++j;
    auto digit = [&](std::size_t k) { return k < n && t_[k] >= '0' && t_[k] <= '9'; };
    if (!digit(j)) return false;
    std::uint64_t v = 0;
    if (t_[j] == '0') {
      ++j;
      if (digit(j)) return false;  // a leading zero is not JSON
    } else {
      // 19 digits always fit in a uint64 (and one more is beyond int64 anyway), so the loop
      // needs no overflow check per digit.
      const std::size_t first = j;
      while (digit(j)) {
        if (j - first == 19) return false;
        v = v * 10 + static_cast<std::uint64_t>(t_[j] - '0');
        ++j;
      }
    }
    if (j < n && (t_[j] == '.' || t_[j] == 'e' || t_[j] == 'E')) return false;
    constexpr std::uint64_t max_positive = static_cast<std::uint64_t>(INT64_MAX);
    if (negative) {
      if (v > max_positive + 1) return false;
      // Negating in unsigned arithmetic and converting back is exact for INT64_MIN too.
      out = v == max_positive + 1 ? INT64_MIN : -static_cast<std::int64_t>(v);
    } else {
      if (v > max_positive) return false;
      out = static_cast<std::int64_t>(v);
    }
    i_ = j;
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
    // The text is copied once, into the content's one allocation (no temporary string).
    out = r.needs_sanitize
              ? beehive::content::from_trusted_json_text(detail::sanitize_json_text(text))
              : beehive::content::from_trusted_json_text(text);
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
  // Go only checks the syntax of a value it skips, so its numbers are not range-checked.
  bool scan_value(std::size_t& pos) const noexcept {
    return detail::scan_json_value(t_, pos, /*check_number_range=*/false).ok;
  }

  std::string_view t_;
  std::size_t i_ = 0;
  std::string scratch_;
};

// Field lookup: an exact match first (what every real peer sends, a cheap compare), then Go's
// case-insensitive match. Returns the index of the field in `names`, or -1.
template <std::size_t N>
int field_index(std::string_view key, const std::array<std::string_view, N>& names) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    if (key == names[i]) return static_cast<int>(i);
  }
  for (std::size_t i = 0; i < N; ++i) {
    if (detail::key_matches(key, names[i])) return static_cast<int>(i);
  }
  return -1;
}

constexpr std::array<std::string_view, 6> header_names = {
    "msg_id", "parent_msg_id", "timestamp", "resourceversion", "sync", "type"};
constexpr std::array<std::string_view, 5> route_names = {"source", "destination", "group",
                                                         "operation", "resource"};
constexpr std::array<std::string_view, 3> top_names = {"header", "route", "content"};

bool decode_header(record_reader& r, message_header& h) {
  if (r.consume_null()) return true;
  return r.object([&](std::string_view k) {
    switch (field_index(k, header_names)) {
      case 0:
        return r.string_field(h.id);
      case 1:
        return r.string_field(h.parent_id);
      case 2:
        return r.int_field(h.timestamp);
      case 3:
        return r.string_field(h.resource_version);
      case 4:
        return r.bool_field(h.sync);
      case 5:
        return r.string_field(h.type);
      default:
        return r.skip_value();
    }
  });
}

bool decode_route(record_reader& r, message_route& route) {
  if (r.consume_null()) return true;
  return r.object([&](std::string_view k) {
    switch (field_index(k, route_names)) {
      case 0:
        return r.string_field(route.source);
      case 1:
        return r.string_field(route.destination);
      case 2:
        return r.string_field(route.group);
      case 3:
        return r.string_field(route.operation);
      case 4:
        return r.string_field(route.resource);
      default:
        return r.skip_value();
    }
  });
}

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
    switch (field_index(k, top_names)) {
      case 0:
        return decode_header(r, m.header);
      case 1:
        return decode_route(r, m.route);
      case 2:
        return r.content_field(m.content);
      default:
        return r.skip_value();
    }
  });
  if (!ok) return unexpected(errc::protocol_error);
  r.skip_space();
  if (!r.at_end()) return unexpected(errc::protocol_error);
  return m;
}

}  // namespace beehive
