// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_peer_endpoint.hpp"

#include <algorithm>
#include <atomic>
#include <utility>

#include "beehive/codec.hpp"
#include "core/deadline.hpp"
#include "core/log.hpp"
#include "nats/nats_group_outbox.hpp"

namespace beehive::detail {
namespace {

// Streams are numbered across the process: a module's endpoint made again (it left and came
// back) starts a newer stream, so that its receiver does not take its records for duplicates.
std::atomic<std::uint64_t> next_stream{1};

}  // namespace

nats_peer_endpoint::nats_peer_endpoint(std::string name, std::shared_ptr<nats_link> link,
                                       const announced_module& info)
    : endpoint(name),
      link_(std::move(link)),
      subject_(link_->subj.module(name)),
      window_(static_cast<std::int64_t>(link_->cfg.flow_window)),
      window_bytes_(link_->cfg.flow_window_bytes),
      credits_(window_),
      overflow_(info.overflow),
      block_timeout_(info.block_timeout),
      replica_(info.replica),
      stream_(next_stream.fetch_add(1, std::memory_order_relaxed)),
      kept_(2 * static_cast<std::size_t>(std::max<std::int64_t>(1, window_))) {}

expected<bool> nats_peer_endpoint::admit_locked(std::unique_lock<std::mutex>& lk, delivery how) {
  if (closed_) return unexpected(errc::channel_closed);
  if (gone_) return unexpected(errc::not_connected);
  if (overflow_ == overflow_policy::drop_oldest) return false;
  if (!room_locked()) {
    if (how == delivery::relay) return unexpected(errc::would_block);
    if (overflow_ == overflow_policy::fail) {
      nats_counters::bump(link_->counters.credit_refusals);
      return unexpected(errc::queue_full);
    }
    nats_counters::bump(link_->counters.credit_waits);
    const auto deadline = block_timeout_.count() > 0 ? deadline_after(block_timeout_)
                                                     : std::chrono::steady_clock::time_point::max();
    const bool ready =
        cv_.wait_until(lk, deadline, [&] { return room_locked() || closed_ || gone_; });
    if (closed_) return unexpected(errc::channel_closed);
    if (gone_) return unexpected(errc::not_connected);
    if (!ready) {
      nats_counters::bump(link_->counters.credit_refusals);
      return unexpected(errc::timed_out);
    }
  }
  --credits_;
  return true;
}

expected<void> nats_peer_endpoint::push(message&& msg, delivery how) {
  return push_numbered(std::move(msg), how, nullptr);
}

expected<void> nats_peer_endpoint::push_group(message&& msg, const group_send& call) {
  // A request is never batched; without batches, every copy goes on the member's own subject.
  if (msg.header.sync || !link_->batching()) return push(std::move(msg), delivery::group);
  return push_numbered(std::move(msg), delivery::group, &call);
}

expected<void> nats_peer_endpoint::push_numbered(message&& msg, delivery how,
                                                 const group_send* call) {
  // The acknowledged message whose slot the kept copy reuses: destroyed after the lock (its
  // content's destructor is user code, which may send to this module again).
  message displaced;
  std::unique_lock lk(mu_);
  auto took = admit_locked(lk, how);
  if (!took) return unexpected(took.error());
  const bool request = msg.header.sync;
  if (!request && numbered_locked()) {
    // Numbered records always take a credit (`drop_oldest` is never numbered).
    bool schedule = false;
    choose_path_locked(call);
    auto r = via_ ? keep_via_locked(msg, displaced, call == nullptr ? 0 : call->id)
                  : keep_numbered_locked(msg, displaced, schedule);
    if (!r) credits_ = std::min(window_, credits_ + 1);
    lk.unlock();
    // The batcher stopped (the type stops): published here, as before batches.
    if (schedule && !link_->batcher.schedule(shared_from_this())) flush_batch();
    return r;
  }
  lk.unlock();
  auto r = request ? link_->send(*link_->rpc, subject_, msg,
                                 link_->subj.reply_to(name(), std::string_view(msg.header.id)))
                   : link_->send(*link_->data, subject_, msg);
  if (!r && *took) grant(1);
  return r;
}

void nats_peer_endpoint::choose_path_locked(const group_send* call) {
  // Free to choose only when everything sent is acknowledged, that is, relayed into the
  // module's inbox: a record on another path (another subscription, another delivery thread
  // on the receiving side) can then not overtake one still on its way.
  if (!kept_.empty()) return;
  if (call == nullptr || !link_->data_up.load(std::memory_order_relaxed)) {
    via_.reset();
  } else if (!via_ || via_->group() != call->group) {
    via_ = link_->group_outbox(call->group);
  }
}

expected<void> nats_peer_endpoint::keep_via_locked(message& msg, message& displaced,
                                                   std::uint64_t call) {
  auto record = link_->encode(msg);
  if (!record) return unexpected(record.error());
  const std::uint64_t seq = kept_.next_seq();
  if (auto r = via_->add(name(), stream_, seq, call, *record); !r) return r;
  sent_upto_ = seq;
  displaced = kept_.keep(std::move(msg), record->size());
  return {};
}

endpoint_state nats_peer_endpoint::state() const noexcept {
  std::lock_guard lk(mu_);
  if (closed_ || gone_) return endpoint_state::closed;
  return link_->data->connected() ? endpoint_state::ready : endpoint_state::connecting;
}

bool nats_peer_endpoint::when_writable(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  if (room_locked() || closed_ || gone_ || overflow_ == overflow_policy::drop_oldest) return false;
  writable_ = std::move(fn);
  return true;
}

std::size_t nats_peer_endpoint::room() const noexcept {
  std::lock_guard lk(mu_);
  if (overflow_ == overflow_policy::drop_oldest) return unbounded;
  return room_locked() ? static_cast<std::size_t>(credits_) : 0;
}

void nats_peer_endpoint::close(std::vector<message>& /*dropped*/) {
  std::function<void()> fn;
  {
    std::lock_guard lk(mu_);
    flush_locked();  // what was accepted goes out, as it did when each push published
    if (via_) via_->flush_batch();
    closed_ = true;
    fn = std::move(writable_);
  }
  cv_.notify_all();
  if (fn) fn();
}

void nats_peer_endpoint::grant(std::uint64_t n, subjects::sequence ack, bool gap) {
  std::function<void()> fn;
  {
    std::lock_guard lk(mu_);
    credits_ = std::min(window_, credits_ + static_cast<std::int64_t>(n));
    if (ack.stream == stream_) {
      kept_.acknowledge(ack.seq);
      // The receiver saw records above a missing one: resent, unless the last resend is still
      // on its way (everything it sent not yet acknowledged, within half a presence interval).
      if (gap && !kept_.empty() &&
          (kept_.acked() >= resent_upto_ ||
           std::chrono::steady_clock::now() - resent_at_ >= link_->cfg.presence_interval / 2)) {
        resend_locked();
      }
    }
    fn = std::move(writable_);
  }
  cv_.notify_all();
  if (fn) fn();
}

expected<void> nats_peer_endpoint::keep_numbered_locked(message& msg, message& displaced,
                                                        bool& schedule) {
  if (link_->batching() && link_->data_up.load(std::memory_order_relaxed)) {
    auto in_batch = batch_locked(msg, schedule);
    if (!in_batch) return unexpected(in_batch.error());
    if (*in_batch) {
      displaced = kept_.keep(std::move(msg), pending_.last_record_bytes());
      return {};
    }
  }
  flush_locked();  // what is pending goes first
  // Under the lock: numbers go out in order, and a refused publish takes none.
  subjects::write_sequence(number_, {stream_, kept_.next_seq()});
  auto record = link_->encode(msg);
  if (!record) return unexpected(record.error());
  if (auto r = link_->publish(*link_->data, subject_, *record, number_); !r) return r;
  sent_upto_ = kept_.next_seq();
  displaced = kept_.keep(std::move(msg), record->size());
  return {};
}

expected<bool> nats_peer_endpoint::batch_locked(const message& msg, bool& schedule) {
  const std::size_t cap = link_->batch_cap();
  const auto encode = [&msg](std::string& buf) { return encode_message(msg, buf); };
  auto r = pending_.append_encoded(encode, kept_.next_seq(), cap);
  if (r && !*r && !pending_.empty()) {
    flush_locked();
    r = pending_.append_encoded(encode, kept_.next_seq(), cap);
  }
  if (!r || !*r) return r;  // an encode error, or too large for a batch
  schedule = !scheduled_;
  scheduled_ = true;
  return true;
}

void nats_peer_endpoint::flush_locked() {
  if (pending_.empty()) return;
  subjects::write_sequence(number_, {stream_, pending_.first()});
  // A refused publish loses nothing: the records are kept, and resent as after a failover.
  if (link_->publish(*link_->data, subject_, pending_.payload(), number_, pending_.count())) {
    sent_upto_ = std::max(sent_upto_, pending_.first() + pending_.count() - 1);
  }
  pending_.clear();
}

void nats_peer_endpoint::flush_batch() {
  std::lock_guard lk(mu_);
  scheduled_ = false;
  flush_locked();
}

void nats_peer_endpoint::resend_locked() {
  pending_.clear();  // its records are kept: sent below (for the first time: not `resent`)
  std::uint64_t n = 0;
  if (via_) {
    // The way the records went: a resend must not overtake a record still on its way there.
    std::vector<std::pair<std::uint64_t, const message*>> all;
    all.reserve(kept_.size());
    kept_.for_each([&](std::uint64_t seq, const message& m) {
      all.emplace_back(seq, &m);
      return true;
    });
    const std::size_t went = via_->send_alone(name(), stream_, all);
    for (std::size_t i = 0; i < went; ++i) n += all[i].first <= sent_upto_ ? 1 : 0;
    if (went != 0) sent_upto_ = std::max(sent_upto_, all[went - 1].first);
  } else {
    kept_.for_each([&](std::uint64_t seq, const message& m) {
      subjects::write_sequence(number_, {stream_, seq});
      if (!link_->send(*link_->data, subject_, m, number_)) return false;  // kept for next time
      if (seq <= sent_upto_) ++n;
      sent_upto_ = std::max(sent_upto_, seq);
      return true;
    });
  }
  if (n == 0) return;
  resent_upto_ = kept_.next_seq() - 1;
  resent_at_ = std::chrono::steady_clock::now();
  nats_counters::bump(link_->counters.resent, n);
  log().info("nats: {} unacknowledged record(s) for '{}' resent", n, name());
}

void nats_peer_endpoint::restart_window() {
  std::function<void()> fn;
  {
    std::lock_guard lk(mu_);
    if (numbered_locked()) {
      // What is kept goes again, before any new record; it holds its credits until granted.
      credits_ = std::max<std::int64_t>(0, window_ - static_cast<std::int64_t>(kept_.size()));
      resend_locked();
    } else {
      if (overflow_ != overflow_policy::drop_oldest && credits_ < window_) {
        nats_counters::bump(link_->counters.unacknowledged,
                            static_cast<std::uint64_t>(window_ - credits_));
      }
      credits_ = window_;
    }
    fn = std::move(writable_);
  }
  cv_.notify_all();
  if (fn) fn();
}

void nats_peer_endpoint::resend() {
  std::lock_guard lk(mu_);
  if (!gone_ && !closed_) resend_locked();
}

void nats_peer_endpoint::nudge() {
  std::lock_guard lk(mu_);
  flush_locked();  // a probe never overtakes what is pending
  const std::uint64_t acked = kept_.acked();
  const bool stuck = !gone_ && !closed_ && !kept_.empty() && acked == nudged_acked_;
  nudged_acked_ = acked;
  if (!stuck) return;
  if (via_) {
    if (via_->send_alone(name(), stream_, {{kept_.newest_seq(), &kept_.newest()}}) != 0) {
      nats_counters::bump(link_->counters.resent);
    }
    return;
  }
  subjects::write_sequence(number_, {stream_, kept_.newest_seq()});
  if (link_->send(*link_->data, subject_, kept_.newest(), number_)) {
    nats_counters::bump(link_->counters.resent);
  }
}

void nats_peer_endpoint::gone() {
  std::function<void()> fn;
  std::vector<message> kept;  // destroyed after the lock, as in `push`
  {
    std::lock_guard lk(mu_);
    if (gone_) return;
    gone_ = true;
    pending_.clear();  // its records are kept: counted below
    // Numbered records not acknowledged (some may have arrived: an upper bound); for the
    // others, the credits not granted back.
    std::uint64_t lost = kept_.clear(kept);
    if (!numbered_locked() && overflow_ != overflow_policy::drop_oldest && credits_ < window_) {
      lost += static_cast<std::uint64_t>(window_ - credits_);
    }
    if (lost != 0) nats_counters::bump(link_->counters.unacknowledged, lost);
    fn = std::move(writable_);
  }
  cv_.notify_all();
  if (fn) fn();
}

void nats_peer_endpoint::update(const announced_module& info) {
  std::lock_guard lk(mu_);
  flush_locked();  // batched under the old policy: out before the new one applies
  if (via_) via_->flush_batch();
  overflow_ = info.overflow;
  block_timeout_ = info.block_timeout;
}

expected<void> nats_reply_endpoint::push(message&& msg, delivery /*how*/) {
  const std::string subject = name() + "." + encode_token(std::string_view(msg.header.parent_id));
  auto r = link_->send(*link_->rpc, subject, msg);
  if (r) nats_counters::bump(link_->counters.replies_out);
  return r;
}

}  // namespace beehive::detail
