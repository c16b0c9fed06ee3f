// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <system_error>

#include "admin/snapshot.hpp"
#include "beehive/errc.hpp"
#include "beehive/message.hpp"

namespace beehive::detail {

/// `GET /api/stats`: every module (type, state, host, restarts, groups, inbox counters,
/// send_sync latency), groups, sockets, taps, the admin's counters. Field names come from
/// `stats_schema.hpp`.
[[nodiscard]] std::string render_stats_json(const system_snapshot& snap);
/// `GET /api/modules`: [{name, type, state, restarts, host, groups}].
[[nodiscard]] std::string render_modules_json(const system_snapshot& snap);
/// `GET /api/groups`: {group: [members]}.
[[nodiscard]] std::string render_groups_json(const system_snapshot& snap);

/// The smallest latency bound below which a fraction `q` of the calls fall; -1 when there are
/// none, +Inf when they fall past the last bound.
[[nodiscard]] double histogram_quantile(const latency_histogram& h, double q);

/// A body of `POST /api/send` or `/api/request`.
struct write_request {
  std::string module;  ///< destination module (or empty with `group`)
  std::string group;   ///< send: to a group instead
  message msg;
  std::chrono::milliseconds timeout{5000};  ///< request only
  std::uint32_t repeat = 1;                 ///< send only: copies sent, each with its own id
};

/// Why a write request was refused before anything was sent.
enum class request_fault {
  malformed_json,  ///< the body (or its `content`) is not JSON, or not an object
  bad_field,       ///< a field has the wrong type, or neither `module` nor `group` is given
};

/// Parses `{"module"|"group", "operation"?, "resource"?, "source"?, "content"?,
/// "timeout_ms"?, "repeat"? (1..1000000)}`.
[[nodiscard]] tl::expected<write_request, request_fault> parse_write_request(std::string_view body);

/// The errc's name as the API spells it (`module_not_found`, ...); "error" for other codes.
[[nodiscard]] std::string errc_name(const std::error_code& ec);
/// `{"error": name, "errc": value, "message": text}`.
[[nodiscard]] std::string error_json(std::string_view name, int code, std::string_view text);

}  // namespace beehive::detail
