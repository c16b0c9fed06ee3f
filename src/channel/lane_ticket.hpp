// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>

#include "beehive/message.hpp"
#include "beehive/module_options.hpp"

namespace beehive::detail {

/// How a message asks to enter a queue (the inbox's `delivery`, narrowed).
enum class lane_push {
  direct,  ///< the lane's overflow policy applies as it is
  group,   ///< parks instead of blocking while the lane's parking has room
  relay,   ///< never waits: a full lane answers `would_block`
};

/// Where a message goes, worked out from the message by the sender, outside every lock.
struct lane_ticket {
  std::size_t lane = 0;
  std::string key;  ///< empty: never coalesces (coalescing off, a sync message, an empty key)
};

/// The lane and coalescing key of `msg` under `options` (lane 0 without lanes; an empty key
/// without coalescing, or for a sync message). Runs the user's functions, if any: call it
/// outside every lock. Shared by the inbox and a socket connection's outbound queue.
[[nodiscard]] lane_ticket make_ticket(const inbox_options& options, const message& msg);

}  // namespace beehive::detail
