// SPDX-License-Identifier: Apache-2.0
#pragma once

// Interface notes (type interface v3, src/type/context_type.hpp), for the lead:
// - The type needs `type_host::update_peers` with `peer_op::join` to add groups to a peer it
//   registered already; until the registry's real one lands (issue 11) it falls back to
//   `add_peer` with the same endpoint and the full group list (the interim add_peer keeps
//   the endpoint; a registry that discards a "replaced" endpoint equal to the new one would
//   break this).
// - `remove_peer` does not fail the callers waiting on the peer; the type calls
//   `replies().fail_target(ep, not_connected)` itself right after it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "beehive/nats.hpp"
#include "nats/nats_group_batch.hpp"
#include "nats/nats_hosted_endpoint.hpp"
#include "nats/nats_link.hpp"
#include "nats/nats_presence.hpp"
#include "type/context_type.hpp"

namespace beehive::detail {

class nats_hosted_endpoint;
struct nats_intake;
struct nats_sender_entry;
class nats_peer_endpoint;
class nats_reply_endpoint;
class nats_subscription;

/// The `nats` context type: modules of every process of a namespace reach each other through
/// a NATS cluster (docs/architecture.md, "The nats type").
///
/// Parts: `nats_link` (the connections, subjects, counters), `nats_hosted_endpoint` (a module
/// hosted here), `nats_peer_endpoint` (a module of another process, with its credits),
/// `nats_reply_endpoint` (replies to a requesting process), `presence_table` (who hosts
/// what, from heartbeats). Threads: nats.c's (one delivery thread per subscription, its
/// flusher and reader) and the presence thread (heartbeats, expiry). Thread-safe.
class nats_type : public context_type, public std::enable_shared_from_this<nats_type> {
 public:
  explicit nats_type(nats_config config);
  ~nats_type() override;

  /// Connects both connections. `not_connected` (with `why`) when it cannot.
  [[nodiscard]] expected<void> connect(std::string* why);

  void attach(type_host& host) override;
  [[nodiscard]] expected<std::shared_ptr<endpoint>> make_endpoint(const module_info& info) override;
  void member_grouped(std::string_view module, std::string_view group) override;
  void presence(std::span<const presence_event> events) override;
  [[nodiscard]] bool is_remote() const noexcept override { return false; }
  [[nodiscard]] bool restarts_on_return() const noexcept override { return false; }
  /// `stats()` as named counters, for the admin API (nats_type_counters.cpp).
  [[nodiscard]] std::vector<type_counter> counters() const override;
  void stop() override;

  // The facade (`nats_context`).
  [[nodiscard]] nats_stats stats() const;
  [[nodiscard]] bool connected() const;
  [[nodiscard]] std::string connected_url() const;
  [[nodiscard]] const std::string& process_id() const noexcept { return link_->subj.process; }
  [[nodiscard]] std::int64_t max_payload() const;
  [[nodiscard]] std::vector<std::string> peers() const;
  [[nodiscard]] bool wait_peer(std::string_view module, bool present,
                               std::chrono::nanoseconds bound) const;

  // For `nats_hosted_endpoint`.
  /// True when no other process hosts `module` (or hosts it as a replica, and so does this
  /// one). Asks the namespace (one request, answered by the host, or "no responders" at once).
  [[nodiscard]] bool claim(const std::string& module, bool replica);
  /// Subscribes the module's subject and announces it.
  [[nodiscard]] bool host(nats_hosted_endpoint& ep);
  /// Stops its subscription (returned, for the caller to wait for) and announces its leave.
  [[nodiscard]] std::shared_ptr<nats_subscription> unhost(nats_hosted_endpoint& ep);
  /// Once its subscription's handler can no longer run: relays the records it still held
  /// into the inbox without waiting (what does not fit is refused, counted).
  void release_held(nats_hosted_endpoint& ep);

