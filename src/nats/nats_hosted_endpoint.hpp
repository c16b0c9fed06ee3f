// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "channel/inbox_endpoint.hpp"
#include "nats/nats_subscription.hpp"

namespace beehive::detail {

class nats_type;

/// A module of the `nats` type hosted by this process: its inbox is here, and while it lives
/// the type subscribes to its subject (`<ns>.m.<module>.*`; a queue group for a replica) and
/// announces it in its heartbeats. Cleanup unsubscribes and closes the inbox; adding it again
/// (`reopen`) claims the name and subscribes again, keeping the queued messages.
class nats_hosted_endpoint final : public inbox_endpoint {
 public:
  nats_hosted_endpoint(const module_info& info, std::weak_ptr<nats_type> type, bool replica);

  [[nodiscard]] bool reopen(const module_info& info) override;
  void close(std::vector<message>& dropped) override;
  void discard(std::vector<message>& dropped) override;

  const bool replica;
  std::weak_ptr<nats_hosted_endpoint> self;  ///< set once by the type
  /// The inbox blocks a push without bound (`block`, no block_timeout): the dispatch waits for
  /// room itself (see `nats_type::relay`). Written by the constructor and `reopen` only, before
  /// the subscription (re)starts.
  std::atomic<bool> waits_without_bound{false};

  // Owned by the type (under its hosted mutex).
  std::shared_ptr<nats_subscription> sub;
  std::set<std::string> groups;

  // Only the subscription's delivery thread touches these: records taken per sender process
  // and not yet granted back.
  std::map<std::string, std::uint64_t, std::less<>> ungranted;

 private:
  const std::weak_ptr<nats_type> type_;
};

}  // namespace beehive::detail
