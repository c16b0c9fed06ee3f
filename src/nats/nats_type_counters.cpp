// SPDX-License-Identifier: Apache-2.0
// The nats type's counters (`nats_stats`) as named counters, for the admin API
// (`context_type::counters`). One row per field of `nats_stats`.
#include <array>

#include "nats/nats_type.hpp"

namespace beehive::detail {

namespace {

struct row {
  std::string_view name;
  std::string_view help;
  std::uint64_t nats_stats::*field;
};

constexpr std::array<row, 30> rows = {{
    {"published", "Records published to a module of another process.", &nats_stats::published},
    {"received", "Records received for a module hosted here.", &nats_stats::received},
    {"delivered", "Records received and taken by the module's inbox.", &nats_stats::delivered},
    {"undeliverable", "Records received that the inbox refused (closed, full, timed out).",
     &nats_stats::undeliverable},
    {"malformed", "Records received that are not beehive JSON.", &nats_stats::malformed},
    {"replies_in", "Replies received and handed to the reply table.", &nats_stats::replies_in},
    {"replies_out", "Replies published to a requester's process.", &nats_stats::replies_out},
    {"orphan_replies", "Replies received that nobody waited for.", &nats_stats::orphan_replies},
    {"no_responders", "Sync requests nobody subscribed to.", &nats_stats::no_responders},
    {"oversized", "Records refused before sending: larger than the server's max_payload.",
     &nats_stats::oversized},
    {"publish_failures", "Publishes nats.c refused (disconnected, buffer full).",
     &nats_stats::publish_failures},
    {"credit_waits", "Sends that waited for flow-control credits.", &nats_stats::credit_waits},
    {"credit_refusals", "Sends refused for lack of flow-control credits.",
     &nats_stats::credit_refusals},
    {"credits_granted", "Flow-control credits granted back to senders.",
     &nats_stats::credits_granted},
    {"relay_waits", "Times a received record waited for room in a full block inbox.",
     &nats_stats::relay_waits},
    {"nats_dropped", "Messages NATS dropped for a slow subscription of this process.",
     &nats_stats::nats_dropped},
    {"slow_consumer_events", "Asynchronous slow-consumer errors.",
     &nats_stats::slow_consumer_events},
    {"async_errors", "Other asynchronous errors.", &nats_stats::async_errors},
    {"unacknowledged",
     "Records sent but not acknowledged when their destination went (or, if not resent, when "
     "a link failed over): possibly lost.",
     &nats_stats::unacknowledged},
    {"disconnects", "Disconnections from the NATS server.", &nats_stats::disconnects},
    {"reconnects", "Reconnections to a NATS server.", &nats_stats::reconnects},
    {"peers_joined", "Modules of other processes that appeared.", &nats_stats::peers_joined},
    {"peers_left", "Modules of other processes gone by a clean leave.", &nats_stats::peers_left},
    {"peers_expired", "Modules of other processes gone because their process fell silent.",
     &nats_stats::peers_expired},
    {"name_conflicts", "Announcements of a name another process holds.",
     &nats_stats::name_conflicts},
    {"resent", "Records published again after a failover (not acknowledged); also in published.",
     &nats_stats::resent},
    {"duplicates", "Records received twice (resent or replayed) and dropped.",
     &nats_stats::duplicates},
    {"sequence_gaps", "Numbered records a receiver gave up waiting for: lost.",
     &nats_stats::sequence_gaps},
    {"batches", "NATS messages that carried several records to one module (records in published).",
     &nats_stats::batches},
    {"group_batches",
     "NATS messages published once on a group's subject for several members (copies in "
     "published).",
     &nats_stats::group_batches},
}};

// Every field of nats_stats has its row (all are std::uint64_t).
static_assert(sizeof(nats_stats) == rows.size() * sizeof(std::uint64_t));

}  // namespace

std::vector<type_counter> nats_type::counters() const {
  const nats_stats s = stats();
  std::vector<type_counter> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back({r.name, r.help, s.*r.field});
  return out;
}

}  // namespace beehive::detail
