// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: `normalize`, to compare a record with one written by another process. Apart
// from tests/data (go_records.hpp includes it), so that unit tests can use it too.

#include <regex>
#include <string>
#include <string_view>

namespace beehive::test {

/// Ids and times are generated; everything else must match byte for byte.
[[nodiscard]] inline std::string normalize(std::string_view record) {
  static const std::regex id(R"("msg_id":"[^"]*")");
  static const std::regex ts(R"("timestamp":[0-9]+)");
  return std::regex_replace(std::regex_replace(std::string(record), id, R"("msg_id":"ID")"), ts,
                            R"("timestamp":0)");
}

}  // namespace beehive::test
