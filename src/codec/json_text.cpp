// SPDX-License-Identifier: Apache-2.0
#include "codec/json_text.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <system_error>

#include "beehive/short_string.hpp"
#include "codec/json_runs.hpp"

namespace beehive::detail {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline unsigned char byte_at(std::string_view s, std::size_t i) noexcept {
  return static_cast<unsigned char>(s[i]);
}

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the 4 hex digits at s[i..i+4); -1 when they are not 4 hex digits.
inline long read_hex4(std::string_view s, std::size_t i) noexcept {
  if (i + 4 > s.size()) return -1;
  long v = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    const int h = hex_value(s[i + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// Scans a string whose opening quote is at text[pos]; leaves pos after the closing quote.
bool scan_string(std::string_view text, std::size_t& pos, bool& needs_sanitize) noexcept {
  std::size_t i = pos + 1;
  const std::size_t n = text.size();
  while (i < n) {
    i = skip_plain_string_bytes(text, i);
    if (i >= n) return false;
    const unsigned char c = byte_at(text, i);
    if (c == '"') {
      pos = i + 1;
      return true;
    }
    if (c == '\\') {
      if (i + 1 >= n) return false;
      const char e = text[i + 1];
      switch (e) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          i += 2;
          continue;
        case 'u': {
          const long u = read_hex4(text, i + 2);
          if (u < 0) return false;
          if (u >= 0xD800 && u <= 0xDFFF) {
            // Only a high surrogate followed by a low one is a character; Go replaces the rest.
            bool paired = false;
            if (u <= 0xDBFF && i + 12 <= n && text[i + 6] == '\\' && text[i + 7] == 'u') {
              const long lo = read_hex4(text, i + 8);
              if (lo >= 0xDC00 && lo <= 0xDFFF) paired = true;
            }
            if (paired) {
              i += 12;
              continue;
            }
            needs_sanitize = true;
          }
          i += 6;
          continue;
        }
        default:
          return false;
      }
    }
    if (c < 0x20) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(text, i);
    if (len == 0) {
      needs_sanitize = true;
      ++i;
    } else {
      i += len;
    }
  }
  return false;
}

// True when a valid JSON number literal is beyond the range of a float64 (Go refuses to decode
// it, and so does nlohmann::json). Underflow to zero is fine for both.
bool overflows_double(std::string_view lit) noexcept {
  double v = 0;
  const auto res = std::from_chars(lit.data(), lit.data() + lit.size(), v);
  if (res.ec != std::errc::result_out_of_range) return false;
  // Out of range is either overflow or underflow: tell them apart by the decimal exponent.
  std::size_t i = lit[0] == '-' ? 1 : 0;
  long long e10 = 0;
  if (lit[i] != '0') {
    while (i < lit.size() && lit[i] >= '0' && lit[i] <= '9') {
      ++e10;
      ++i;
    }
    --e10;
  } else {
    ++i;
    e10 = -1;
    if (i < lit.size() && lit[i] == '.') {
      ++i;
      while (i < lit.size() && lit[i] == '0') {
        --e10;
        ++i;
      }
    }
  }
  const std::size_t e = lit.find_first_of("eE");
  if (e != std::string_view::npos) {
    std::size_t k = e + 1;
    const bool negative = lit[k] == '-';
    if (lit[k] == '-' || lit[k] == '+') ++k;
    long long x = 0;
    for (; k < lit.size(); ++k) {
      if (x < 1000000) x = x * 10 + (lit[k] - '0');  // saturates far beyond any double
    }
    e10 += negative ? -x : x;
  }
  return e10 > 0;
}

bool scan_number(std::string_view text, std::size_t& pos, bool check_range) noexcept {
  std::size_t i = pos;
  bool has_exponent = false;
  const std::size_t n = text.size();
  auto digit = [&](std::size_t k) { return k < n && text[k] >= '0' && text[k] <= '9'; };
  if (i < n && text[i] == '-') ++i;
  if (!digit(i)) return false;
  if (text[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < n && text[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    has_exponent = true;
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (check_range && (has_exponent || i - pos > 308) &&
      overflows_double(text.substr(pos, i - pos))) {
    return false;
  }
  pos = i;
  return true;
}

bool scan_literal(std::string_view text, std::size_t& pos, std::string_view word) noexcept {
  if (text.substr(pos, word.size()) != word) return false;
  pos += word.size();
  return true;
}

inline void skip_space(std::string_view text, std::size_t& pos) noexcept {
  while (pos < text.size() && is_json_space(text[pos])) ++pos;
}

// A fixed bit stack: 1 = inside an object, 0 = inside an array. Keeps the validator free of
// allocation and recursion for any depth up to max_json_depth.
class container_stack {
 public:
  bool push(bool object) noexcept {
    if (depth_ >= max_json_depth) return false;
    const std::size_t w = depth_ / 64, b = depth_ % 64;
    if (object) {
      bits_[w] |= (std::uint64_t{1} << b);
    } else {
      bits_[w] &= ~(std::uint64_t{1} << b);
    }
    ++depth_;
    return true;
  }
  void pop() noexcept { --depth_; }
  [[nodiscard]] bool top_is_object() const noexcept {
    const std::size_t d = depth_ - 1;
    return (bits_[d / 64] >> (d % 64)) & 1U;
  }
  [[nodiscard]] std::size_t depth() const noexcept { return depth_; }

 private:
  // Left uninitialized on purpose: a bit is always written by push() before it is read, and
  // zeroing 1.25 KiB per value would cost more than validating a typical record.
  std::array<std::uint64_t, (max_json_depth + 63) / 64> bits_;
  std::size_t depth_ = 0;
};

// Appends the UTF-8 form of `cp` to `out` (a std::string or a short_string).
template <class String>
void append_utf8(std::uint32_t cp, String& out) {
  char b[4];
  std::size_t n = 0;
  if (cp < 0x80) {
    b[n++] = static_cast<char>(cp);
  } else if (cp < 0x800) {
    b[n++] = static_cast<char>(0xC0 | (cp >> 6));
    b[n++] = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    b[n++] = static_cast<char>(0xE0 | (cp >> 12));
    b[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    b[n++] = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    b[n++] = static_cast<char>(0xF0 | (cp >> 18));
    b[n++] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    b[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    b[n++] = static_cast<char>(0x80 | (cp & 0x3F));
  }
  out.append(b, n);
}

}  // namespace

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const std::size_t n = s.size();
  const unsigned char c = byte_at(s, i);
  if (c < 0x80) return 1;
  auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    if (k >= n) return false;
    const unsigned char b = byte_at(s, k);
    return b >= lo && b <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c == 0xE0) return cont(i + 1, 0xA0, 0xBF) && cont(i + 2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (c == 0xED) return cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;
  if (c == 0xF0) return cont(i + 1, 0x90, 0xBF) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c == 0xF4) return cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

void append_go_string(std::string_view s, std::string& out) {
  out.push_back('"');
  std::size_t start = 0;
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    i = skip_html_safe_bytes(s, i);
    if (i >= n) break;
    const unsigned char c = byte_at(s, i);
    if (c < 0x80) {
      out.append(s.data() + start, i - start);
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default: {
          const char esc[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 0xF]};
          out.append(esc, 6);
        }
      }
      start = ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(s, i);
    if (len == 0) {
      out.append(s.data() + start, i - start);
      out.append("\\ufffd");
      start = ++i;
      continue;
    }
    // U+2028 and U+2029 (E2 80 A8/A9) break JavaScript string literals; Go escapes them.
    if (len == 3 && c == 0xE2 && byte_at(s, i + 1) == 0x80 &&
        (byte_at(s, i + 2) == 0xA8 || byte_at(s, i + 2) == 0xA9)) {
      out.append(s.data() + start, i - start);
      out.append(byte_at(s, i + 2) == 0xA8 ? "\\u2028" : "\\u2029");
      i += 3;
      start = i;
      continue;
    }
    i += len;
  }
  out.append(s.data() + start, n - start);
  out.push_back('"');
}

void write_go_json(const nlohmann::json& j, std::string& out) {
  using value_t = nlohmann::json::value_t;
  switch (j.type()) {
    case value_t::null:
    case value_t::discarded:
      out.append("null");
      return;
    case value_t::boolean:
      out.append(j.get_ref<const bool&>() ? "true" : "false");
      return;
    case value_t::number_integer:
      out.append(std::to_string(j.get_ref<const nlohmann::json::number_integer_t&>()));
      return;
    case value_t::number_unsigned:
      out.append(std::to_string(j.get_ref<const nlohmann::json::number_unsigned_t&>()));
      return;
    case value_t::number_float:
      append_go_float(j.get_ref<const nlohmann::json::number_float_t&>(), out);
      return;
    case value_t::string:
      append_go_string(j.get_ref<const std::string&>(), out);
      return;
    case value_t::binary: {
      // Go has no binary JSON type; the nearest is []byte, which it writes as base64.
      const auto& b = j.get_binary();
      out.push_back('"');
      append_base64(b.data(), b.size(), out);
      out.push_back('"');
      return;
    }
    case value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : j) {
        if (!first) out.push_back(',');
        first = false;
        write_go_json(e, out);
      }
      out.push_back(']');
      return;
    }
    case value_t::object: {
      // nlohmann::json keeps object keys in a std::map: byte-wise order, as Go sorts map keys.
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : j.items()) {
        if (!first) out.push_back(',');
        first = false;
        append_go_string(key, out);
        out.push_back(':');
        write_go_json(value, out);
      }
      out.push_back('}');
      return;
    }
  }
}

void append_go_float(double v, std::string& out) {
  if (!std::isfinite(v)) {
    out.append("null");
    return;
  }
  const double a = std::fabs(v);
  const bool exp_form = a != 0 && (a < 1e-6 || a >= 1e21);
  char buf[64];
  const auto res =
      std::to_chars(buf, buf + sizeof buf, v,
                    exp_form ? std::chars_format::scientific : std::chars_format::fixed);
  std::size_t len = static_cast<std::size_t>(res.ptr - buf);
  if (exp_form && len >= 4 && buf[len - 4] == 'e' && buf[len - 3] == '-' && buf[len - 2] == '0') {
    // Go writes e-7, not e-07.
    buf[len - 2] = buf[len - 1];
    --len;
  }
  out.append(buf, len);
}

void append_base64(const std::uint8_t* data, std::size_t size, std::string& out) {
  out.reserve(out.size() + (size + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const std::uint32_t v =
        (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(base64_alphabet[(v >> 18) & 63]);
    out.push_back(base64_alphabet[(v >> 12) & 63]);
    out.push_back(base64_alphabet[(v >> 6) & 63]);
    out.push_back(base64_alphabet[v & 63]);
  }
  if (const std::size_t rest = size - i; rest > 0) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    if (rest == 2) v |= std::uint32_t{data[i + 1]} << 8;
    out.push_back(base64_alphabet[(v >> 18) & 63]);
    out.push_back(base64_alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? base64_alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

bool decode_base64(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.reserve(out.size() + in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const int a = value(in[i]), b = value(in[i + 1]);
    if (a < 0 || b < 0) return false;
    const bool pad2 = last && in[i + 2] == '=' && in[i + 3] == '=';
    const bool pad1 = last && !pad2 && in[i + 3] == '=';
    const int c = pad2 ? 0 : value(in[i + 2]);
    const int d = (pad1 || pad2) ? 0 : value(in[i + 3]);
    if (c < 0 || d < 0) return false;
    const auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
    // Go's decoder is strict: the unused bits before padding must be zero.
    if (pad2 && (v & 0xFFFF) != 0) return false;
    if (pad1 && (v & 0xFF) != 0) return false;
    out.push_back(static_cast<char>((v >> 16) & 0xFF));
    if (!pad2) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    if (!pad1 && !pad2) out.push_back(static_cast<char>(v & 0xFF));
  }
  return true;
}

json_scan_result scan_json_value(std::string_view text, std::size_t& pos,
                                 bool check_number_range) noexcept {
  json_scan_result r;
  container_stack stack;
  std::size_t i = pos;
  const std::size_t n = text.size();
  for (;;) {
    // Expecting a value at i.
    skip_space(text, i);
    if (i >= n) return r;
    bool have_value = false;
    switch (text[i]) {
      case '{':
        // An empty container counts toward the depth too, as in Go's scanner.
        if (stack.depth() >= max_json_depth) return r;
        ++i;
        skip_space(text, i);
        if (i < n && text[i] == '}') {
          ++i;
          have_value = true;
          break;
        }
        if (!stack.push(true)) return r;
        if (i >= n || text[i] != '"' || !scan_string(text, i, r.needs_sanitize)) return r;
        skip_space(text, i);
        if (i >= n || text[i] != ':') return r;
        ++i;
        continue;
      case '[':
        if (stack.depth() >= max_json_depth) return r;
        ++i;
        skip_space(text, i);
        if (i < n && text[i] == ']') {
          ++i;
          have_value = true;
          break;
        }
        if (!stack.push(false)) return r;
        continue;
      case '"':
        if (!scan_string(text, i, r.needs_sanitize)) return r;
        have_value = true;
        break;
      case 't':
        if (!scan_literal(text, i, "true")) return r;
        have_value = true;
        break;
      case 'f':
        if (!scan_literal(text, i, "false")) return r;
        have_value = true;
        break;
      case 'n':
        if (!scan_literal(text, i, "null")) return r;
        have_value = true;
        break;
      default:
        if (!scan_number(text, i, check_number_range)) return r;
        have_value = true;
        break;
    }
    (void)have_value;
    // After a complete value: close containers or move to the next element.
    for (;;) {
      if (stack.depth() == 0) {
        pos = i;
        r.ok = true;
        return r;
      }
      skip_space(text, i);
      if (i >= n) return r;
      const char c = text[i];
      if (stack.top_is_object()) {
        if (c == '}') {
          ++i;
          stack.pop();
          continue;
        }
        if (c != ',') return r;
        ++i;
        skip_space(text, i);
        if (i >= n || text[i] != '"' || !scan_string(text, i, r.needs_sanitize)) return r;
        skip_space(text, i);
        if (i >= n || text[i] != ':') return r;
        ++i;
        break;
      }
      if (c == ']') {
        ++i;
        stack.pop();
        continue;
      }
      if (c != ',') return r;
      ++i;
      break;
    }
  }
}

std::string sanitize_json_text(std::string_view t) {
  std::string out;
  out.reserve(t.size() + 16);
  std::size_t i = 0;
  const std::size_t n = t.size();
  bool in_string = false;
  while (i < n) {
    const unsigned char c = byte_at(t, i);
    if (!in_string) {
      if (c == '"') in_string = true;
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = false;
      out.push_back('"');
      ++i;
      continue;
    }
    if (c == '\\') {
      if (i + 1 < n && t[i + 1] == 'u') {
        const long u = read_hex4(t, i + 2);
        if (u >= 0xD800 && u <= 0xDFFF) {
          if (u <= 0xDBFF && i + 12 <= n && t[i + 6] == '\\' && t[i + 7] == 'u') {
            const long lo = read_hex4(t, i + 8);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
              out.append(t.data() + i, 12);
              i += 12;
              continue;
            }
          }
          out.append("\\ufffd");
          i += 6;
          continue;
        }
        out.append(t.data() + i, 6);
        i += 6;
        continue;
      }
      out.append(t.data() + i, 2);
      i += 2;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence_length(t, i);
    if (len == 0) {
      out.append("\\ufffd");
      ++i;
    } else {
      out.append(t.data() + i, len);
      i += len;
    }
  }
  return out;
}

template <class String>
bool decode_json_string(std::string_view t, std::size_t& pos, String& out) {
  const std::size_t n = t.size();
  std::size_t i = pos + 1;
  // Fast path: plain ASCII without escapes is copied in one go.
  std::size_t j = skip_plain_string_bytes(t, i);
  out.assign(t.data() + i, j - i);
  i = j;
  while (i < n) {
    const unsigned char c = byte_at(t, i);
    if (c == '"') {
      pos = i + 1;
      return true;
    }
    if (c == '\\') {
      if (i + 1 >= n) return false;
      switch (t[i + 1]) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          const long u = read_hex4(t, i + 2);
          if (u < 0) return false;
          i += 6;
          if (u >= 0xD800 && u <= 0xDFFF) {
            // Go: a valid pair is one character; any other surrogate becomes U+FFFD.
            if (u <= 0xDBFF && i + 6 <= n && t[i] == '\\' && t[i + 1] == 'u') {
              const long lo = read_hex4(t, i + 2);
              if (lo >= 0xDC00 && lo <= 0xDFFF) {
                append_utf8(
                    static_cast<std::uint32_t>(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)),
                    out);
                i += 6;
                continue;
              }
            }
            append_utf8(0xFFFD, out);
            continue;
          }
          append_utf8(static_cast<std::uint32_t>(u), out);
          continue;
        }
        default:
          return false;
      }
      i += 2;
      continue;
    }
    if (c < 0x20) return false;
    if (c < 0x80) {
      // A run of plain bytes between escapes: one append.
      const std::size_t end = skip_plain_string_bytes(t, i);
      out.append(t.data() + i, end - i);
      i = end;
      continue;
    }
    const std::size_t len = utf8_sequence_length(t, i);
    if (len == 0) {
      // Go replaces each invalid byte with U+FFFD.
      append_utf8(0xFFFD, out);
      ++i;
    } else {
      out.append(t.data() + i, len);
      i += len;
    }
  }
  return false;
}

// The string types the decoder writes into: std::string and each distinct size of
// short_string in message_header and message_route. A new field size needs a line here (the
// linker says so).
template bool decode_json_string(std::string_view, std::size_t&, std::string&);
template bool decode_json_string(std::string_view, std::size_t&, short_string<16>&);
template bool decode_json_string(std::string_view, std::size_t&, short_string<21>&);
template bool decode_json_string(std::string_view, std::size_t&, short_string<23>&);
template bool decode_json_string(std::string_view, std::size_t&, short_string<31>&);
template bool decode_json_string(std::string_view, std::size_t&, short_string<39>&);

bool key_matches(std::string_view key, std::string_view name) noexcept {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < key.size() && j < name.size()) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      const char lower =
          (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : static_cast<char>(c);
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

}  // namespace beehive::detail
