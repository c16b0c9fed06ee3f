// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace beehive {

struct message;

/// What `send` does when a module's inbox (or one of its lanes) is full.
enum class overflow_policy {
  block,        ///< wait for room (default); bounded by `block_timeout` if set; ends on cancel
  fail,         ///< return `errc::queue_full` at once
  drop_oldest,  ///< drop the oldest queued message (of the lane) to make room; counted
};

/// What `cleanup` does with messages still queued in a module's inbox.
enum class close_mode {
  drain,  ///< the receiver still gets them, then `errc::channel_closed` (default)
  drop,   ///< they are dropped and counted; `receive` returns `errc::channel_closed` at once
};

/// One priority lane of an inbox: its own bound and overflow policy, so that a flood in one
/// lane fills only that lane.
struct lane_options {
  std::size_t capacity = 1024;
  overflow_policy overflow = overflow_policy::block;
  std::chrono::nanoseconds block_timeout{0};  ///< for `block`: 0 waits without bound
};

/// The message field a lane rule looks at.
enum class route_field {
  operation,  ///< `route.operation`
  resource,   ///< `route.resource`
  group,      ///< `route.group`
  source,     ///< `route.source`
};

/// "Messages whose `field` equals `value` go to lane `lane`."
struct lane_rule {
  route_field field = route_field::operation;
  std::string value{};
  std::size_t lane = 0;
};

/// Priority lanes (issue 15). Lane 0 is served first. Classified by message fields (never by
/// a wire field), so that messages from Go peers are classified too.
///
/// `receive` takes from the highest non-empty lane, except that a lane holding messages
/// never sees more than `starvation_bound` messages taken from lanes above it: the next one
/// then comes from it (with several starving lanes, the highest of them). 0 = strict priority.
///
/// @code
/// beehive::inbox_options o;
/// o.lanes.lanes = {{.capacity = 64}, {.capacity = 1024}};       // 0: urgent, 1: the rest
/// o.lanes.rules = {{beehive::route_field::resource, "heartbeat", 0}};
/// o.lanes.default_lane = 1;
/// o.lanes.starvation_bound = 16;
/// @endcode
struct lanes_options {
  std::vector<lane_options> lanes{};  ///< empty: no lanes (the plain inbox)
  std::vector<lane_rule> rules{};     ///< first match wins
  std::size_t default_lane = 0;       ///< lane of a message no rule matches (clamped to the last)
  /// When set, replaces `rules`: the lane of a message (clamped to the last lane). Called by
  /// the sender's thread, outside the inbox's locks; must not block.
  std::function<std::size_t(const message&)> classify;
  std::size_t starvation_bound = 0;
};

/// Latest value wins (issue 15): a message whose key equals that of a message still queued
/// takes its place (same position: keys are served fairly and in order); the replaced one is
/// counted as `coalesced`. A sync request never coalesces, nor is it ever replaced: its caller
/// waits for its own reply. Messages with an empty key never coalesce.
///
/// @code
/// beehive::inbox_options o;
/// o.coalescing.enabled = true;   // key: route.resource + route.operation
/// @endcode
struct coalescing_options {
  bool enabled = false;
  /// The key of a message; default `route.resource` + `route.operation`. Called by the
  /// sender's thread outside the inbox's locks.
  std::function<std::string(const message&)> key;
};

/// Per-module inbox settings.
struct inbox_options {
  std::size_t capacity = 1024;  ///< Go's ChannelSizeDefault (lanes have their own)
  overflow_policy overflow = overflow_policy::block;
  std::chrono::nanoseconds block_timeout{0};  ///< for `block`: 0 waits without bound
  beehive::close_mode close = close_mode::drain;
  lanes_options lanes{};            ///< priority lanes; none by default
  coalescing_options coalescing{};  ///< latest value wins; off by default

  /// True when lanes or coalescing are asked for.
  [[nodiscard]] bool shaped() const noexcept { return !lanes.lanes.empty() || coalescing.enabled; }
};

/// What a context needs to know of a module (Go's `common.ModuleInfo`).
struct module_info {
  std::string name;
  std::string type = "channel";  ///< context type: "channel" or "unixpacket"
  /// A module whose peer lives in another process. A core sets it from the type
  /// (`context::type_traits`); the context does not read it.
  bool remote = false;
  inbox_options inbox{};
};

/// Counters of one lane (or, with no lanes, of the whole inbox).
struct lane_stats {
  std::size_t capacity = 0;
  std::size_t queued = 0;       ///< messages waiting now
  std::uint64_t accepted = 0;   ///< messages put in the lane
  std::uint64_t received = 0;   ///< messages taken by a receiver
  std::uint64_t coalesced = 0;  ///< queued messages replaced by a newer one of their key
  std::uint64_t rejected = 0;   ///< refused: `fail`, block timeouts, cancel
  std::uint64_t dropped = 0;    ///< `drop_oldest` evictions and drops on close
};

/// Counters of one module's inbox. Every message that does not reach the receiver is counted:
/// accepted = received + coalesced + dropped_oldest + dropped_on_close + queued, exactly.
struct inbox_stats {
  std::size_t capacity = 0;
  std::size_t queued = 0;                ///< messages waiting now
  std::uint64_t accepted = 0;            ///< messages put in the inbox
  std::uint64_t received = 0;            ///< messages taken by a receiver
  std::uint64_t rejected_full = 0;       ///< `fail` policy refusals (and block timeouts)
  std::uint64_t rejected_cancelled = 0;  ///< blocked sends ended by the context's cancel
  std::uint64_t dropped_oldest = 0;      ///< `drop_oldest` evictions
  std::uint64_t dropped_on_close = 0;  ///< queued messages dropped by `cleanup` (close_mode::drop)
  std::uint64_t coalesced = 0;         ///< queued messages replaced by a newer one (coalescing)
  std::vector<lane_stats> lanes{};     ///< one per lane; empty without lanes
  bool closed = false;
};

}  // namespace beehive
