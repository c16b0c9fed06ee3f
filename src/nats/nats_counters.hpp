// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>

#include "beehive/nats.hpp"

namespace beehive::detail {

/// The live counters behind `nats_stats`, shared by the type and its endpoints. Relaxed.
struct nats_counters {
  using counter = std::atomic<std::uint64_t>;
  counter published{0}, received{0}, delivered{0}, undeliverable{0}, malformed{0};
  counter replies_in{0}, replies_out{0}, orphan_replies{0}, no_responders{0}, oversized{0};
  counter publish_failures{0}, credit_waits{0}, credit_refusals{0}, credits_granted{0};
  counter relay_waits{0};
  counter nats_dropped{0}, slow_consumer_events{0}, async_errors{0}, unacknowledged{0};
  counter disconnects{0}, reconnects{0}, peers_joined{0}, peers_left{0}, peers_expired{0};
  counter name_conflicts{0};
  counter resent{0}, duplicates{0}, sequence_gaps{0}, batches{0};
  counter group_batches{0};

  static void bump(counter& c, std::uint64_t n = 1) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
  }

  [[nodiscard]] nats_stats snapshot() const noexcept {
    nats_stats s;
    s.published = published.load();
    s.received = received.load();
    s.delivered = delivered.load();
    s.undeliverable = undeliverable.load();
    s.malformed = malformed.load();
    s.replies_in = replies_in.load();
    s.replies_out = replies_out.load();
    s.orphan_replies = orphan_replies.load();
    s.no_responders = no_responders.load();
    s.oversized = oversized.load();
    s.publish_failures = publish_failures.load();
    s.credit_waits = credit_waits.load();
    s.credit_refusals = credit_refusals.load();
    s.credits_granted = credits_granted.load();
    s.relay_waits = relay_waits.load();
    s.nats_dropped = nats_dropped.load();
    s.slow_consumer_events = slow_consumer_events.load();
    s.async_errors = async_errors.load();
    s.unacknowledged = unacknowledged.load();
    s.disconnects = disconnects.load();
    s.reconnects = reconnects.load();
    s.peers_joined = peers_joined.load();
    s.peers_left = peers_left.load();
    s.peers_expired = peers_expired.load();
    s.name_conflicts = name_conflicts.load();
    s.resent = resent.load();
    s.duplicates = duplicates.load();
    s.sequence_gaps = sequence_gaps.load();
    s.batches = batches.load();
    s.group_batches = group_batches.load();
    return s;
  }
};

}  // namespace beehive::detail
