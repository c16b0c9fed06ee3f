// SPDX-License-Identifier: Apache-2.0
#include "core/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

namespace beehive::detail {

namespace {

void append(spdlog::memory_buf_t& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

// A JSON string's body: quotes, backslashes and control characters escaped; other bytes as
// they are (the library logs UTF-8).
void append_escaped(spdlog::memory_buf_t& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '"':
        append(out, "\\\"");
        break;
      case '\\':
        append(out, "\\\\");
        break;
      case '\n':
        append(out, "\\n");
        break;
      case '\r':
        append(out, "\\r");
        break;
      case '\t':
        append(out, "\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          append(out, buf);
        } else {
          out.push_back(c);
        }
    }
  }
}

// One JSON object per line: {"ts":"2026-12-04T23:10:00.123Z","level":"warn","logger":"beehive",
// "msg":"..."}; time in UTC.
class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - secs).count();
    const std::time_t t = static_cast<std::time_t>(secs.count());
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));
    append(dest, "{\"ts\":\"");
    append(dest, ts);
    append(dest, "\",\"level\":\"");
    const auto level = spdlog::level::to_string_view(msg.level);
    append(dest, std::string_view(level.data(), level.size()));
    append(dest, "\",\"logger\":\"");
    append_escaped(dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    append(dest, "\",\"msg\":\"");
    append_escaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    append(dest, "\"}\n");
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

}  // namespace

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view value) {
  if (value == "debug") return spdlog::level::debug;
  if (value == "info") return spdlog::level::info;
  if (value == "warn" || value == "warning") return spdlog::level::warn;
  if (value == "error") return spdlog::level::err;
  if (value == "off") return spdlog::level::off;
  return std::nullopt;
}

void configure_log(spdlog::logger& logger, const char* level_value, const char* format_value) {
  auto level = spdlog::level::warn;
  if (level_value != nullptr) {
    if (auto parsed = parse_log_level(level_value)) level = *parsed;
  }
  logger.set_level(level);
  if (format_value != nullptr && std::string_view(format_value) == "json") {
    logger.set_formatter(std::make_unique<json_formatter>());
  } else {
    logger.set_formatter(
        std::make_unique<spdlog::pattern_formatter>("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v"));
  }
}

spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("beehive")) return existing;
    auto l = spdlog::stderr_color_mt("beehive");
    configure_log(*l, std::getenv("BEEHIVE_LOG"), std::getenv("BEEHIVE_LOG_FORMAT"));
    return l;
  }();
  return *logger;
}

}  // namespace beehive::detail
