// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: encoding and decoding in a test that expects them to succeed. A failure fails
// the test, with the error or the record, and yields a placeholder ("<error>", an empty
// message) for the checks that follow.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

#include "beehive/codec.hpp"
#include "beehive/message.hpp"

namespace beehive::test {

/// The record of `m`.
inline std::string encoded(const message& m) {
  auto r = encode_message(m);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : std::string("<error>");
}

/// The message that `record` holds.
inline message decoded(std::string_view record) {
  auto m = decode_message(record);
  EXPECT_TRUE(m) << record;
  return m ? std::move(*m) : message{};
}

}  // namespace beehive::test
