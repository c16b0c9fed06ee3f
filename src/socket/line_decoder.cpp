// SPDX-License-Identifier: Apache-2.0
#include "socket/line_decoder.hpp"

#include <algorithm>
#include <cstring>

namespace beehive::detail {
namespace {

constexpr std::size_t default_capacity = 64 * 1024;

}  // namespace

line_decoder::line_decoder(std::size_t max_record, std::size_t capacity)
    : max_record_(std::max<std::size_t>(max_record, 1)),
      capacity_(std::max(capacity == 0 ? default_capacity : capacity, max_record_)) {}

std::span<char> line_decoder::prepare() {
  // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): uninitialised on purpose (see header)
  if (!buf_) buf_.reset(new char[capacity_]);
  if (pos_ == end_) {
    pos_ = scan_ = end_ = 0;
  } else if (pos_ > 0 && capacity_ - end_ < capacity_ / 4 + 1) {
    // Little room left at the tail: move the partial record to the front. It is shorter than
    // max_record (else `next` would have reported it), so room remains.
    std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
    scan_ -= pos_;
    end_ -= pos_;
    pos_ = 0;
  }
  return {buf_.get() + end_, capacity_ - end_};
}

void line_decoder::commit(std::size_t n) noexcept { end_ = std::min(end_ + n, capacity_); }

std::size_t line_decoder::append(std::string_view bytes) {
  const auto space = prepare();
  const std::size_t n = std::min(space.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), n);
  commit(n);
  return n;
}

std::optional<line_item> line_decoder::next() noexcept {
  if (!buf_) return std::nullopt;
  char* const base = buf_.get();
  for (;;) {
    if (skipping_) {
      const auto* nl = static_cast<const char*>(std::memchr(base + pos_, '\n', end_ - pos_));
      if (nl == nullptr) {
        pos_ = scan_ = end_;  // the oversized record's bytes are dropped as they come
        return std::nullopt;
      }
      pos_ = scan_ = static_cast<std::size_t>(nl - base) + 1;
      skipping_ = false;
      continue;
    }
    const auto* nl = static_cast<const char*>(std::memchr(base + scan_, '\n', end_ - scan_));
    if (nl != nullptr) {
      const std::size_t start = pos_;
      const auto stop = static_cast<std::size_t>(nl - base);
      pos_ = scan_ = stop + 1;
      const std::size_t len = stop - start;
      if (len + 1 > max_record_) return line_item{{}, len + 1};
      return line_item{{base + start, len}, 0};
    }
    scan_ = end_;
    if (end_ - pos_ >= max_record_) {
      // Known too long before its end: report it now, skip the rest.
      const std::size_t seen = end_ - pos_ + 1;
      pos_ = scan_ = end_;
      skipping_ = true;
      return line_item{{}, seen};
    }
    return std::nullopt;
  }
}

void line_decoder::release() noexcept {
  if (pos_ != end_) return;
  buf_.reset();
  pos_ = scan_ = end_ = 0;
}

}  // namespace beehive::detail
