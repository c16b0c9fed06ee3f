// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "beehive/message.hpp"

namespace beehive::detail {

/// The records a sender sent to one module of another process and that the receiver has not
/// acknowledged yet, in sequence order: what is resent after a failover (docs/architecture.md,
/// "Failover").
///
/// Each one-way record gets the next sequence number (1, 2, ...) when it was published; the
/// receiver acknowledges cumulatively ("everything up to S arrived", in its credit grants),
/// which drops the copies up to S. The window keeps the `message` itself (moved in, no copy of
/// its content) and the record is encoded again when it is resent (the codec is
/// deterministic: the same bytes).

///
/// Storage: a ring that grows by doubling up to `limit` entries (allocated as records wait, not
/// up front); per kept record one move into the ring, no allocation once grown. An
/// acknowledged message stays in its slot until the slot is reused (or `clear`), then goes back
/// to the caller: the ring holds at most its capacity of messages. Not thread-safe: its owner (the
/// peer endpoint) holds its lock.
class nats_resend_window {
 public:
  /// `limit`: the most copies kept; `full()` past it (the sender waits as for credits).
  explicit nats_resend_window(std::size_t limit);

  /// The sequence number the next kept record gets.
  [[nodiscard]] std::uint64_t next_seq() const noexcept { return next_; }
  /// The highest cumulative acknowledgement heard.
  [[nodiscard]] std::uint64_t acked() const noexcept { return acked_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] bool full() const noexcept { return size_ >= limit_; }
  /// The encoded bytes of the copies not acknowledged (what `keep` was told).
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

  /// Keeps `msg` as record `next_seq()`, which was just published, `bytes` long encoded; the
  /// next number follows.
  /// Returns the acknowledged message whose slot it reuses (or an empty one), for the caller to
  /// destroy after it released its lock: a content's destructor is user code and may call the
  /// library (and so this window's owner) again.
  [[nodiscard]] message keep(message&& msg, std::size_t bytes = 0);
  /// The receiver has every record up to `seq`: their copies go.
  void acknowledge(std::uint64_t seq);
  /// Calls `fn(seq, const message&)` for each copy, oldest first; stops when it returns false.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t i = 0; i < size_; ++i) {
      const auto& e = ring_[(head_ + i) & (ring_.size() - 1)];
      if (!fn(e.seq, e.msg)) return;
    }
  }
  /// The newest copy's number and message; only when not empty.
  [[nodiscard]] std::uint64_t newest_seq() const noexcept { return next_ - 1; }
  [[nodiscard]] const message& newest() const noexcept {
    return ring_[(head_ + size_ - 1) & (ring_.size() - 1)].msg;
  }
  /// Drops every copy (the destination went), moving each message still held (acknowledged
  /// ones too) into `out`, to be destroyed outside the owner's lock as with `keep`; returns how
  /// many unacknowledged copies there were.
  std::size_t clear(std::vector<message>& out);

 private:
  struct entry {
    std::uint64_t seq = 0;
    message msg;
    std::size_t bytes = 0;
  };
  void grow();

  const std::size_t limit_;
  std::vector<entry> ring_;  // size: 0 or a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::uint64_t next_ = 1;
  std::uint64_t acked_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace beehive::detail
