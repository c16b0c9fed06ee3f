// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nats/nats_batch.hpp"
#include "nats/nats_batcher.hpp"
#include "nats/nats_link.hpp"
#include "nats/nats_presence.hpp"
#include "nats/nats_resend_window.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {

class nats_group_outbox;

/// A module hosted by another process of the namespace: a push publishes the record on the
/// module's subject (`<ns>.m.<module>.<this process>`).
///
/// Flow control: the endpoint holds credits, `flow.window` at first; each record sent takes
/// one; the receiving process grants them back (`grant`) as the module's inbox takes the
/// records. Without credits, the remote inbox's overflow policy (announced in its heartbeat)
/// applies here, as a local inbox would apply it: `block` waits (bounded by its block_timeout;
/// woken with `not_connected` when the module goes), `fail` gives `queue_full`, and a relayed
/// record (`delivery::relay`) gets `would_block` and `when_writable` fires on the next grant.
/// `drop_oldest` takes no credits: the receiver evicts, counted in its inbox statistics.
///
/// Failover (`block` and `fail` modules that are not replicas): each one-way record is numbered
/// (`<stream>-<seq>` as its reply subject, `stream` unique to this endpoint in this process;
/// not in the subject: the servers' subject-match cache would miss on every record) and kept in
/// the resend window until the receiver acknowledges it (cumulatively, with its credits). On a
/// reconnect of either connection (`restart_window`), when the receiver reconnected
/// (`resend`), or when the receiver reports a gap (a grant flagged `gap`: records above a
/// missing one arrived; the sender's `nudge` probe makes one visible), every kept record is
/// published again, in order, before any new one (the lock is held): the receiver drops the
/// duplicates (`nats_dedup_window`). The window holds at most two credit windows of records; a push
/// waits when it is full as when credits run out. Requests are not numbered (their callers have
/// deadlines); replicas are not (a queue group spreads the numbers over several receivers), nor
/// `drop_oldest` (no acknowledgements): for them what a failover may lose is counted
/// (`unacknowledged`), as before.
///
/// Batches: while the data connection is up, a numbered record is not published by its
/// sender: it is appended to the endpoint's pending batch (`nats_batch`), and the link's
/// batcher publishes the batch (`flush_batch`), after at most its linger; a batch that reached
/// `nats_link::batch_bytes` is published by the sender that fills it. Records are kept (for a
/// resend) from the moment they are appended, so a publish of the batch that fails loses
/// nothing: it is counted (`publish_failures`) and repaired as a failover is (the receiver
/// sees the gap, or the probe finds it). A direct publish (a record larger than a batch, the
/// connection down) first flushes the batch, so that numbers go out in order.
///
/// Group batches: a group send's copy (`push_group`) goes into the group's outbox
/// (`nats_group_outbox`), published once for every member on the group's subject, numbered in
/// this member's stream all the same; see `via_` for the rule that keeps the order.
///
/// Per push of a numbered record (batched): one lock, one encode straight into the batch (no
/// allocation once warm), one move of the message
/// into the window (no allocation once the ring has grown), and once per batch one schedule
/// on the batcher (its lock). Per batch: one lock, one nats.c publish, the number written into
/// a reused buffer. Unbatched (requests, replicas, `drop_oldest`, the connection down): one
/// lock, one encode, one nats.c publish, held across the encode and the publish of a numbered
/// record (so that numbers go out in order and a refused publish takes no number).
/// Thread-safe.
class nats_peer_endpoint final : public endpoint,
                                 public nats_batched,
                                 public std::enable_shared_from_this<nats_peer_endpoint> {
 public:
  nats_peer_endpoint(std::string name, std::shared_ptr<nats_link> link,
                     const announced_module& info);

  [[nodiscard]] expected<void> push(message&& msg, delivery how) override;
  /// A group send's copy: numbered as `push`, but while the group's outbox is this member's
  /// way (see `via_`), it goes into the group's batch, published once for every member.
  [[nodiscard]] expected<void> push_group(message&& msg, const group_send& call) override;
  [[nodiscard]] endpoint_state state() const noexcept override;
  [[nodiscard]] bool when_writable(std::function<void()> fn) override;
  [[nodiscard]] std::size_t room() const noexcept override;
  void close(std::vector<message>& dropped) override;
  void discard(std::vector<message>& dropped) override { close(dropped); }

  /// The receiver granted `n` credits back; with `ack`, it has every numbered record of
  /// `ack.stream` up to `ack.seq`; `gap`: and some above it, so the next is missing (resent at
  /// once, unless a resend is on its way: then at most one per half presence interval).
  void grant(std::uint64_t n, subjects::sequence ack = {}, bool gap = false);
  /// After a failover of the data connection: the kept records are resent (counted
  /// `nats_stats::resent`) and the credits start again, less what was resent. What is not
  /// numbered may be lost in the failed link: counted (`unacknowledged`).
  void restart_window();
  /// The receiver's process reconnected: what it had not acknowledged may be lost on its side;
  /// the kept records are resent.
  void resend();
  /// Every presence interval: when records are kept and the acknowledgement has not moved
  /// since the last nudge, the newest kept record is sent again as a probe. Records lost at the
  /// end of what was sent leave no gap the receiver could see (and their credits never come
  /// back); the probe arrives above them, the receiver reports the gap, and everything kept is
  /// resent. Else the probe is a duplicate, which the receiver answers with what it owes: an
  /// idle stream's unacknowledged tail is acknowledged, a slow receiver costs one duplicate per
  /// interval.
  void nudge();
  /// The module went away (its process left or fell silent, or the type stops): waiting and
  /// later pushes fail with `not_connected`. What was not acknowledged is counted.
  void gone();
  /// The module's announced inbox settings changed.
  void update(const announced_module& info);
  /// Publishes the pending batch (the batcher's call).
  void flush_batch() override;

 private:
  const std::shared_ptr<nats_link> link_;
  const std::string subject_;
  const std::int64_t window_;
  const std::size_t window_bytes_;  // flow.window_bytes: encoded bytes unacknowledged
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t credits_;
  overflow_policy overflow_;
  std::chrono::milliseconds block_timeout_;
  bool closed_ = false;
  bool gone_ = false;
  std::function<void()> writable_;
  // Failover.
  const bool replica_;
  const std::uint64_t stream_;
  nats_resend_window kept_;
  std::string number_;              // "<stream>-<seq>", the reply subject; reused under mu_
  std::uint64_t nudged_acked_ = 0;  // kept_.acked() at the last nudge
  std::uint64_t resent_upto_ = 0;   // the newest number at the last resend
  std::uint64_t sent_upto_ = 0;     // the newest number handed to nats.c (a resend of those
                                    // counts as `resent`; a pending one's first send does not)
  std::chrono::steady_clock::time_point resent_at_{};
  [[nodiscard]] bool numbered_locked() const noexcept {
    return !replica_ && overflow_ != overflow_policy::drop_oldest;
  }
  /// A credit, and for numbered records room in the resend window: fewer copies than it
  /// holds and fewer bytes than `flow.window_bytes` (the record that crosses it goes, so a
  /// record larger than the byte window is never held back for its size alone).
  [[nodiscard]] bool room_locked() const noexcept {
    return credits_ > 0 && !(numbered_locked() && (kept_.full() || kept_.bytes() >= window_bytes_));
  }
  /// The credit (and the overflow policy's wait) of one push: true when a credit was taken,
  /// false when none is needed (`drop_oldest`).
  [[nodiscard]] expected<bool> admit_locked(std::unique_lock<std::mutex>& lk, delivery how);
  /// `push` and `push_group` (`call` null for a plain push).
  [[nodiscard]] expected<void> push_numbered(message&& msg, delivery how, const group_send* call);
  /// Sets `via_` for the next numbered record: when nothing is unacknowledged, the group
  /// outbox of `call`'s group (a group send while the data connection is up), else none (the
  /// module's own subject); while records are unacknowledged, the way they took.
  void choose_path_locked(const group_send* call);
  /// A numbered record into `via_` (the group batch; a copy of call `call`), kept on success.
  [[nodiscard]] expected<void> keep_via_locked(message& msg, message& displaced,
                                               std::uint64_t call);
  /// Where this member's numbered records go while any of them is unacknowledged: a group's
  /// outbox (they go in group batches, on the group's subject), or null (the module's own
  /// subject, in its own batches). It changes only when everything is acknowledged, which the
  /// receiver does only once a record is in the inbox: records of one stream are then never
  /// taken by two of the receiver's threads at once, so they arrive in the order sent. Resends
  /// and probes go the same way.
  std::shared_ptr<nats_group_outbox> via_;
  /// Publishes every kept record again, oldest first; stops at the first refused publish.
  /// The pending batch is dropped first: its records are kept, so resent here.
  void resend_locked();
  /// Publishes the pending batch, if any.
  void flush_locked();
  /// A numbered one-way record: into the pending batch (`schedule`: the batcher must be told),
  /// or published now, after the batch (too large for one, the connection down, batches off);
  /// kept on success (the slot's previous message in `displaced`). On failure nothing is kept
  /// and `msg` is intact.
  [[nodiscard]] expected<void> keep_numbered_locked(message& msg, message& displaced,
                                                    bool& schedule);
  /// Encodes a numbered record straight into the pending batch (the data connection is up):
  /// false when it must go alone (larger than a batch), after the batch was flushed; an encode
  /// error as `encode_message`'s.
  [[nodiscard]] expected<bool> batch_locked(const message& msg, bool& schedule);
  nats_batch pending_;
  bool scheduled_ = false;  ///< on the batcher's queue
};

/// Where the replies to a requesting process go: `<ns>.r.<requester>.<request id>`. The reply
/// table holds it (weakly) for each sync request that came from that process.
class nats_reply_endpoint final : public endpoint {
 public:
  nats_reply_endpoint(std::string reply_prefix, std::shared_ptr<nats_link> link)
      : endpoint(std::move(reply_prefix)), link_(std::move(link)) {}
  [[nodiscard]] expected<void> push(message&& msg, delivery how) override;
  void close(std::vector<message>& /*dropped*/) override {}
  void discard(std::vector<message>& /*dropped*/) override {}

 private:
  const std::shared_ptr<nats_link> link_;
};

}  // namespace beehive::detail
