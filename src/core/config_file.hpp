// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace beehive::detail {

/// The whole text of the configuration file at `path`, or nothing when it cannot be read.
/// Shared by the context types that read a YAML file (socket, nats).
[[nodiscard]] std::optional<std::string> read_config_file(const std::string& path);

/// The path a context type's configuration is read from: the environment variable `env` when
/// it is set and not empty, else `fallback`.
[[nodiscard]] std::string config_path_from_env(std::string_view env, std::string_view fallback);

}  // namespace beehive::detail
