// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "beehive/message.hpp"

namespace beehive {

/// Appends the message's compact JSON form to `out`, byte for byte as Go's encoding/json writes
/// it (field order header, route, content; empty optional fields omitted; `route` always there).
/// No trailing newline. Returns `not_serializable` when the content holds a C++ object that has
/// no JSON form; `out` is then left as it was.
[[nodiscard]] expected<void> encode_message(const message& msg, std::string& out);
/// The compact JSON form as a new string.
[[nodiscard]] expected<std::string> encode_message(const message& msg);

/// Decodes one record (compact or not; one trailing '\n' allowed). The content is kept as
/// verbatim JSON text (`content_kind::raw_json`), so forwarding it costs no parse; `null` or an
/// absent content gives null content. Absent fields stay empty (never reused from an earlier
/// message). Returns `protocol_error` for anything that is not one valid message object.
///
/// Follows Go's encoding/json: keys match exactly, else case-insensitively; unknown keys are
/// ignored (but must be valid JSON); `null` for a header or route field leaves it as it was; the
/// last duplicate wins; invalid UTF-8 and lone surrogates in strings become U+FFFD (in the
/// content text as the escape `\ufffd`). Strict otherwise: a wrong field type, a timestamp that
/// is not an int64, a content number beyond float64 range, nesting deeper than 10000, trailing
/// bytes or a non-object top level are errors. Thread-safe (no shared state).
[[nodiscard]] expected<message> decode_message(std::string_view record);

/// Package framing for stream sockets: `beeh` `v1` `rv` + big-endian uint32 payload length.
inline constexpr std::size_t package_header_size = 12;
inline constexpr std::string_view package_magic = "beeh";

/// Writes the 12-byte package header for a payload of `length` bytes into `out[0..12)`.
void write_package_header(std::uint32_t length, char* out) noexcept;
/// Appends header + payload to `out`.
void append_package(std::string_view payload, std::string& out);
/// Reads a 12-byte package header. Returns `protocol_error` for a wrong magic or version,
/// `message_too_large` when the length exceeds `max_length`.
[[nodiscard]] expected<std::uint32_t> read_package_header(std::string_view header12,
                                                          std::size_t max_length);

/// Incremental decoder of a package-framed byte stream.
///
/// Feed it whatever the socket gave (`append`), then call `next` until it yields no payload.
/// After an error the stream cannot be trusted: every later call returns the same error.
/// Not thread-safe.
class frame_decoder {
 public:
  explicit frame_decoder(std::size_t max_length) : max_length_(max_length) {}

  void append(std::string_view bytes);
  /// The next complete payload (valid until the next call to `append` or `next`), `nullopt`
  /// when more bytes are needed, or an error (`protocol_error`, `message_too_large`).
  [[nodiscard]] expected<std::optional<std::string_view>> next();
  /// Bytes buffered but not yet returned (a peer closing now would leave a truncated frame).
  [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size() - pos_; }

 private:
  std::size_t max_length_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::error_code error_;
};

}  // namespace beehive
