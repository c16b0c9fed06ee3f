// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "beehive/errc.hpp"

namespace beehive::detail {

/// Several numbered one-way records for one module, packed into one NATS message
/// (docs/architecture.md, "Batches").
///
/// Wire: a batch is the byte 0x00, then per record its length (4 bytes, little-endian) and its
/// bytes: the record's Go beehive JSON, unchanged. Its reply subject numbers the first record
/// (`<stream>-<seq>`); the others follow in order. A batch of one record is sent bare (the
/// record's JSON alone, as every record was before batches), so a payload that starts with
/// 0x00 is a batch and any other is one record: a JSON text never starts with 0x00.
///
/// Why: per NATS message, the server routes once, nats.c's reader parses once and allocates a
/// message, the subscription queues and wakes once, and nats.c's garbage collector frees once.
/// A flood of 250-byte records spent most of its CPU there; packed, it is spent per batch.
///
/// Per record appended: its encoding written into a buffer that keeps its capacity
/// (`append_encoded`; `append` copies an encoded one), no allocation once warm. Not thread-safe:
/// its owner (the peer endpoint) holds its lock.
class nats_batch {
 public:
  static constexpr char marker = '\0';
  static constexpr std::size_t frame_overhead = 4;

  /// Appends `record`, which follows the last one's number (`first` for the first).
  void append(std::string_view record, std::uint64_t seq_if_first) {
    (void)append_encoded(
        [record](std::string& buf) {
          buf.append(record);
          return expected<void>{};
        },
        seq_if_first, std::numeric_limits<std::size_t>::max());
  }
  /// Appends the record that `encode(buf)` appends to `buf` (an `expected<void>`): the record
  /// is written straight into the batch, with no copy. False, with nothing appended, when the
  /// batch would grow past `cap` bytes; an encode error leaves nothing appended either.
  template <class Encode>
  [[nodiscard]] expected<bool> append_encoded(Encode&& encode, std::uint64_t seq_if_first,
                                              std::size_t cap) {
    const std::size_t before = buf_.size();
    if (count_ == 0) buf_.assign(1, marker);
    const std::size_t at = buf_.size();
    buf_.append(frame_overhead, '\0');
    auto r = encode(buf_);
    if (!r || buf_.size() > cap) {
      buf_.resize(count_ == 0 ? 0 : before);
      if (!r) return unexpected(r.error());
      return false;
    }
    const auto n = static_cast<std::uint32_t>(buf_.size() - at - frame_overhead);
    for (std::size_t i = 0; i < frame_overhead; ++i) {
      buf_[at + i] = static_cast<char>((n >> (8 * i)) & 0xffU);
    }
    if (count_ == 0) first_ = seq_if_first;
    ++count_;
    last_ = n;
    return true;
  }
  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  /// The size of the last record appended (without its frame).
  [[nodiscard]] std::size_t last_record_bytes() const noexcept { return last_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  /// The first record's number.
  [[nodiscard]] std::uint64_t first() const noexcept { return first_; }
  /// The payload's size once `record_bytes` more are appended.
  [[nodiscard]] std::size_t size_with(std::size_t record_bytes) const noexcept {
    return (count_ == 0 ? 1 : buf_.size()) + frame_overhead + record_bytes;
  }
  /// What is published: the bare record for one, the batch for more.
  [[nodiscard]] std::string_view payload() const noexcept {
    const std::string_view all(buf_);
    return count_ == 1 ? all.substr(1 + frame_overhead) : all;
  }
  /// Empties it; the buffer keeps its capacity.
  void clear() noexcept {
    buf_.clear();
    count_ = 0;
  }

  /// True when `payload` is a batch (else it is one record).
  [[nodiscard]] static bool is_batch(std::string_view payload) noexcept {
    return !payload.empty() && payload.front() == marker;
  }
  /// Calls `fn(record)` for each record of the batch `payload`, in order. False when the
  /// framing is broken (a length past the end, or no record at all): the records before the
  /// break were given.
  template <class Fn>
  [[nodiscard]] static bool for_each(std::string_view payload, Fn&& fn) {
    if (!is_batch(payload)) return false;
    std::size_t at = 1;
    std::size_t n = 0;
    while (at < payload.size()) {
      if (payload.size() - at < frame_overhead) return false;
      std::uint32_t len = 0;
      for (std::size_t i = 0; i < frame_overhead; ++i) {
        len |= static_cast<std::uint32_t>(static_cast<unsigned char>(payload[at + i])) << (8 * i);
      }
      at += frame_overhead;
      if (len > payload.size() - at) return false;
      fn(payload.substr(at, len));
      at += len;
      ++n;
    }
    return n != 0;
  }

 private:
  std::string buf_;
  std::size_t count_ = 0;
  std::uint64_t first_ = 0;
  std::size_t last_ = 0;
};

}  // namespace beehive::detail
