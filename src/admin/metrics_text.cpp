// SPDX-License-Identifier: Apache-2.0
#include "admin/metrics_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <string_view>

#include "admin/stats_schema.hpp"

namespace beehive::detail {

namespace {

void append_number(std::string& out, double v) {
  char buf[64];
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  std::to_chars_result r;
  if (v == std::floor(v) && std::fabs(v) < 9.0e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);
  }
  out.append(buf, r.ptr);
}

void header(std::string& out, std::string_view family, std::string_view help,
            std::string_view type) {
  out += "# HELP ";
  out += family;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += family;
  out += ' ';
  out += type;
  out += '\n';
}

// One sample: family{label="value",...} number
class sample {
 public:
  sample(std::string& out, std::string_view family) : out_(out) { out_ += family; }
  sample& label(std::string_view name, std::string_view value) {
    out_ += first_ ? '{' : ',';
    first_ = false;
    out_ += name;
    out_ += "=\"";
    append_label_value(out_, value);
    out_ += '"';
    return *this;
  }
  void value(double v) {
    if (!first_) out_ += '}';
    out_ += ' ';
    append_number(out_, v);
    out_ += '\n';
  }

 private:
  std::string& out_;
  bool first_ = true;
};

// Every family of a schema, for every subject (module, socket) that has the stats.
template <class Stats, class Subjects, class Get>
void render_schema(std::string& out, const Subjects& subjects, Get get) {
  const auto& fields = schema<Stats>::fields;
  std::set<std::string_view> done;
  for (const auto& f : fields) {
    if (!done.insert(f.family).second) continue;
    header(out, f.family, f.help, f.kind == metric_kind::counter ? "counter" : "gauge");
    for (const auto& subject : subjects) {
      const auto [name, stats] = get(subject);
      if (stats == nullptr) continue;
      for (const auto& g : fields) {
        if (g.family != f.family) continue;
        sample s(out, g.family);
        s.label(schema<Stats>::subject_label, *name);
        if (!g.label.empty()) s.label(g.label, g.label_value);
        s.value(g.read(*stats));
      }
    }
  }
}

// The lanes of every module that has lanes (labels module, lane).
void render_lanes(std::string& out, const std::vector<module_sample>& modules) {
  const bool any = std::any_of(modules.begin(), modules.end(), [](const module_sample& m) {
    return m.inbox && !m.inbox->lanes.empty();
  });
  if (!any) return;
  const auto& fields = schema<lane_stats>::fields;
  std::set<std::string_view> done;
  char lane[24];
  for (const auto& f : fields) {
    if (!done.insert(f.family).second) continue;
    header(out, f.family, f.help, f.kind == metric_kind::counter ? "counter" : "gauge");
    for (const auto& m : modules) {
      if (!m.inbox) continue;
      for (std::size_t i = 0; i < m.inbox->lanes.size(); ++i) {
        const auto r = std::to_chars(lane, lane + sizeof lane, i);
        const std::string_view lane_text(lane, static_cast<std::size_t>(r.ptr - lane));
        for (const auto& g : fields) {
          if (g.family != f.family) continue;
          sample s(out, g.family);
          s.label("module", m.name).label("lane", lane_text);
          if (!g.label.empty()) s.label(g.label, g.label_value);
          s.value(g.read(m.inbox->lanes[i]));
        }
      }
    }
  }
}

// A name part of a metric family: [a-zA-Z0-9_] kept, anything else becomes '_'.
void append_name_part(std::string& out, std::string_view text) {
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += ok ? c : '_';
  }
}

// The counters each context type lists: one family each, beehive_<type>_<counter>_total. A
// family two counters would share (names equal once sanitized) is given once.
void render_types(std::string& out, const std::vector<type_sample>& types) {
  std::set<std::string> done;
  for (const auto& t : types) {
    for (const auto& c : t.counters) {
      std::string family = "beehive_";
      append_name_part(family, t.name);
      family += '_';
      append_name_part(family, c.name);
      family += "_total";
      if (!done.insert(family).second) continue;
      header(out, family,
             c.help.empty() ? std::string_view("A counter of the context type.") : c.help,
             "counter");
      sample(out, family).value(static_cast<double>(c.value));
    }
  }
}

constexpr std::string_view core_states[] = {"registered", "running", "restarting", "stopped",
                                            "failed"};

}  // namespace

