// SPDX-License-Identifier: Apache-2.0
#include "core/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "beehive/context.hpp"

namespace beehive::detail {
namespace {

struct captured {
  std::ostringstream out;
  spdlog::logger logger{"captured", std::make_shared<spdlog::sinks::ostream_sink_st>(out)};
};

TEST(Log, ParsesEveryDocumentedLevel) {
  EXPECT_EQ(parse_log_level("debug"), spdlog::level::debug);
  EXPECT_EQ(parse_log_level("info"), spdlog::level::info);
  EXPECT_EQ(parse_log_level("warn"), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("error"), spdlog::level::err);
  EXPECT_EQ(parse_log_level("off"), spdlog::level::off);
  EXPECT_EQ(parse_log_level("loud"), std::nullopt);
  EXPECT_EQ(parse_log_level(""), std::nullopt);
}

TEST(Log, DefaultLevelIsWarn) {
  captured c;
  configure_log(c.logger, nullptr, nullptr);
  c.logger.info("quiet");
  c.logger.warn("heard");
  EXPECT_EQ(c.out.str().find("quiet"), std::string::npos);
  EXPECT_NE(c.out.str().find("heard"), std::string::npos);
}

TEST(Log, UnknownLevelKeepsWarn) {
  captured c;
  configure_log(c.logger, "chatty", nullptr);
  EXPECT_EQ(c.logger.level(), spdlog::level::warn);
}

TEST(Log, OffSilencesErrors) {
  captured c;
  configure_log(c.logger, "off", nullptr);
  c.logger.error("nothing");
  c.logger.critical("nothing");
  EXPECT_TRUE(c.out.str().empty());
}

TEST(Log, DebugLetsDebugThrough) {
  captured c;
  configure_log(c.logger, "debug", nullptr);
  c.logger.debug("detail");
  EXPECT_NE(c.out.str().find("detail"), std::string::npos);
}

TEST(Log, JsonFormatWritesOneParsableObjectPerLine) {
  captured c;
  configure_log(c.logger, "info", "json");
  c.logger.info("a \"quoted\" line\nwith a newline and a \x01 control");
  c.logger.warn("second");
  std::istringstream lines(c.out.str());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const auto first = nlohmann::json::parse(line);
  EXPECT_EQ(first.at("level"), "info");
  EXPECT_EQ(first.at("logger"), "captured");
  EXPECT_EQ(first.at("msg"), "a \"quoted\" line\nwith a newline and a \x01 control");
  const std::string ts = first.at("ts");
  EXPECT_EQ(ts.size(), 24U) << ts;  // 2026-12-04T23:10:00.123Z
  EXPECT_EQ(ts.back(), 'Z');
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_EQ(nlohmann::json::parse(line).at("msg"), "second");
  EXPECT_FALSE(std::getline(lines, line));
}

// What a program's stderr holds after one context lives and dies, with the environment given
// (run in a child process: the library's logger reads the environment once per process).
std::string stderr_of_context_life(const char* level, const char* format) {
  int fds[2];
  if (::pipe(fds) != 0) return "<pipe failed>";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    if (level != nullptr)
      ::setenv("BEEHIVE_LOG", level, 1);
    else
      ::unsetenv("BEEHIVE_LOG");
    if (format != nullptr)
      ::setenv("BEEHIVE_LOG_FORMAT", format, 1);
    else
      ::unsetenv("BEEHIVE_LOG_FORMAT");
    { beehive::context ctx; }
    log().flush();
    std::_Exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

TEST(Log, AContextWithNothingToSayPrintsNothingByDefault) {
  EXPECT_EQ(stderr_of_context_life(nullptr, nullptr), "");
}

TEST(Log, EnvironmentTurnsOnInfoAsJsonLines) {
  const std::string out = stderr_of_context_life("info", "json");
  ASSERT_FALSE(out.empty());
  const auto line = nlohmann::json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(line.at("logger"), "beehive");
  EXPECT_EQ(line.at("level"), "info");
  EXPECT_EQ(line.at("msg"), "context cancelled");
}

}  // namespace
}  // namespace beehive::detail
