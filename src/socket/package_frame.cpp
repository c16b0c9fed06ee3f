// SPDX-License-Identifier: Apache-2.0
#include "socket/package_frame.hpp"

#include <cstring>

namespace beehive::detail {
namespace {

constexpr char frame_prefix[] = {'b', 'e', 'e', 'h', 'v', '1', 'r', 'v'};
constexpr std::size_t frame_prefix_size = sizeof frame_prefix;

}  // namespace

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
  const auto b = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(header12[i]));
  };
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

}  // namespace beehive::detail
