// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace beehive::detail {

/// What a receiver has seen of one sender's numbered records for one module: the records that
/// come twice after a failover (the sender resends what was not acknowledged, and nats.c also
/// replays its reconnect buffer) are recognised and dropped (docs/architecture.md, "Failover").
///
/// A sender numbers each stream of records (one per peer endpoint life: `stream`) 1, 2, ...
/// The window keeps `floor`, the highest number below which every record was seen (what the
/// receiver acknowledges), and a bitmap of the `span` numbers above it. A record at or below the
/// floor, or whose bit is set, is a duplicate. A record more than `span` above the floor slides
/// the window: the numbers it passes that were never seen are given up (`skipped`; the sender
/// bounds what it has unacknowledged, so this only happens to a sender that misbehaves). A
/// record of a newer stream starts the window again; one of an older stream is not checked.
///
/// Per record: a few arithmetic operations and one bit test; the floor moves once per record
/// on average. Not thread-safe: only the module's delivery thread touches it.
class nats_dedup_window {
 public:
  /// `span`: numbers tracked above the floor (rounded up to a multiple of 64; at least 64).
  explicit nats_dedup_window(std::size_t span);

  /// True when record `seq` of `stream` is new (and it is now marked seen); false for a
  /// duplicate.
  [[nodiscard]] bool accept(std::uint64_t stream, std::uint64_t seq);

  [[nodiscard]] std::uint64_t stream() const noexcept { return stream_; }
  /// Every record of `stream()` up to this one was seen.
  [[nodiscard]] std::uint64_t floor() const noexcept { return floor_; }
  /// The highest number seen of `stream()`.
  [[nodiscard]] std::uint64_t highest() const noexcept { return highest_; }
  /// A record above the floor was seen: some below it are missing (lost, or on their way).
  [[nodiscard]] bool gap() const noexcept { return highest_ > floor_; }
  /// Numbers given up when the window slid past them unseen.
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }

 private:
  [[nodiscard]] bool test(std::uint64_t seq) const noexcept;
  void set(std::uint64_t seq) noexcept;
  void reset(std::uint64_t seq) noexcept;

  std::vector<std::uint64_t> bits_;  // bit (seq % span) for floor < seq <= floor + span
  std::uint64_t span_;
  std::uint64_t stream_ = 0;
  std::uint64_t floor_ = 0;
  std::uint64_t highest_ = 0;
  std::uint64_t skipped_ = 0;
};

}  // namespace beehive::detail
