// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <spdlog/spdlog.h>

namespace beehive::detail {

/// The library's logger, named "beehive" (registered with spdlog, so users can reconfigure it
/// with spdlog::get("beehive")). Thread-safe.
spdlog::logger& log();

}  // namespace beehive::detail
