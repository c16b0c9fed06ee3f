// SPDX-License-Identifier: Apache-2.0
#pragma once

// The socket type's optional stream framing (`stream_framing::package`): transport framing,
// private to the socket type (Go's packer; never used by Go on the wire).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "beehive/errc.hpp"

namespace beehive::detail {

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

}  // namespace beehive::detail
