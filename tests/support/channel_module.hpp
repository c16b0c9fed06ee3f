// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: `mod(...)`, the module_info of a module of the default type (`channel`) with
// the inbox a test asks for, as a test adds it to a context.

#include <cstddef>
#include <string>
#include <utility>

#include "beehive/module_options.hpp"

namespace beehive::test {

/// A module named `name` whose inbox holds `capacity` messages, with the given overflow policy
/// and close mode.
inline module_info mod(std::string name, std::size_t capacity = 1024,
                       overflow_policy p = overflow_policy::block,
                       close_mode c = close_mode::drain) {
  module_info info;
  info.name = std::move(name);
  info.inbox.capacity = capacity;
  info.inbox.overflow = p;
  info.inbox.close = c;
  return info;
}

}  // namespace beehive::test
