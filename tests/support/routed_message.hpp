// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a message with an id and a route, as the inbox's lane and coalescing tests
// use them (the operation picks the lane, resource + operation is the default coalescing key).

#include <string>

#include "beehive/message.hpp"

namespace beehive::test {

inline message routed(const std::string& id, const std::string& op,
                      const std::string& resource = "pod/a") {
  message m;
  m.header.id = id;
  m.route.operation = op;
  m.route.resource = resource;
  return m;
}

}  // namespace beehive::test
