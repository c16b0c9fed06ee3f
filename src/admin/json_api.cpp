// SPDX-License-Identifier: Apache-2.0
#include "admin/json_api.hpp"

#include <unistd.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "admin/stats_schema.hpp"

namespace beehive::detail {

namespace {

using json = nlohmann::json;

template <class Stats>
json fields_json(const Stats& s) {
  json out = json::object();
  for (const auto& f : schema<Stats>::fields) out[std::string(f.json)] = f.read(s);
  return out;
}

json number_or_null(double v) {
  if (v < 0) return nullptr;
  if (v == std::numeric_limits<double>::infinity()) return "+Inf";
  return v;
}

json module_json(const module_sample& m) {
  return json{{"name", m.name}, {"type", m.type},         {"state", m.state},
              {"host", m.host}, {"restarts", m.restarts}, {"groups", m.groups}};
}

}  // namespace

double histogram_quantile(const latency_histogram& h, double q) {
  if (h.count == 0) return -1;
  const double want = q * static_cast<double>(h.count);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < sync_latency_bounds.size(); ++i) {
    cumulative += h.buckets[i];
    if (static_cast<double>(cumulative) >= want) return sync_latency_bounds[i];
  }
  return std::numeric_limits<double>::infinity();
}

std::string render_stats_json(const system_snapshot& snap) {
  json modules = json::object();
  for (const auto& m : snap.modules) {
    json j = module_json(m);
    j.erase("name");
    if (m.inbox) {
      j["inbox"] = fields_json(*m.inbox);
      if (!m.inbox->lanes.empty()) {
        json lanes = json::array();
        for (const auto& l : m.inbox->lanes) lanes.push_back(fields_json(l));
        j["inbox"]["lanes"] = std::move(lanes);
      }
    }
    if (m.sync) {
      j["sync"] = {{"count", m.sync->count},
                   {"sum_seconds", m.sync->sum_seconds},
                   {"p50_seconds", number_or_null(histogram_quantile(*m.sync, 0.5))},
                   {"p99_seconds", number_or_null(histogram_quantile(*m.sync, 0.99))},
                   {"bounds", sync_latency_bounds},
                   {"buckets", m.sync->buckets}};
    }
    modules[m.name] = std::move(j);
  }
  json sockets = json::object();
  for (const auto& [name, s] : snap.sockets) sockets[name] = fields_json(s);
  json types = json::object();
  for (const auto& t : snap.types) {
    json counters = json::object();
    for (const auto& c : t.counters) counters[std::string(c.name)] = c.value;
    types[t.name] = std::move(counters);
  }
  const json out = {
      {"time_ms", snap.time_ms},
      {"pid", static_cast<long>(::getpid())},
      {"modules", std::move(modules)},
      {"groups", snap.groups},
      {"orphan_responses", snap.orphan_responses},
      {"tap",
       {{"attached", snap.tap.attached},
        {"delivered", snap.tap.delivered},
        {"dropped", snap.tap.dropped}}},
      {"sockets", std::move(sockets)},
      {"types", std::move(types)},
      {"admin",
       {{"requests", snap.admin.requests},
        {"refused_peer", snap.admin.refused_peer},
        {"refused_writes", snap.admin.refused_writes},
        {"malformed", snap.admin.malformed},
        {"oversized", snap.admin.oversized}}},
  };
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string render_modules_json(const system_snapshot& snap) {
  json list = json::array();
  for (const auto& m : snap.modules) list.push_back(module_json(m));
  return json{{"modules", std::move(list)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string render_groups_json(const system_snapshot& snap) {
  return json{{"groups", snap.groups}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

tl::expected<write_request, request_fault> parse_write_request(std::string_view body) {
  const json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return tl::unexpected(request_fault::malformed_json);
  write_request out;
  const auto text = [&](const char* key, std::string& into, std::string_view fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      into = std::string(fallback);
      return true;
    }
    if (!it->is_string()) return false;
    into = it->get<std::string>();
    return true;
  };
  std::string source;
  std::string operation;
  std::string resource;
  if (!text("module", out.module, "") || !text("group", out.group, "") ||
      !text("source", source, "beehive") || !text("operation", operation, "update") ||
      !text("resource", resource, "")) {
    return tl::unexpected(request_fault::bad_field);
  }
  if (out.module.empty() == out.group.empty()) return tl::unexpected(request_fault::bad_field);
  if (auto it = j.find("timeout_ms"); it != j.end()) {
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() > 3600U * 1000U) {
      return tl::unexpected(request_fault::bad_field);
    }
    out.timeout = std::chrono::milliseconds(it->get<std::int64_t>());
  }
  if (auto it = j.find("repeat"); it != j.end()) {
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() < 1 ||
        it->get<std::uint64_t>() > 1000000U) {
      return tl::unexpected(request_fault::bad_field);
    }
    out.repeat = it->get<std::uint32_t>();
  }
  out.msg = new_message().build_router(source, out.group, resource, operation);
  out.msg.route.destination = out.module;
  if (auto it = j.find("content"); it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      out.msg.fill_body(it->get<std::string>());
    } else {
      out.msg.fill_body(*it);
    }
  }
  return out;
}

std::string errc_name(const std::error_code& ec) {
  if (ec.category() != beehive_category()) return "error";
  switch (static_cast<errc>(ec.value())) {
    case errc::module_not_found:
      return "module_not_found";
    case errc::group_not_found:
      return "group_not_found";
    case errc::queue_full:
      return "queue_full";
    case errc::channel_closed:
      return "channel_closed";
    case errc::timed_out:
      return "timed_out";
    case errc::orphan_response:
      return "orphan_response";
    case errc::cancelled:
      return "cancelled";
    case errc::already_exists:
      return "already_exists";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::type_mismatch:
      return "type_mismatch";
    case errc::not_serializable:
      return "not_serializable";
    case errc::protocol_error:
      return "protocol_error";
    case errc::message_too_large:
      return "message_too_large";
    case errc::not_connected:
      return "not_connected";
    case errc::unsupported_type:
      return "unsupported_type";
    case errc::config_error:
      return "config_error";
    case errc::would_block:
      return "would_block";
  }
  return "error";
}

std::string error_json(std::string_view name, int code, std::string_view text) {
  return json{{"error", name}, {"errc", code}, {"message", text}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

}  // namespace beehive::detail
