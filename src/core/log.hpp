// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <string_view>

namespace beehive::detail {

/// The library's logger, named "beehive" (registered with spdlog, so users can reconfigure it
/// with spdlog::get("beehive")). Thread-safe.
///
/// A library speaks only when something is wrong: the level is `warn` unless `BEEHIVE_LOG`
/// says otherwise (`debug`, `info`, `warn`, `error` or `off`; an unknown value keeps `warn`).
/// `BEEHIVE_LOG_FORMAT=json` writes one JSON object per line (`ts`, `level`, `logger`, `msg`)
/// instead of text. Both are read once, when the logger is first used. A logger named
/// "beehive" that the program registered before is used as it is.
spdlog::logger& log();

/// The level `BEEHIVE_LOG`'s value names; nullopt for an unknown value.
[[nodiscard]] std::optional<spdlog::level::level_enum> parse_log_level(std::string_view value);

/// Applies the settings of `BEEHIVE_LOG` and `BEEHIVE_LOG_FORMAT` (given as values; null when
/// unset) to `logger`: its level (default `warn`) and its formatter (text, or JSON lines).
void configure_log(spdlog::logger& logger, const char* level_value, const char* format_value);

}  // namespace beehive::detail
