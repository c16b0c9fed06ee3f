// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "channel/inbox_endpoint.hpp"
#include "nats/nats_dedup_window.hpp"
#include "nats/nats_subject.hpp"
#include "nats/nats_subscription.hpp"

namespace beehive::detail {

class nats_type;

/// What a hosted module's receiver keeps per sender process: the records taken and not yet
/// granted back, and which of its numbered records were seen (duplicates are dropped).
/// Guarded by the endpoint's `senders_mu` (the module's own subscription and the group
/// subscriptions of its groups both take records for it).
struct nats_sender_entry {
  explicit nats_sender_entry(std::size_t span) : seen(span) {}
  std::uint64_t owed = 0;        // records taken or refused, not yet granted back
  std::uint64_t owed_bytes = 0;  // their encoded bytes (flow.window_bytes)
  nats_dedup_window seen;
  // The newest numbered record relayed into the inbox (or refused there): what is acknowledged
  // is at most this one, so that a sender that saw everything acknowledged may switch the path
  // of its records (its own subject, a group's) without a later record overtaking an earlier one
  // still held by the other path's thread.
  std::uint64_t relayed_stream = 0, relayed_seq = 0;
  // The window's floor and highest number when a gap was last reported to the sender.
  std::uint64_t gap_floor = 0, gap_highest = 0;
  // A duplicate came (a resend or a probe): the sender waits for an acknowledgement.
  bool duplicate_seen = false;
};

class nats_hosted_endpoint;

/// Records a delivery thread decoded and has not yet relayed into their inboxes (`nats_type::
/// take`, `relay_held`): one per thread that takes records (a hosted module's subscription, a
/// group's). Batched: relayed when nats.c has nothing more queued, or when full.
struct nats_intake {
  struct held_record {
    message msg;
    nats_sender_entry* credit = nullptr;  ///< the sender's `ungranted` entry (map nodes are stable)
    std::string_view sender;              ///< its key
    subjects::sequence number;            ///< its number (stream 0: not numbered)
    std::size_t bytes = 0;                ///< its encoded size (what its sender counted)
    bool request = false;                 ///< a sync request registered in the reply table
    nats_msg_ptr raw;  ///< the nats.c message it was decoded from (then moved to `spent`)
  };
  std::vector<held_record> held;
  /// nats.c messages already relayed, destroyed together once `spent_batch` of them or
  /// `spent_batch_bytes` of payload wait (and all when a closer empties the batch): nats.c
  /// hands each destroyed message to its garbage-collector thread and wakes that thread
  /// whenever it sleeps, so destroying them as they came woke it ~50k times per million
  /// records (`nats_send`).
  std::vector<nats_msg_ptr> spent;
  std::size_t spent_bytes = 0;
};

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

  // Owned by the type (under its hosted mutex).
  std::shared_ptr<nats_subscription> sub;
  std::set<std::string> groups;

  /// Where the dispatch waits for room in a full `block` inbox (`nats_type::relay`): opened by
  /// the inbox's `when_writable` callback (room, or the inbox closed), by `leave` and by the
  /// type's stop. Shared with the callback, which the inbox may run after a relay gave up.
  /// Counted, not a flag: two threads may wait for the same inbox (the module's subscription
  /// and a group's), and a later `when_writable` replaces the earlier callback; every release
  /// wakes every waiter that armed before it.
  struct relay_gate {
    std::mutex mu;
    std::condition_variable cv;
    std::uint64_t opened = 0;  ///< guarded by mu: releases so far
    [[nodiscard]] std::uint64_t arm() {
      std::lock_guard lk(mu);
      return opened;
    }
    void release() {
      {
        std::lock_guard lk(mu);
        ++opened;
      }
      cv.notify_all();
    }
  };
  const std::shared_ptr<relay_gate> gate = std::make_shared<relay_gate>();
  /// Set while the module is being cleaned up (before its subscription's handler is waited
  /// for): a relay waiting for room gives up. Cleared by `reopen`.
  std::atomic<bool> leaving{false};
  /// Set when a cleanup could not see the subscription's handler end (it ran past the bound,
  /// or the cleanup ran inside it): that handler may still touch the batch, so the endpoint is
  /// not reopened (the registry makes a new one).
  std::atomic<bool> stranded{false};
  /// Wakes a relay waiting for room (it then checks `leaving` and the type's stop).
  void wake_relay() { gate->release(); }

  /// Guards `ungranted` and its entries.
  std::mutex senders_mu;
  /// Per sender process (never erased: one entry per sender process ever seen), the records
  /// taken and not yet granted back, and which of its numbered records were seen.
  std::map<std::string, nats_sender_entry, std::less<>> ungranted;
  /// A sender's numbered records have a gap, or a duplicate came: reported
  /// (`nats_type::report_gaps`) when nats.c has nothing more queued.
  std::atomic<bool> gap_pending{false};
  /// What the module's own subscription has taken and not yet relayed (only its delivery
  /// thread touches it, and the closer once that thread can no longer run the handler).
  std::unique_ptr<nats_intake> own = std::make_unique<nats_intake>();
  std::mutex release_mu;  ///< serializes closers' `nats_type::release_held`

  /// Group subscriptions' handlers taking records for this module now (nats_type_groups.cpp).
  /// A handler counts itself in while the type's hosted mutex is held (when it finds the
  /// module), so once `unhost` removed the module none starts; `leave` waits until none runs,
  /// so that no record of a life that ended reaches the next one.
  std::mutex group_mu;
  std::condition_variable group_cv;
  int group_takers = 0;  ///< guarded by group_mu
  /// The module a group handler on this thread takes records for (null elsewhere).
  static thread_local const nats_hosted_endpoint* taking_for;
  /// Waits, at most `bound`, until no group handler takes records for this module. False when
  /// the bound passed, or when the caller is such a handler (a destructor it ran cleaned the
  /// module up): it may still touch the module.
  [[nodiscard]] bool wait_group_takers(std::chrono::milliseconds bound);

 private:
  void leave();
  const std::weak_ptr<nats_type> type_;
};

}  // namespace beehive::detail
