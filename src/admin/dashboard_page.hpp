// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

namespace beehive::detail {

/// The dashboard served at `/`: one self-contained HTML page (inline CSS and script, nothing
/// fetched from elsewhere) that polls `/api/modules` and `/api/stats`.
[[nodiscard]] std::string_view dashboard_html() noexcept;

}  // namespace beehive::detail
