// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace beehive {

/// What `send` does when a module's inbox is full.
enum class overflow_policy {
  block,        ///< wait for room (default); bounded by `inbox_options::block_timeout` if set
  fail,         ///< return `errc::queue_full` at once
  drop_oldest,  ///< drop the oldest queued message to make room; the drop is counted
};

/// What `cleanup` does with messages still queued in a module's inbox.
enum class close_mode {
  drain,  ///< the receiver still gets them, then `errc::channel_closed` (default)
  drop,   ///< they are dropped and counted; `receive` returns `errc::channel_closed` at once
};

/// Per-module inbox settings.
struct inbox_options {
  std::size_t capacity = 1024;  ///< Go's ChannelSizeDefault
  overflow_policy overflow = overflow_policy::block;
  std::chrono::nanoseconds block_timeout{0};  ///< for `block`: 0 waits without bound
  beehive::close_mode close = close_mode::drain;
};

/// What a context needs to know of a module (Go's `common.ModuleInfo`).
struct module_info {
  std::string name;
  std::string type = "channel";  ///< context type: "channel" or "unixpacket"
  /// A module whose peer lives in another process. A core sets it from the type
  /// (`context::type_traits`); the context does not read it.
  bool remote = false;
  inbox_options inbox;
};

/// Counters of one module's inbox. Every message that does not reach the receiver is counted.
struct inbox_stats {
  std::size_t capacity = 0;
  std::size_t queued = 0;              ///< messages waiting now
  std::uint64_t accepted = 0;          ///< messages put in the inbox
  std::uint64_t received = 0;          ///< messages taken by a receiver
  std::uint64_t rejected_full = 0;     ///< `fail` policy refusals (and block timeouts)
  std::uint64_t dropped_oldest = 0;    ///< `drop_oldest` evictions
  std::uint64_t dropped_on_close = 0;  ///< queued messages dropped by `cleanup` (close_mode::drop)
  bool closed = false;
};

}  // namespace beehive
