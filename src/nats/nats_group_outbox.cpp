// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_group_outbox.hpp"

#include "nats/nats_link.hpp"
#include "nats/nats_subject.hpp"

namespace beehive::detail {

nats_group_outbox::nats_group_outbox(nats_link& link, std::string group)
    : link_(link), group_(std::move(group)), subject_(link_.subj.group(group_)) {}

expected<void> nats_group_outbox::add(std::string_view module, std::uint64_t stream,
                                      std::uint64_t seq, std::uint64_t call,
                                      std::string_view record) {
  bool schedule = false;
  {
    std::lock_guard lk(mu_);
    const std::size_t cap = link_.batch_cap();
    // Another member's copy of the call whose record is the newest: only the table grows.
    if (call != 0 && call == last_call_ && !batch_.empty() &&
        batch_.size_with(0, module.size()) - nats_group_batch::frame_overhead <= cap &&
        batch_.add(module, stream, seq, batch_.records() - 1)) {
      ++member_records_;
      return {};
    }
    if (!batch_.empty() && (batch_.size_with(record.size(), module.size()) > cap ||
                            !batch_.can_take(module, stream, seq))) {
      (void)flush_locked();  // a refused batch loses nothing: its records are kept by their peers
    }
    if (batch_.size_with(record.size(), module.size()) > cap) {
      // Larger than a batch: alone, at once, in its place.
      const auto at = batch_.append(record);
      (void)batch_.add(module, stream, seq, at);
      member_records_ = 1;
      return flush_locked();
    }
    const auto at = batch_.append(record);
    (void)batch_.add(module, stream, seq, at);
    ++member_records_;
    last_call_ = call;
    schedule = !scheduled_;
    scheduled_ = true;
  }
  // The batcher stopped (the type stops): published here.
  if (schedule && !link_.batcher.schedule(shared_from_this())) flush_batch();
  return {};
}

std::size_t nats_group_outbox::send_alone(
    std::string_view module, std::uint64_t stream,
    const std::vector<std::pair<std::uint64_t, const message*>>& records) {
  std::lock_guard lk(mu_);
  (void)flush_locked();  // what is pending goes first
  const std::size_t cap = link_.batch_cap();
  std::size_t sent = 0;
  std::size_t in_batch = 0;
  for (const auto& [seq, msg] : records) {
    auto record = link_.encode(*msg);
    if (!record) continue;  // was encoded when first sent: does not happen
    if (!batch_.empty() && batch_.size_with(record->size(), module.size()) > cap) {
      if (!flush_locked()) return sent;
      sent += in_batch;
      in_batch = 0;
    }
    const auto at = batch_.append(*record);
    (void)batch_.add(module, stream, seq, at);
    ++member_records_;
    ++in_batch;
  }
  if (flush_locked()) sent += in_batch;
  return sent;
}

void nats_group_outbox::flush_batch() {
  std::lock_guard lk(mu_);
  scheduled_ = false;
  (void)flush_locked();
}

expected<void> nats_group_outbox::flush_locked() {
  if (batch_.empty()) return {};
  auto r = link_.publish(*link_.data, subject_, batch_.seal(), {}, member_records_);
  if (r) nats_counters::bump(link_.counters.group_batches);
  batch_.clear();
  member_records_ = 0;
  last_call_ = 0;
  return r;
}

}  // namespace beehive::detail
