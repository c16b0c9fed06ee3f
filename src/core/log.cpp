// SPDX-License-Identifier: Apache-2.0
#include "core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace beehive::detail {

spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("beehive")) return existing;
    auto l = spdlog::stderr_color_mt("beehive");
    l->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v");
    return l;
  }();
  return *logger;
}

}  // namespace beehive::detail
