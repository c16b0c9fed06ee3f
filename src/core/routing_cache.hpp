// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

namespace beehive::detail {

/// Takes every snapshot of the registry `registry_id` out of every thread's routing cache and
/// releases them (outside the caches' locks). Called by `~registry`: after it, no thread's cache
/// owns an endpoint of that registry. Snapshots a thread pinned for a call still running (its
/// retired list) are released when that call ends.
void release_cached_routing(std::uint64_t registry_id);

}  // namespace beehive::detail