 private:
  // nats_dispatch.cpp (records for hosted modules) and nats_control.cpp (the rest): what
  // arrives.
  /// A record for a hosted module, on its subscription's delivery thread: decoded and kept in
  /// the module's batch (`take`); the batch is relayed into the inbox (`relay_held`) when
  /// nats.c has nothing more queued (`more` false) or `relay_batch` records wait.
  void on_module_message(nats_hosted_endpoint& ep, natsMsg* m, bool more);
  void take(nats_hosted_endpoint& ep, nats_intake& in, nats_msg_ptr m);
  /// One record of `m` (the whole payload, or one of a batch: `raw` null, `m` is spent after
  /// the batch): counted, checked against the sender's numbers, decoded, held.
  /// `run`: the caller's lock of `ep.senders_mu` for a run of records (locked here when it is
  /// not; left locked), else the entries are locked for this record alone.
  void take_record(nats_hosted_endpoint& ep, nats_intake& in, std::string_view data,
                   const char* reply, std::optional<subjects::sequence> number,
                   nats_sender_entry* credit, std::string_view sender, nats_msg_ptr raw,
                   std::unique_lock<std::mutex>* run = nullptr);
  /// One of a run of consecutive numbered records of one sender (a batch's, or a member's in a
  /// group batch), taken under `run` (one lock of `ep.senders_mu` for the run); `number` is
  /// then the next one's. Relays the held records when `relay_batch` wait, unlocking `run`
  /// first: a relay may wait for room.
  void take_in_run(nats_hosted_endpoint& ep, nats_intake& in, std::string_view data,
                   const char* reply, subjects::sequence& number, nats_sender_entry* credit,
                   std::string_view sender, std::unique_lock<std::mutex>& run);
  /// Relays the batch into the inbox, in order; `wait`: a full `block` inbox is waited for
  /// (see `relay`), else what does not fit is refused. Counts, grants the credits back, fails
  /// the refused requests' callers.
  void relay_held(nats_hosted_endpoint& ep, nats_intake& in, bool wait);
  void on_reply(natsMsg* m);
  void on_credit(natsMsg* m);
  void on_presence(natsMsg* m);
  void on_probe(natsMsg* m);
  /// A sync request to `module` found no responder: are its processes reachable? Those that
  /// are not are dropped at once (their modules go, their waiters wake with not_connected).
  /// Returns not_connected when none is reachable, module_not_found otherwise.
  [[nodiscard]] std::error_code unreachable(const std::string& module);
  /// One record into the inbox (`delivery::relay`). `wait`: on `would_block` (a full `block`
  /// inbox), sleeps until the inbox's `when_writable` fires, then pushes again; gives up with
  /// channel_closed when the module leaves or the type stops. On failure `msg` is intact.
  [[nodiscard]] expected<void> relay(nats_hosted_endpoint& ep, message&& msg, bool wait);
  /// The sender's entry in `ep.ungranted` (made on first use); `sender` is made to view its
  /// key. Null for an empty sender token.
  [[nodiscard]] nats_sender_entry* credit_slot(nats_hosted_endpoint& ep,
                                               std::string_view& sender) const;
  /// Adds `n` records of `bytes` encoded bytes to what `sender` is owed; grants them back every
  /// half window (`flow.window` records or `flow.window_bytes`, whichever comes first), with
  /// the acknowledgement of its numbered records (`<stream>-<floor>`).
  void grant(nats_hosted_endpoint& ep, std::string_view sender, nats_sender_entry& owed,
             std::uint64_t n, std::uint64_t bytes);
  /// `grant` with `ep.senders_mu` held.
  void grant_locked(nats_hosted_endpoint& ep, std::string_view sender, nats_sender_entry& owed,
                    std::uint64_t n, std::uint64_t bytes);
  /// With `ep.senders_mu` held: publishes the grant: `owed` credits and the acknowledgement of the
  /// numbered records, flagged `gap` when records above the floor arrived (the sender resends at
  /// once).
  void publish_grant(nats_hosted_endpoint& ep, std::string_view sender, nats_sender_entry& entry,
                     bool gap);
  /// Nothing more is queued and a sender's numbered records have a gap that was not reported
  /// as it is now: reports it (a grant flagged `gap`), so that the sender resends without
  /// waiting for half a window of later records (there may be none); after a duplicate, grants
  /// what is owed at once (the sender that resent or probed learns what arrived).
  void report_gaps(nats_hosted_endpoint& ep);
  /// Process `process` reconnected: the peers it hosts resend what it did not acknowledge.
  void resend_to(std::string_view process);
  static constexpr std::size_t relay_batch = 64;
  /// nats.c messages destroyed together (nats_hosted_endpoint::spent): at most this many, or
  /// this many payload bytes, wait per hosted module.
  static constexpr std::size_t spent_batch = 256;
  static constexpr std::size_t spent_batch_bytes = 64 * 1024;
  [[nodiscard]] std::shared_ptr<nats_reply_endpoint> reply_origin(std::string_view reply);

