// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "nats/nats_batcher.hpp"
#include "nats/nats_group_batch.hpp"

namespace beehive::detail {

struct nats_link;

/// The sending side of one group's batches (docs/architecture.md, "Group batches"): the peer
/// endpoints of the group's members put the numbered records of a `send_to_group` call here
/// (`add`), and the outbox publishes them once, on `<ns>.g.<group>.<this process>`, for every
/// member at once. One per group and link (`nats_link::group_outbox`), made on first use and
/// kept with the link.
///
/// The call's id tells copies of one call apart from the next call: the first member's copy
/// appends the record, the others only add themselves to the table. The batcher publishes the
/// batch after its linger (`flush_batch`); a sender that would overfill it publishes it first.
///
/// Per copy: one lock; for the call's first copy one copy of the record's bytes; per member a
/// table lookup (a short vector). Per batch: the table written after the records, one publish.
/// Lock order: a peer endpoint's lock, then this one's. Thread-safe.
class nats_group_outbox final : public nats_batched,
                                public std::enable_shared_from_this<nats_group_outbox> {
 public:
  /// `link` owns the outbox (`nats_link::group_outbox`) and outlives it.
  nats_group_outbox(nats_link& link, std::string group);

  [[nodiscard]] const std::string& group() const noexcept { return group_; }

  /// Record `seq` of `stream`, for `module`: the copy of call `call` (0: a record of its own,
  /// never shared) whose Go beehive JSON is `record`. A record larger than a batch is published
  /// at once, alone (`message_too_large` above the server's max_payload, nothing sent). Errors
  /// of that publish are the caller's; a batch published later that fails loses nothing the
  /// caller keeps (counted `publish_failures`, repaired as after a failover).
  [[nodiscard]] expected<void> add(std::string_view module, std::uint64_t stream, std::uint64_t seq,
                                   std::uint64_t call, std::string_view record);
  /// Publishes `records` (number, message) of `module`'s `stream` at once, after what is
  /// pending (a resend or a probe takes the same way as the records it repeats, so that it does
  /// not overtake them). Returns how many went out before a publish was refused.
  std::size_t send_alone(std::string_view module, std::uint64_t stream,
                         const std::vector<std::pair<std::uint64_t, const message*>>& records);
  /// Publishes the pending batch (the batcher's call, and a peer's that must not be overtaken).
  void flush_batch() override;

 private:
  [[nodiscard]] expected<void> flush_locked();
  nats_link& link_;
  const std::string group_;
  const std::string subject_;
  std::mutex mu_;
  nats_group_batch batch_;
  std::uint64_t last_call_ = 0;     // the call whose record is the batch's newest
  std::size_t member_records_ = 0;  // records for members in the batch (for `published`)
  bool scheduled_ = false;
};

}  // namespace beehive::detail