void append_label_value(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

std::string render_metrics(const system_snapshot& snap) {
  std::string out;
  out.reserve(512 + snap.modules.size() * 2048);

  render_schema<inbox_stats>(out, snap.modules, [](const module_sample& m) {
    return std::pair{&m.name, m.inbox ? &*m.inbox : nullptr};
  });
  render_lanes(out, snap.modules);

  header(out, "beehive_module_state",
         "1 for the state a module is in (a core's states; live or closed for modules no core "
         "runs).",
         "gauge");
  for (const auto& m : snap.modules) {
    const bool by_core = m.state != "live" && m.state != "closed";
    if (by_core) {
      for (const auto st : core_states) {
        sample(out, "beehive_module_state")
            .label("module", m.name)
            .label("state", st)
            .value(m.state == st ? 1 : 0);
      }
    } else {
      for (const std::string_view st : {"live", "closed"}) {
        sample(out, "beehive_module_state")
            .label("module", m.name)
            .label("state", st)
            .value(m.state == st ? 1 : 0);
      }
    }
  }
  header(out, "beehive_module_restarts_total", "Times a module's start was restarted.", "counter");
  for (const auto& m : snap.modules) {
    sample(out, "beehive_module_restarts_total")
        .label("module", m.name)
        .value(static_cast<double>(m.restarts));
  }
  header(out, "beehive_module_info", "A module's context type and host (local or remote).",
         "gauge");
  for (const auto& m : snap.modules) {
    sample(out, "beehive_module_info")
        .label("module", m.name)
        .label("type", m.type)
        .label("host", m.host)
        .value(1);
  }
  header(out, "beehive_group_members", "Live members of a group.", "gauge");
  for (const auto& [group, members] : snap.groups) {
    sample(out, "beehive_group_members")
        .label("group", group)
        .value(static_cast<double>(members.size()));
  }

  header(out, "beehive_send_sync_duration_seconds",
         "Time send_sync calls to a module took, whatever their outcome (recorded while the "
         "admin API runs).",
         "histogram");
  for (const auto& m : snap.modules) {
    if (!m.sync) continue;
    std::uint64_t cumulative = 0;
    char le[32];
    for (std::size_t i = 0; i < sync_latency_bounds.size(); ++i) {
      cumulative += m.sync->buckets[i];
      const auto r =
          std::to_chars(le, le + sizeof le, sync_latency_bounds[i], std::chars_format::general);
      sample(out, "beehive_send_sync_duration_seconds_bucket")
          .label("module", m.name)
          .label("le", std::string_view(le, static_cast<std::size_t>(r.ptr - le)))
          .value(static_cast<double>(cumulative));
    }
    sample(out, "beehive_send_sync_duration_seconds_bucket")
        .label("module", m.name)
        .label("le", "+Inf")
        .value(static_cast<double>(m.sync->count));
    sample(out, "beehive_send_sync_duration_seconds_sum")
        .label("module", m.name)
        .value(m.sync->sum_seconds);
    sample(out, "beehive_send_sync_duration_seconds_count")
        .label("module", m.name)
        .value(static_cast<double>(m.sync->count));
  }

  header(out, "beehive_orphan_responses_total", "Replies that nobody waited for.", "counter");
  sample(out, "beehive_orphan_responses_total").value(static_cast<double>(snap.orphan_responses));

  header(out, "beehive_taps", "Taps attached now.", "gauge");
  sample(out, "beehive_taps").value(static_cast<double>(snap.tap.attached));
  header(out, "beehive_tap_messages_total",
         "Copies of messages offered to taps: delivered to a tap's queue, or dropped (full).",
         "counter");
  sample(out, "beehive_tap_messages_total")
      .label("outcome", "delivered")
      .value(static_cast<double>(snap.tap.delivered));
  sample(out, "beehive_tap_messages_total")
      .label("outcome", "dropped")
      .value(static_cast<double>(snap.tap.dropped));

  if (!snap.sockets.empty()) {
    render_schema<socket_stats>(out, snap.sockets, [](const auto& s) {
      return std::pair{&s.first, &s.second};
    });
  }

  render_types(out, snap.types);

  header(out, "beehive_admin_requests_total", "Requests the admin API served.", "counter");
  sample(out, "beehive_admin_requests_total").value(static_cast<double>(snap.admin.requests));
  header(out, "beehive_admin_refused_total", "Requests the admin API refused, by reason.",
         "counter");
  const std::pair<std::string_view, std::uint64_t> refused[] = {
      {"peer", snap.admin.refused_peer},
      {"writes_disabled", snap.admin.refused_writes},
      {"malformed", snap.admin.malformed},
      {"oversized", snap.admin.oversized}};
  for (const auto& [reason, n] : refused) {
    sample(out, "beehive_admin_refused_total")
        .label("reason", reason)
        .value(static_cast<double>(n));
  }
  return out;
}

}  // namespace beehive::detail
