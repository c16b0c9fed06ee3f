// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>

#include "beehive/socket_context.hpp"

namespace beehive::detail {

/// The live counters behind `socket_stats`. Shared (by `shared_ptr`) between the socket type
/// and its connections' endpoints, which a routing snapshot may keep a little longer than the
/// type. Thread-safe; relaxed increments.
struct socket_counters {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> handshakes_rejected{0};
  std::atomic<std::uint64_t> connections_lost{0};
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> records_in{0};
  std::atomic<std::uint64_t> records_out{0};
  std::atomic<std::uint64_t> malformed_records{0};
  std::atomic<std::uint64_t> oversized_records{0};
  std::atomic<std::uint64_t> bad_frames{0};
  std::atomic<std::uint64_t> truncated_frames{0};
  std::atomic<std::uint64_t> unknown_destination{0};
  std::atomic<std::uint64_t> undeliverable{0};
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::uint64_t> replies_routed{0};
  std::atomic<std::uint64_t> orphan_replies{0};
  std::atomic<std::uint64_t> outbound_rejected{0};
  std::atomic<std::uint64_t> outbound_dropped{0};
  std::atomic<std::uint64_t> outbound_unsent{0};

  static void bump(std::atomic<std::uint64_t>& c) noexcept {
    c.fetch_add(1, std::memory_order_relaxed);
  }

  [[nodiscard]] socket_stats snapshot() const noexcept {
    socket_stats s;
    s.connections_accepted = connections_accepted.load();
    s.connections_refused = connections_refused.load();
    s.handshakes_rejected = handshakes_rejected.load();
    s.connections_lost = connections_lost.load();
    s.connects = connects.load();
    s.connect_failures = connect_failures.load();
    s.records_in = records_in.load();
    s.records_out = records_out.load();
    s.malformed_records = malformed_records.load();
    s.oversized_records = oversized_records.load();
    s.bad_frames = bad_frames.load();
    s.truncated_frames = truncated_frames.load();
    s.unknown_destination = unknown_destination.load();
    s.undeliverable = undeliverable.load();
    s.forwarded = forwarded.load();
    s.replies_routed = replies_routed.load();
    s.orphan_replies = orphan_replies.load();
    s.outbound_rejected = outbound_rejected.load();
    s.outbound_dropped = outbound_dropped.load();
    s.outbound_unsent = outbound_unsent.load();
    return s;
  }
};

}  // namespace beehive::detail
