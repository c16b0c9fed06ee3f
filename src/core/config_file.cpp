// SPDX-License-Identifier: Apache-2.0
#include "core/config_file.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace beehive::detail {

std::optional<std::string> read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(text).str();
}

std::string config_path_from_env(std::string_view env, std::string_view fallback) {
  const char* value = std::getenv(std::string(env).c_str());
  return (value != nullptr && *value != '\0') ? std::string(value) : std::string(fallback);
}

}  // namespace beehive::detail
