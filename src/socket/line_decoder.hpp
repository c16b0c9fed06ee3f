// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace beehive::detail {

/// One result of `line_decoder::next`.
struct line_item {
  std::string_view record;    ///< the record without its '\n' (empty when oversized)
  std::size_t oversized = 0;  ///< non-zero: a record that does not fit; a lower bound of its size
};

/// Incremental reader of newline-delimited records, as Go's beehive writes them on every socket
/// type: compact JSON followed by '\n' (compact JSON never holds a raw newline).
///
/// A record, with its '\n', must fit in `max_record` bytes. A longer one is reported once as
/// oversized (as soon as it is known to be too long, so a reader can close before the rest
/// arrives) and its bytes are skipped up to the next '\n': the records after it are intact, the
/// stream stays usable. Memory is one buffer of `capacity` bytes (at least `max_record`),
/// allocated on first use, never grown.
///
/// Feed it by `prepare` (read into the span) + `commit`, or by `append`; then call `next` until
/// it yields nothing. Record views stay valid until the next `prepare`, `append` or `release`.
/// Not thread-safe.
class line_decoder {
 public:
  /// `capacity` 0 means max(`max_record`, 64 KiB); a smaller value than `max_record` is raised.
  explicit line_decoder(std::size_t max_record, std::size_t capacity = 0);

  /// The free space to read into (never empty); moves a partial record to the front first.
  [[nodiscard]] std::span<char> prepare();
  /// `n` bytes were written at the start of the span `prepare` returned.
  void commit(std::size_t n) noexcept;
  /// Copies as much of `bytes` as fits; returns how much it took (drain with `next`, then
  /// append the rest).
  std::size_t append(std::string_view bytes);

  /// The next record or oversized notice, or nullopt when more bytes are needed.
  [[nodiscard]] std::optional<line_item> next() noexcept;

  /// Bytes of an incomplete record held (a peer closing now would leave it truncated). 0 while
  /// an oversized record is being skipped.
  [[nodiscard]] std::size_t buffered() const noexcept { return end_ - pos_; }
  /// Frees the buffer when it holds nothing (an idle reader); it is allocated again on demand.
  void release() noexcept;
  [[nodiscard]] std::size_t max_record() const noexcept { return max_record_; }
  /// Bytes allocated now (0 or the capacity).
  [[nodiscard]] std::size_t allocated() const noexcept { return buf_ ? capacity_ : 0; }

 private:
  std::size_t max_record_;
  std::size_t capacity_;
  std::unique_ptr<char[]> buf_;  // uninitialised: only the bytes read are ever touched
  std::size_t pos_ = 0;          // first byte not yet handed out
  std::size_t scan_ = 0;         // bytes before this (from pos_) hold no '\n'
  std::size_t end_ = 0;          // end of the bytes read
  bool skipping_ = false;        // inside an oversized record: drop bytes up to its '\n'
};

}  // namespace beehive::detail
