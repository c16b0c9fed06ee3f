// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// Runs of bytes inside a JSON string that need no work, found 16 bytes at a time (SSE2, which
// every x86-64 has; a byte table elsewhere). The string escaper, the validator and the string
// decoder call these to skip the common case (printable ASCII) and handle one byte at a time
// only where something must be escaped, unescaped or checked. Both return the index of the
// first byte at or after `i` that is not in the run (or `s.size()`); neither allocates.

namespace beehive::detail {

// Printable ASCII except `"` and `\`: what a JSON string holds as is and needs no UTF-8 check.
constexpr std::array<bool, 256> make_plain_string_byte() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[static_cast<std::size_t>(c)] = true;
  t['"'] = t['\\'] = false;
  return t;
}
inline constexpr std::array<bool, 256> plain_string_byte = make_plain_string_byte();

// What Go's encoding/json writes as is with HTML escaping on (its htmlSafeSet): printable ASCII
// except `"` `\` `<` `>` `&`, plus DEL.
constexpr std::array<bool, 256> make_html_safe_byte() {
  std::array<bool, 256> t = make_plain_string_byte();
  t['<'] = t['>'] = t['&'] = false;
  return t;
}
inline constexpr std::array<bool, 256> html_safe_byte = make_html_safe_byte();

namespace runs {
#if defined(__SSE2__)
// Bits set for the bytes of the 16 at `p` that are below 0x20 or from 0x80 on (a signed
// compare catches both: bytes from 0x80 are negative as int8).
inline unsigned special_or(__m128i v, __m128i extra) noexcept {
  const __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(low, extra)));
}
inline __m128i load16(const char* p) noexcept {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
#endif

// End of the run that starts at `s[i]` of the bytes `table` marks: printable ASCII but `"`
// and `\`, and with `Html` also but `<` `>` `&` (the SSE2 loop tests the same set).
template <bool Html>
inline std::size_t skip(std::string_view s, std::size_t i,
                        const std::array<bool, 256>& table) noexcept {
  const std::size_t n = s.size();
  const char* p = s.data();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i lt = _mm_set1_epi8('<');
  const __m128i gt = _mm_set1_epi8('>');
  const __m128i amp = _mm_set1_epi8('&');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = load16(p + i);
    __m128i extra = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
    if constexpr (Html) {
      extra = _mm_or_si128(extra,
                           _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, gt)),
                                        _mm_cmpeq_epi8(v, amp)));
    }
    if (const unsigned m = special_or(v, extra); m != 0) {
      return i + static_cast<std::size_t>(std::countr_zero(m));
    }
  }
#endif
  while (i < n && table[static_cast<unsigned char>(p[i])]) ++i;
  return i;
}
}  // namespace runs

/// End of the run of `plain_string_byte` bytes that starts at `s[i]`.
inline std::size_t skip_plain_string_bytes(std::string_view s, std::size_t i) noexcept {
  return runs::skip<false>(s, i, plain_string_byte);
}

/// End of the run of `html_safe_byte` bytes that starts at `s[i]`.
inline std::size_t skip_html_safe_bytes(std::string_view s, std::size_t i) noexcept {
  return runs::skip<true>(s, i, html_safe_byte);
}

}  // namespace beehive::detail
