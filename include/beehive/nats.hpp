// SPDX-License-Identifier: Apache-2.0
#pragma once

// The `nats` context type: modules of every process of one namespace reach each other through
// a NATS cluster. Link `beehive::nats` (library beehive_nats, needs nats.c: Debian
// libnats-dev); `beehive/beehive.hpp` does not include this header, so that a program of
// channels alone links neither nats.c nor yaml-cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/nats_config.hpp"

namespace beehive {

class context;

/// The type's name: `module_info::type` of a module hosted by it.
inline constexpr std::string_view context_type_nats = "nats";

/// Counters of a nats context. Every message that did not reach its module is counted here
/// (or in the receiving inbox's own statistics) and logged.
struct nats_stats {
  std::uint64_t published = 0;      ///< records published to a module of another process (+ resent)
  std::uint64_t received = 0;       ///< records received for a module hosted here
  std::uint64_t delivered = 0;      ///< of them, taken by the module's inbox
  std::uint64_t undeliverable = 0;  ///< refused by the inbox (closed, full, timed out)
  std::uint64_t malformed = 0;      ///< records that are not beehive JSON
  std::uint64_t replies_in = 0;     ///< replies received and handed to the reply table
  std::uint64_t replies_out = 0;    ///< replies published to a requester's process
  std::uint64_t orphan_replies = 0;    ///< replies received that nobody waited for
  std::uint64_t no_responders = 0;     ///< sync requests nobody subscribed to (module_not_found)
  std::uint64_t oversized = 0;         ///< refused before sending: larger than max_payload
  std::uint64_t publish_failures = 0;  ///< publishes nats.c refused (disconnected, buffer full)
  std::uint64_t credit_waits = 0;      ///< sends that waited for credits (`block`)
  std::uint64_t credit_refusals = 0;   ///< sends refused for lack of credits (fail, timeout)
  std::uint64_t credits_granted = 0;   ///< credits granted back to senders
  /// Times a received record waited for room in a full `block` inbox of a hosted module (the
  /// dispatch sleeps until the receiver makes room).
  std::uint64_t relay_waits = 0;
  /// Messages NATS dropped for a slow subscription of this process (natsSubscription_GetDropped
  /// summed, plus slow-consumer events): never silent.
  std::uint64_t nats_dropped = 0;
  std::uint64_t slow_consumer_events = 0;  ///< asynchronous slow-consumer errors
  std::uint64_t async_errors = 0;          ///< other asynchronous errors
  /// Records sent but not acknowledged when the destination went away (its process left or
  /// died; the type stopped), or, for what is not resent (replicas, `drop_oldest`), when the
  /// connection failed over: possibly lost (an upper bound).
  std::uint64_t unacknowledged = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t reconnects = 0;      ///< of either connection (data, rpc)
  std::uint64_t peers_joined = 0;    ///< remote modules that appeared
  std::uint64_t peers_left = 0;      ///< remote modules gone by a clean leave
  std::uint64_t peers_expired = 0;   ///< remote modules gone because their process fell silent
  std::uint64_t name_conflicts = 0;  ///< announcements of a name another process holds
  /// Records published again because they were not acknowledged when the connection failed
  /// over, the receiver reconnected or its acknowledgements stalled (counted in `published`
  /// too).
  std::uint64_t resent = 0;
  /// Records received a second time (resent, or replayed by nats.c after a reconnect) and
  /// dropped: counted in `received`, not in `delivered`.
  std::uint64_t duplicates = 0;
  /// Numbered records a receiver gave up waiting for (a sender too far ahead of them): lost.
  std::uint64_t sequence_gaps = 0;
  /// NATS messages that carried several one-way records to one module (packed by the sender
  /// while records gather: `published` counts the records).
  std::uint64_t batches = 0;
  /// NATS messages published once on a group's subject for several members of a
  /// `send_to_group` call (each member's copies are counted in `published`).
  std::uint64_t group_batches = 0;
};

/// The `nats` context type's handle: stats and state. Messages go through the `context`.
///
/// A module added with `.type = "nats"` is hosted here (its inbox is in this process) and can
/// be reached from every process of the same namespace; the modules of those processes appear
/// here as peers (in `context::modules()` and their groups) and are addressed by name. Names
/// are unique in a namespace: adding a module another process hosts gives `already_exists`
/// (but for the config's `replicas`).
///
/// Thread-safe. The handle stays valid after its context is gone.
class nats_context final {
 public:
  struct impl;  ///< private: the type it is the handle of
  explicit nats_context(std::shared_ptr<impl> type);
  ~nats_context();
  nats_context(const nats_context&) = delete;
  nats_context& operator=(const nats_context&) = delete;

  [[nodiscard]] nats_stats stats() const;
  /// True while connected to a server.
  [[nodiscard]] bool connected() const;
  /// The URL of the server connected to (empty while disconnected).
  [[nodiscard]] std::string connected_url() const;
  /// This process's id in the namespace.
  [[nodiscard]] std::string process_id() const;
  /// The server's largest message (bytes); a larger record is refused with message_too_large.
  [[nodiscard]] std::int64_t max_payload() const;
  /// Modules of other processes known now, sorted.
  [[nodiscard]] std::vector<std::string> peers() const;
  /// Waits until `module` is a known peer (true), at most `bound`.
  [[nodiscard]] bool wait_peer(std::string_view module, std::chrono::nanoseconds bound) const;
  /// Waits until `module` is no longer a known peer (true), at most `bound`.
  [[nodiscard]] bool wait_peer_gone(std::string_view module, std::chrono::nanoseconds bound) const;

 private:
  std::shared_ptr<impl> type_;
};

/// Connects to the config's servers (bounded by `timeouts.connect` per server) and installs
/// the `nats` type in `ctx`. `not_connected` when no server can be reached or the credentials
/// are refused (the log says why, and `why` if given); `already_exists` when `ctx` has a
/// `nats` type already.
[[nodiscard]] expected<std::shared_ptr<nats_context>> register_nats_context(
    context& ctx, const nats_config& config, std::string* why = nullptr);

}  // namespace beehive
