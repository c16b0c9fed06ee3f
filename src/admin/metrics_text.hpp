// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include "admin/snapshot.hpp"

namespace beehive::detail {

/// A snapshot in the Prometheus text exposition format (version 0.0.4): every family with its
/// HELP and TYPE, counters named `_total`, the send_sync latency histogram in seconds.
[[nodiscard]] std::string render_metrics(const system_snapshot& snap);

/// `text` as the value of a Prometheus label (backslash, quote and newline escaped).
void append_label_value(std::string& out, std::string_view text);

}  // namespace beehive::detail
