// SPDX-License-Identifier: Apache-2.0
// What arrives from NATS for the modules hosted here: their records (the rest arrives in
// nats_control.cpp; group batches in nats_type_groups.cpp).
//
// Per NATS message for a hosted module (on its subscription's delivery thread): one record,
// or a batch of numbered one-way records (nats_batch: each framed record is taken as below):
// - nats.c: its subscription lock to hand the message over, and for `more` (GetPending) once
//   per backlog nats.c reported, not per message (nats_subscription::on_message);
// - the subscription guard: two short locks (busy count), two weak_ptr locks (type, endpoint);
// - one map lookup (the sender's credit entry, a map only this thread touches).
// Per record:
// - one decode (one allocation: the content's holder and text in one block; the header
//   inline), one move into the batch (a reused vector: no allocation once warm); the nats.c
//   message is kept and destroyed with up to `spent_batch` others (nats.c's garbage-collector
//   thread is woken per burst, not per few records);
// - a numbered one-way record (its number in the reply subject, or in a group batch's table):
//   the number parsed, under the module's `senders_mu` (one uncontended lock: the group
//   subscriptions take records for it too) one bit tested and set in the sender's dedup window;
//   a duplicate is dropped before its decode;
// - at relay: one inbox push (one CAS; a futex wake only when the module's thread sleeps,
//   which a batch makes once per batch instead of once per record), one relaxed counter, and
//   `senders_mu` once more (the newest number relayed, the credit owed);
// - every `window/2` records (or `window_bytes/2` bytes) per sender: one credit publish (rpc
//   connection, SendAsap), which acknowledges the numbered records; when nothing more is
//   queued and a sender's numbers have a gap (or a duplicate came), one more (`report_gaps`);
// - a sync request adds one reply-table registration.
// Batches end when nats.c has nothing more queued or `relay_batch` records wait.
#include <algorithm>
#include <charconv>
#include <memory>

#include "beehive/codec.hpp"
#include "core/log.hpp"
#include "core/reply_table.hpp"
#include "nats/nats_batch.hpp"
#include "nats/nats_hosted_endpoint.hpp"
#include "nats/nats_peer_endpoint.hpp"
#include "nats/nats_type.hpp"