  // nats_type_groups.cpp: group batches (docs/architecture.md, "Group batches").
  /// The subscription of one group's subject (`<ns>.g.<group>.*`), while a module hosted here
  /// (not a replica) is a member; what its delivery thread takes for the members hosted here.
  struct group_sub {
    std::string group;
    std::size_t members = 0;  ///< hosted members (under hosted_mu_)
    std::shared_ptr<nats_subscription> sub;
    // Only the subscription's delivery thread touches these.
    nats_intake in;
    std::vector<nats_group_batch::entry> table;
    std::vector<std::string_view> frames;
  };
  /// A hosted module joined `group` (hosted_mu_ held): the group's subject is subscribed to
  /// for the first member. False when the subscription failed.
  [[nodiscard]] bool join_group_locked(const std::string& group);
  /// A hosted module left its `groups` (hosted_mu_ held): the last member's leave stops the
  /// group's subscription.
  void leave_groups_locked(const std::set<std::string>& groups);
  /// A group batch, on the group subscription's delivery thread: each member hosted here takes
  /// its records as from its own subject (numbers, duplicates, credits), then they are relayed.
  void on_group_message(group_sub& g, natsMsg* m, bool more);
  std::map<std::string, std::shared_ptr<group_sub>, std::less<>> group_subs_;  // hosted_mu_

  // nats_type.cpp: presence.
  void presence_loop();
  void announce();
  void apply(const std::vector<presence_change>& changes);
  void on_reconnected();

  std::shared_ptr<nats_link> link_;
  // Null before attach and after stop; a handler that outlived stop's wait finds it null.
  std::atomic<type_host*> host_{nullptr};
  std::atomic<bool> stopped_{false};
  std::mutex stop_mu_;

  mutable std::mutex hosted_mu_;
  std::map<std::string, std::weak_ptr<nats_hosted_endpoint>, std::less<>> hosted_;

  // Presence: the table and the peers made from it, changed together under `presence_mu_`.
  mutable std::mutex presence_mu_;
  mutable std::condition_variable presence_cv_;
  presence_table table_;
  std::map<std::string, std::shared_ptr<nats_peer_endpoint>, std::less<>> peers_;
  // Set without presence_mu_: `announce` runs inside `presence`, which the registry may call on
  // a thread that holds presence_mu_ (apply -> host -> presence). A wake-up lost to the race
  // with the loop's wait costs at most a quarter interval.
  std::atomic<bool> announce_now_{false};
  bool presence_stop_ = false;
  // When this process last heard its own heartbeat (its link works: expiry's clock runs at
  // most an interval past it), and until when expiry waits after it was overdue (presence_loop).
  std::chrono::steady_clock::time_point self_heard_{};
  std::chrono::steady_clock::time_point expiry_paused_until_{};
  std::thread presence_thread_;

  std::mutex origins_mu_;
  std::map<std::string, std::shared_ptr<nats_reply_endpoint>, std::less<>> origins_;

  std::vector<std::shared_ptr<nats_subscription>> fixed_subs_;  // replies, credits, presence
};

}  // namespace beehive::detail
