// SPDX-License-Identifier: Apache-2.0
#pragma once

// The one place where a counter struct of the library becomes JSON fields and Prometheus
// series. A new counter is one row here: `/api/stats`, `/metrics`, `beehive stats` and the
// dashboard pick it up. A new struct (a transport's counters) is one `schema<>` specialization
// and one `admin::watch_*` that reads it. A context type's own counters need nothing here: the
// type lists them (`context_type::counters`) and the admin exports what it lists.

#include <array>
#include <string_view>

#include "beehive/module_options.hpp"
#include "beehive/socket_context.hpp"

namespace beehive::detail {

enum class metric_kind { counter, gauge };

/// One field of a counter struct: its JSON key, and the Prometheus series it feeds: family
/// name, an optional extra label (`outcome="accepted"`), kind and help.
template <class Stats>
struct stats_field {
  std::string_view json;
  std::string_view family;
  std::string_view label;        ///< extra label's name, or empty
  std::string_view label_value;  ///< its value
  metric_kind kind;
  std::string_view help;  ///< the family's help (the first row of a family gives it)
  double (*read)(const Stats&);
};

template <class Stats>
struct schema;

/// Fields of `inbox_stats`, one series each per module (label `module`).
template <>
struct schema<inbox_stats> {
  static constexpr std::string_view subject_label = "module";
  static constexpr std::array<stats_field<inbox_stats>, 10> fields = {{
      {"capacity", "beehive_inbox_capacity", "", "", metric_kind::gauge,
       "Messages a module's inbox holds.",
       [](const inbox_stats& s) { return static_cast<double>(s.capacity); }},
      {"queued", "beehive_inbox_depth", "", "", metric_kind::gauge,
       "Messages waiting in a module's inbox.",
       [](const inbox_stats& s) { return static_cast<double>(s.queued); }},
      {"accepted", "beehive_inbox_messages_total", "outcome", "accepted", metric_kind::counter,
       "Messages by what became of them: accepted into the inbox, received by the module, "
       "rejected (full, or a blocked send ended by cancel), dropped (oldest evicted, or "
       "dropped on close), coalesced (replaced by a newer message of the same key).",
       [](const inbox_stats& s) { return static_cast<double>(s.accepted); }},
      {"received", "beehive_inbox_messages_total", "outcome", "received", metric_kind::counter, "",
       [](const inbox_stats& s) { return static_cast<double>(s.received); }},
      {"rejected_full", "beehive_inbox_messages_total", "outcome", "rejected", metric_kind::counter,
       "", [](const inbox_stats& s) { return static_cast<double>(s.rejected_full); }},
      {"rejected_cancelled", "beehive_inbox_messages_total", "outcome", "rejected_cancelled",
       metric_kind::counter, "",
       [](const inbox_stats& s) { return static_cast<double>(s.rejected_cancelled); }},
      {"coalesced", "beehive_inbox_messages_total", "outcome", "coalesced", metric_kind::counter,
       "", [](const inbox_stats& s) { return static_cast<double>(s.coalesced); }},
      {"dropped_oldest", "beehive_inbox_messages_total", "outcome", "dropped_oldest",
       metric_kind::counter, "",
       [](const inbox_stats& s) { return static_cast<double>(s.dropped_oldest); }},
      {"dropped_on_close", "beehive_inbox_messages_total", "outcome", "dropped_on_close",
       metric_kind::counter, "",
       [](const inbox_stats& s) { return static_cast<double>(s.dropped_on_close); }},
      {"closed", "beehive_inbox_closed", "", "", metric_kind::gauge,
       "1 when the module's inbox is closed (cleaned up).",
       [](const inbox_stats& s) { return s.closed ? 1.0 : 0.0; }},
  }};
};

/// Fields of `lane_stats`, one series each per lane of a module with lanes (labels `module` and
/// `lane`, the lane's index).
template <>
struct schema<lane_stats> {
  static constexpr std::string_view subject_label = "module";
  static constexpr std::array<stats_field<lane_stats>, 7> fields = {{
      {"capacity", "beehive_lane_capacity", "", "", metric_kind::gauge,
       "Messages a lane of a module's inbox holds.",
       [](const lane_stats& s) { return static_cast<double>(s.capacity); }},
      {"queued", "beehive_lane_depth", "", "", metric_kind::gauge,
       "Messages waiting in a lane of a module's inbox.",
       [](const lane_stats& s) { return static_cast<double>(s.queued); }},
      {"accepted", "beehive_lane_messages_total", "outcome", "accepted", metric_kind::counter,
       "Messages of a lane by what became of them: accepted into the lane, received by the "
       "module, coalesced (replaced by a newer one of their key), rejected (full, timed out, "
       "cancelled), dropped (oldest evicted, or dropped on close).",
       [](const lane_stats& s) { return static_cast<double>(s.accepted); }},
      {"received", "beehive_lane_messages_total", "outcome", "received", metric_kind::counter, "",
       [](const lane_stats& s) { return static_cast<double>(s.received); }},
      {"coalesced", "beehive_lane_messages_total", "outcome", "coalesced", metric_kind::counter, "",
       [](const lane_stats& s) { return static_cast<double>(s.coalesced); }},
      {"rejected", "beehive_lane_messages_total", "outcome", "rejected", metric_kind::counter, "",
       [](const lane_stats& s) { return static_cast<double>(s.rejected); }},
      {"dropped", "beehive_lane_messages_total", "outcome", "dropped", metric_kind::counter, "",
       [](const lane_stats& s) { return static_cast<double>(s.dropped); }},
  }};
};

/// Fields of `socket_stats`, one series each per socket context (label `socket`).
template <>
struct schema<socket_stats> {
  static constexpr std::string_view subject_label = "socket";
  static constexpr std::array<stats_field<socket_stats>, 20> fields = {{
      {"connections_accepted", "beehive_socket_connections_total", "event", "accepted",
       metric_kind::counter,
       "Socket connections: accepted by the server, refused (connmax), lost (ended).",
       [](const socket_stats& s) { return static_cast<double>(s.connections_accepted); }},
      {"connections_refused", "beehive_socket_connections_total", "event", "refused",
       metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.connections_refused); }},
      {"connections_lost", "beehive_socket_connections_total", "event", "lost",
       metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.connections_lost); }},
      {"handshakes_rejected", "beehive_socket_handshakes_rejected_total", "", "",
       metric_kind::counter, "Connections whose first record was no accepted handshake.",
       [](const socket_stats& s) { return static_cast<double>(s.handshakes_rejected); }},
      {"connects", "beehive_socket_connects_total", "result", "ok", metric_kind::counter,
       "Client connect and handshake attempts (reconnects included), by result.",
       [](const socket_stats& s) { return static_cast<double>(s.connects); }},
      {"connect_failures", "beehive_socket_connects_total", "result", "failed",
       metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.connect_failures); }},
      {"records_in", "beehive_socket_records_total", "direction", "in", metric_kind::counter,
       "Records read from and written to sockets.",
       [](const socket_stats& s) { return static_cast<double>(s.records_in); }},
      {"records_out", "beehive_socket_records_total", "direction", "out", metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.records_out); }},
      {"malformed_records", "beehive_socket_bad_records_total", "kind", "malformed",
       metric_kind::counter, "Records rejected, by kind of fault.",
       [](const socket_stats& s) { return static_cast<double>(s.malformed_records); }},
      {"oversized_records", "beehive_socket_bad_records_total", "kind", "oversized",
       metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.oversized_records); }},
      {"bad_frames", "beehive_socket_bad_records_total", "kind", "bad_frame", metric_kind::counter,
       "", [](const socket_stats& s) { return static_cast<double>(s.bad_frames); }},
      {"truncated_frames", "beehive_socket_bad_records_total", "kind", "truncated",
       metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.truncated_frames); }},
      {"unknown_destination", "beehive_socket_undelivered_total", "reason", "unknown_destination",
       metric_kind::counter, "Records that did not reach their destination, by reason.",
       [](const socket_stats& s) { return static_cast<double>(s.unknown_destination); }},
      {"undeliverable", "beehive_socket_undelivered_total", "reason", "undeliverable",
       metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.undeliverable); }},
      {"outbound_rejected", "beehive_socket_undelivered_total", "reason", "outbound_rejected",
       metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.outbound_rejected); }},
      {"outbound_dropped", "beehive_socket_undelivered_total", "reason", "outbound_dropped",
       metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.outbound_dropped); }},
      {"outbound_unsent", "beehive_socket_undelivered_total", "reason", "outbound_unsent",
       metric_kind::counter, "",
       [](const socket_stats& s) { return static_cast<double>(s.outbound_unsent); }},
      {"forwarded", "beehive_socket_forwarded_total", "", "", metric_kind::counter,
       "Records handed to a module or another peer.",
       [](const socket_stats& s) { return static_cast<double>(s.forwarded); }},
      {"replies_routed", "beehive_socket_replies_total", "result", "routed", metric_kind::counter,
       "Replies read from connections: routed, or orphans.",
       [](const socket_stats& s) { return static_cast<double>(s.replies_routed); }},
      {"orphan_replies", "beehive_socket_replies_total", "result", "orphan", metric_kind::counter,
       "", [](const socket_stats& s) { return static_cast<double>(s.orphan_replies); }},
  }};
};

}  // namespace beehive::detail