namespace beehive::detail {
namespace {

void bump(std::atomic<std::uint64_t>& c) { nats_counters::bump(c); }

}  // namespace

void nats_type::on_module_message(nats_hosted_endpoint& ep, natsMsg* raw, bool more) {
  nats_intake& in = *ep.own;
  take(ep, in, nats_msg_ptr(raw));
  if (!more || in.held.size() >= relay_batch) relay_held(ep, in, true);
  if (!more && ep.gap_pending.load(std::memory_order_relaxed)) report_gaps(ep);
}

void nats_type::take(nats_hosted_endpoint& ep, nats_intake& in, nats_msg_ptr m) {
  type_host* const h = host_.load();
  if (h == nullptr) return;
  const char* reply = natsMsg_GetReply(m.get());
  const std::string_view data = nats_msg_data(m.get());
  if (data.empty()) {
    // A claim: another process asks whether the name is taken.
    if (reply != nullptr) {
      (void)link_->rpc->publish(reply, ep.replica ? "replica" : "taken");
    }
    return;
  }
  std::string_view sender = subjects::last_token(natsMsg_GetSubject(m.get()));
  nats_sender_entry* const credit = credit_slot(ep, sender);
  // A numbered one-way record carries its number as its reply subject (a request's reply is a
  // subject with dots: never a number); a batch, its first record's number.
  const auto number = reply != nullptr ? subjects::parse_sequence(reply) : std::nullopt;
  if (!nats_batch::is_batch(data)) {
    take_record(ep, in, data, reply, number, credit, sender, std::move(m));
    return;
  }
  bool whole = false;
  if (number) {
    subjects::sequence seq = *number;
    // One lock of the sender entries for the run of records, not one per record.
    std::unique_lock run(ep.senders_mu, std::defer_lock);
    whole = nats_batch::for_each(data, [&](std::string_view record) {
      take_in_run(ep, in, record, reply, seq, credit, sender, run);
    });
  }
  if (!whole) {
    // Broken framing, or a batch without a number: what came before the break was taken.
    bump(link_->counters.received);
    bump(link_->counters.malformed);
    log().warn("nats: malformed batch ({} bytes) for '{}': the rest dropped", data.size(),
               ep.name());
    if (credit != nullptr) grant(ep, sender, *credit, 1, data.size());
  }
  // The records were decoded (copied): the nats.c message goes with the others spent.
  in.spent_bytes += data.size();
  in.spent.push_back(std::move(m));
}

void nats_type::take_record(nats_hosted_endpoint& ep, nats_intake& in, std::string_view data,
                            const char* reply, std::optional<subjects::sequence> number,
                            nats_sender_entry* credit, std::string_view sender, nats_msg_ptr raw,
                            std::unique_lock<std::mutex>* run) {
  type_host* const h = host_.load();
  bump(link_->counters.received);
  if (number && credit != nullptr) {
    // A numbered record seen before (resent after a failover, or replayed by nats.c): dropped.
    std::unique_lock own(ep.senders_mu, std::defer_lock);
    std::unique_lock<std::mutex>& lk = run != nullptr ? *run : own;
    if (!lk.owns_lock()) lk.lock();
    const std::uint64_t skipped = credit->seen.skipped();
    const bool fresh = credit->seen.accept(number->stream, number->seq);
    if (credit->seen.skipped() != skipped) {
      nats_counters::bump(link_->counters.sequence_gaps, credit->seen.skipped() - skipped);
      log().warn("nats: {} record(s) from {} for '{}' never arrived: given up",
                 credit->seen.skipped() - skipped, sender, ep.name());
    }
    if (credit->seen.gap()) ep.gap_pending = true;
    if (!fresh) {
      bump(link_->counters.duplicates);
      credit->duplicate_seen = true;
      ep.gap_pending = true;
      grant_locked(ep, sender, *credit, 1, data.size());
      return;
    }
  }
  auto msg = decode_message(data);
  if (!msg) {
    bump(link_->counters.malformed);
    log().warn("nats: malformed record ({} bytes) for '{}' dropped", data.size(), ep.name());
    if (credit != nullptr) {
      if (run != nullptr && run->owns_lock()) {
        grant_locked(ep, sender, *credit, 1, data.size());
      } else {
        grant(ep, sender, *credit, 1, data.size());
      }
    }
    return;
  }
  const bool request = msg->header.sync && reply != nullptr && !number;
  if (request) {
    // A module answers with send_resp, which routes by the request's type (as Go's does): here
    // the request came by nats, whatever type its sender's side gave it (a socket peer's
    // `unixpacket`, which this process may not have).
    msg->header.type = std::string(context_type_nats);
    h->replies().expect_remote(std::string_view(msg->header.id), reply_origin(reply));
  }
  in.held.push_back({std::move(*msg), credit, sender, number ? *number : subjects::sequence{},
                     data.size(), request, std::move(raw)});
}

void nats_type::take_in_run(nats_hosted_endpoint& ep, nats_intake& in, std::string_view data,
                            const char* reply, subjects::sequence& number,
                            nats_sender_entry* credit, std::string_view sender,
                            std::unique_lock<std::mutex>& run) {
  take_record(ep, in, data, reply, number, credit, sender, nullptr, &run);
  ++number.seq;
  if (in.held.size() >= relay_batch) {
    if (run.owns_lock()) run.unlock();  // a relay may wait for room
    relay_held(ep, in, true);
  }
}

void nats_type::relay_held(nats_hosted_endpoint& ep, nats_intake& in, bool wait) {
  if (in.held.empty()) {
    // A closer: nothing of nats.c's is kept past the module; else within the bounds (a batch
    // of duplicates holds nothing, but is spent).
    if (!wait || in.spent.size() >= spent_batch || in.spent_bytes >= spent_batch_bytes) {
      in.spent.clear();
      in.spent_bytes = 0;
    }
    return;
  }
  type_host* const h = host_.load();
  std::uint64_t refused = 0;
  std::error_code why;
  // The credits of consecutive records of one sender go back together, under one lock, with
  // the newest number relayed (what the acknowledgement may cover).
  nats_sender_entry* owed_to = nullptr;
  std::string_view owed_sender;
  std::uint64_t owed = 0;
  std::uint64_t owed_bytes = 0;
  subjects::sequence newest;
  auto settle = [&] {
    if (owed_to == nullptr) return;
    std::lock_guard lk(ep.senders_mu);
    auto& e = *owed_to;
    if (newest.stream != 0 && newest.stream >= e.relayed_stream) {
      if (newest.stream != e.relayed_stream) e.relayed_seq = 0;
      e.relayed_stream = newest.stream;
      e.relayed_seq = std::max(e.relayed_seq, newest.seq);
    }
    grant_locked(ep, owed_sender, e, owed, owed_bytes);
    owed_to = nullptr;
    owed = 0;
    owed_bytes = 0;
    newest = {};
  };
  for (auto& rec : in.held) {
    auto r = relay(ep, std::move(rec.msg), wait);
    if (r) {
      // Counted right after the inbox took it (a receiver may get it an instant before).
      bump(link_->counters.delivered);
    } else {
      // Counted before its caller can hear of it.
      bump(link_->counters.undeliverable);
      ++refused;
      why = r.error();
      // The requester gets an error reply at once (the message was not moved from).
      if (rec.request && h != nullptr) h->replies().fail(rec.msg, r.error());
    }
    // Taken or refused, the record no longer waits here: its credit goes back.
    if (rec.credit != nullptr) {
      if (rec.credit != owed_to ||
          (rec.number.stream != 0 && newest.stream != 0 && rec.number.stream != newest.stream)) {
        settle();
        owed_to = rec.credit;
        owed_sender = rec.sender;
      }
      ++owed;
      owed_bytes += rec.bytes;
      if (rec.number.stream != 0) newest = rec.number;
    }
    if (rec.raw) {
      in.spent_bytes += static_cast<std::size_t>(natsMsg_GetDataLength(rec.raw.get()));
      in.spent.push_back(std::move(rec.raw));
    }
  }
  settle();
  in.held.clear();
  // nats.c hands every destroyed message to its garbage-collector thread and wakes that thread
  // whenever it sleeps: destroyed a few at a time, one wake-up per few records. So they are
  // destroyed together, bounded in number and bytes (and all of them when a closer empties
  // the batch, `wait` false).
  if (!wait || in.spent.size() >= spent_batch || in.spent_bytes >= spent_batch_bytes) {
    in.spent.clear();
    in.spent_bytes = 0;
  }
  if (refused != 0) {
    log().warn("nats: {} record(s) for '{}' not delivered: {}", refused, ep.name(), why.message());
  }
}

expected<void> nats_type::relay(nats_hosted_endpoint& ep, message&& msg, bool wait) {
  auto& gate = *ep.gate;
  for (;;) {
    auto r = ep.push(std::move(msg), delivery::relay);
    if (r || !wait || r.error() != make_error_code(errc::would_block)) return r;
    // A full `block` inbox: wait until its receiver makes room (or the inbox closes), the
    // module leaves or the type stops. Nothing is lost meanwhile: the sender's credits bound
    // what waits here and in nats.c's queue.
    const std::uint64_t armed = gate.arm();
    if (!ep.when_writable([g = ep.gate] { g->release(); })) continue;  // room already
    nats_counters::bump(link_->counters.relay_waits);
    {
      std::unique_lock lk(gate.mu);
      gate.cv.wait(lk, [&] { return gate.opened != armed || ep.leaving || link_->stopping; });
    }
    if (ep.leaving || link_->stopping) return unexpected(errc::channel_closed);
  }
}

nats_sender_entry* nats_type::credit_slot(nats_hosted_endpoint& ep,
                                          std::string_view& sender) const {
  if (sender.empty()) return nullptr;
  std::lock_guard lk(ep.senders_mu);
  auto it = ep.ungranted.find(sender);
  if (it == ep.ungranted.end()) {
    // The dedup window spans what a sender with the same flow window may keep unacknowledged.
    it = ep.ungranted.emplace(std::string(sender), nats_sender_entry(2 * link_->cfg.flow_window))
             .first;
  }
  sender = it->first;  // outlives the nats.c message
  return &it->second;
}

void nats_type::grant(nats_hosted_endpoint& ep, std::string_view sender, nats_sender_entry& entry,
                      std::uint64_t n, std::uint64_t bytes) {
  std::lock_guard lk(ep.senders_mu);
  grant_locked(ep, sender, entry, n, bytes);
}

void nats_type::grant_locked(nats_hosted_endpoint& ep, std::string_view sender,
                             nats_sender_entry& entry, std::uint64_t n, std::uint64_t bytes) {
  // Half of either window: a sender waits for credits when it has a whole window of records,
  // or of bytes, unacknowledged (nats_peer_endpoint::room_locked), so a grant always comes
  // before it would wait forever (processes of a namespace share the two windows).
  const std::uint64_t batch = std::max<std::uint64_t>(1, link_->cfg.flow_window / 2);
  const std::uint64_t batch_bytes = std::max<std::uint64_t>(1, link_->cfg.flow_window_bytes / 2);
  entry.owed += n;
  entry.owed_bytes += bytes;
  if (entry.owed >= batch || entry.owed_bytes >= batch_bytes) {
    publish_grant(ep, sender, entry, false);
  }
}

void nats_type::publish_grant(nats_hosted_endpoint& ep, std::string_view sender,
                              nats_sender_entry& entry, bool gap) {
  std::string payload = encode_token(ep.name()) + " " + std::to_string(entry.owed);
  if (entry.seen.stream() != 0) {
    // Acknowledges every numbered record up to the floor that was relayed into the inbox.
    const std::uint64_t relayed =
        entry.relayed_stream == entry.seen.stream() ? entry.relayed_seq : 0;
    payload += " " + std::to_string(entry.seen.stream()) + "-" +
               std::to_string(std::min(entry.seen.floor(), relayed));
    if (gap) payload += " gap";
  }
  if (link_->rpc->publish(link_->subj.credits(sender), payload)) {
    nats_counters::bump(link_->counters.credits_granted, entry.owed);
    entry.owed = 0;
    entry.owed_bytes = 0;
  }
}

void nats_type::report_gaps(nats_hosted_endpoint& ep) {
  ep.gap_pending = false;
  std::lock_guard lk(ep.senders_mu);
  for (auto& [sender, entry] : ep.ungranted) {
    const auto& w = entry.seen;
    const bool new_gap =
        w.gap() && (w.floor() != entry.gap_floor || w.highest() != entry.gap_highest);
    // A duplicate means the sender resends or probes: it hears what arrived at once.
    if (!new_gap && !entry.duplicate_seen) continue;
    entry.duplicate_seen = false;
    entry.gap_floor = w.floor();
    entry.gap_highest = w.highest();
    publish_grant(ep, sender, entry, w.gap());
  }
}

void nats_type::release_held(nats_hosted_endpoint& ep) {
  std::lock_guard lk(ep.release_mu);
  relay_held(ep, *ep.own, false);
}

}  // namespace beehive::detail
