// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"

namespace beehive {

using duration = std::chrono::nanoseconds;

/// Go's MessageTimeoutDefault: the bound of a sync call given a timeout <= 0.
inline constexpr std::chrono::seconds message_timeout_default{30};

/// Outcome of `send_to_group`.
struct group_delivery {
  std::size_t delivered = 0;  ///< members that accepted the message (queued or parked)
  /// Members that refused it, with the reason (queue_full, channel_closed, timed_out, ...).
  std::vector<std::pair<std::string, std::error_code>> failed;
};

/// Outcome of `send_to_group_sync`.
struct group_replies {
  std::vector<message> replies;      ///< replies received, in arrival order
  std::vector<std::string> missing;  ///< members that did not answer in time
  /// Members the request could not be delivered to, with the reason.
  std::vector<std::pair<std::string, std::error_code>> failed;
  [[nodiscard]] bool complete() const noexcept { return missing.empty() && failed.empty(); }
};

}  // namespace beehive
