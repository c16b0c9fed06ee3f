// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

// Private JSON text helpers shared by content.cpp, codec.cpp and the socket context: Go's
// encoding/json string escaping, number formatting, base64, and a strict, allocation-free JSON
// validator.

namespace beehive::detail {

/// Appends `s` as a JSON string literal (quotes included) escaped as Go's encoding/json does
/// with HTML escaping on: `"` `\` escaped, \n \r \t short, other controls and `<` `>` `&` as
/// \u00XX, U+2028/U+2029 escaped, each invalid UTF-8 byte as \ufffd, `/` left alone.
void append_go_string(std::string_view s, std::string& out);

/// Whether a JSON object key selects the struct field `name`, as Go's encoding/json matches
/// them: exactly, else case-insensitively (bytes.EqualFold: ASCII case plus the long s for s and
/// the Kelvin sign for k). `name` is lower-case ASCII.
[[nodiscard]] bool key_matches(std::string_view key, std::string_view name) noexcept;

/// Appends `j` as compact JSON as Go's encoding/json writes it: Go's string escaping, Go's
/// float format, object keys in byte order (as Go sorts map keys), binary as base64.
void write_go_json(const nlohmann::json& j, std::string& out);

/// Appends a float64 as Go's encoding/json formats it (shortest round-trip digits, `e` form
/// below 1e-6 or from 1e21 on, exponent without a leading zero). NaN and infinities, which Go
/// refuses, are written as `null`.
void append_go_float(double v, std::string& out);

/// Appends standard base64 (with padding) of `data` to `out`, as Go encodes `[]byte`.
void append_base64(const std::uint8_t* data, std::size_t size, std::string& out);

/// Decodes standard base64 with padding, as Go's encoding/json accepts it for `[]byte`.
/// Returns false on malformed input.
bool decode_base64(std::string_view in, std::string& out);

/// Length in bytes of the valid UTF-8 sequence at `s[i]` (as Go's utf8.DecodeRune accepts it:
/// no overlong forms, no surrogates, nothing above U+10FFFF), or 0 when it is invalid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

/// Result of scanning one JSON value.
struct json_scan_result {
  bool ok = false;
  /// The value holds invalid UTF-8 or a lone surrogate escape, which Go turns into U+FFFD.
  bool needs_sanitize = false;
};

/// Maximum nesting of arrays and objects accepted (Go's decoder limit).
inline constexpr std::size_t max_json_depth = 10000;

/// Validates one JSON value starting at `text[pos]` (no leading whitespace skipped) strictly by
/// RFC 8259 and advances `pos` past it. With `check_number_range`, a number beyond float64 range
/// (which Go refuses to decode) is invalid too. Never allocates; not recursive.
json_scan_result scan_json_value(std::string_view text, std::size_t& pos,
                                 bool check_number_range = true) noexcept;

/// Rewrites a value that `scan_json_value` flagged with `needs_sanitize`: each invalid UTF-8 byte
/// and each lone surrogate escape inside strings becomes `\ufffd`, so the text is valid for every
/// JSON parser and means what Go would make of it.
std::string sanitize_json_text(std::string_view valid_text);

/// Decodes the JSON string literal whose opening quote is at `text[pos]` into `out` (replacing
/// its contents) with Go's semantics: escapes resolved, lone surrogates and invalid UTF-8 bytes
/// become U+FFFD. Advances `pos` past the closing quote. Returns false on malformed input.
/// `String` is std::string or a message field's short_string (instantiated in json_text.cpp),
/// so the decoder writes straight into a message without a temporary.
template <class String>
bool decode_json_string(std::string_view text, std::size_t& pos, String& out);

inline bool is_json_space(char c) noexcept {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

}  // namespace beehive::detail
