// SPDX-License-Identifier: Apache-2.0
#include "socket/outbound_queue.hpp"

#include <algorithm>
#include <functional>
#include <iterator>

#include "core/log.hpp"
#include "socket/socket_counters.hpp"

namespace beehive::detail {
namespace {

// Sends closer together than this, several in a row, are a burst and get queued.
constexpr auto burst_gap = std::chrono::microseconds(10);
constexpr unsigned burst_streak = 4;
// A burst is written when it reaches this many records (by the sender that fills it), or when
// it is this old (by the writer).
constexpr std::size_t flush_batch = 64;
constexpr auto flush_delay = std::chrono::microseconds(50);
// Records one write call takes at most (the sink splits them into syscalls).
constexpr std::size_t max_take = 1024;

void add(socket_counters* c, std::atomic<std::uint64_t> socket_counters::*field, std::size_t n) {
  if (c != nullptr && n != 0) (c->*field).fetch_add(n, std::memory_order_relaxed);
}

}  // namespace

outbound_queue::outbound_queue(record_sink& sink, inbox_options options, socket_counters* counters)
    : sink_(sink),
      opts_(std::move(options)),
      capacity_(std::max<std::size_t>(opts_.capacity, 1)),
      counters_(counters),
      shaped_(opts_.shaped()),
      lanes_(opts_.lanes.lanes) {
  if (lanes_.empty()) lanes_.push_back({capacity_, opts_.overflow, opts_.block_timeout});
  for (auto& l : lanes_) l.capacity = std::max<std::size_t>(l.capacity, 1);
  lane_count_.assign(lanes_.size(), 0);
}

outbound_queue::~outbound_queue() {
  close();
  if (writer_.joinable()) writer_.join();
}

void outbound_queue::close() noexcept {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    add(counters_, &socket_counters::outbound_unsent, queue_.size());
    queue_.clear();
    meta_.clear();
    std::fill(lane_count_.begin(), lane_count_.end(), 0);
  }
  room_cv_.notify_all();
  work_cv_.notify_all();
}

std::uint64_t outbound_queue::coalesced() const {
  std::lock_guard lock(mu_);
  return coalesced_;
}

std::size_t outbound_queue::lane_pending(std::size_t lane) const {
  std::lock_guard lock(mu_);
  return lane < lane_count_.size() ? lane_count_[lane] : 0;
}

void outbound_queue::close_and_join() noexcept {
  close();
  std::thread writer;
  {
    std::unique_lock lock(mu_);
    // A sender's write (the latency path) may still be in the sink; once it returns nothing
    // starts another: every path that writes checks `closed_` first.
    room_cv_.wait(lock, [&] { return !writing_; });
    writer = std::move(writer_);
  }
  if (writer.joinable()) writer.join();
}

std::size_t outbound_queue::pending() const {
  std::lock_guard lock(mu_);
  return pending_locked();
}

std::size_t outbound_queue::waiting_senders() const {
  std::lock_guard lock(mu_);
  return room_waiters_;
}

bool outbound_queue::writer_started() const {
  std::lock_guard lock(mu_);
  return writer_.joinable();
}

expected<void> outbound_queue::push(std::string&& record, admission how, const message* meta) {
  record_meta m;
  if (shaped_ && meta != nullptr) {
    // Outside the lock: the options' functions are user code.
    lane_ticket t = make_ticket(opts_, *meta);
    m.lane = std::min(t.lane, lanes_.size() - 1);
    m.key = std::move(t.key);
    if (!m.key.empty()) m.hash = std::hash<std::string>{}(m.key);
  }
  const auto now = clock::now();
  std::unique_lock lock(mu_);
  if (closed_) return unexpected(errc::not_connected);
  if (shaped_ && !m.key.empty() && coalesce_locked(record, m)) return {};
  // A burst: several sends each within `burst_gap` of the previous one. A request/reply
  // exchange never looks like one (a round trip takes longer than the gap).
  streak_ = now - last_push_ < burst_gap ? streak_ + 1 : 0;
  last_push_ = now;
  if (!writing_ && queue_.empty() && streak_ < burst_streak) {
    // The latency path: an idle link is written at once, in the caller, without waiting. If
    // the socket is full the record stays at the head of the queue for the writer.
    if (shaped_) {
      batch_meta_.clear();
      batch_meta_.push_back(std::move(m));
    }
    return write_locked(lock, std::span<std::string>(&record, 1), 0, false);
  }
  const bool full = used_locked(m.lane) >= lanes_[m.lane].capacity;
  if (full && !writing_ && !urgent_ && !queue_.empty()) {
    // Full of a burst held back for batching while the socket may have room: write it now
    // (without waiting) rather than refuse, evict or wait.
    if (auto r = write_queued_locked(lock); !r) return r;
  }
  if (auto r = admit_locked(lock, how, m.lane); !r) return r;
  const bool first = queue_.empty();
  if (first) batch_start_ = now;
  if (shaped_) {
    enqueue_locked(std::move(record), std::move(m));
  } else {
    queue_.push_back(std::move(record));
  }
  if (writing_ || urgent_ || queue_.size() < std::min(flush_batch, capacity_)) {
    // The writer learns of a new batch once (it then waits for the batch to fill or age);
    // a write in progress wakes it when done, and so did whoever set `urgent_`.
    if (first && !writing_) wake_writer_locked();
    return {};
  }
  // A full batch and an idle link: this sender writes it (without waiting for the socket).
  return write_queued_locked(lock);
}

expected<void> outbound_queue::write_queued_locked(std::unique_lock<std::mutex>& lock) {
  const std::size_t offset = front_offset_;
  front_offset_ = 0;
  const std::size_t n = take_locked(max_take);
  return write_locked(lock, std::span<std::string>(batch_.data(), n), offset, false);
}

expected<void> outbound_queue::admit_locked(std::unique_lock<std::mutex>& lock, admission how,
                                            std::size_t lane) {
  // Without lanes, lanes_ holds the one lane of the queue's options and the queue's whole
  // count is that lane's.
  const lane_options& lo = lanes_[lane];
  const std::size_t limit = how == admission::park ? 2 * lo.capacity : lo.capacity;
  if (used_locked(lane) < limit) return {};
  switch (lo.overflow) {
    case overflow_policy::fail:
      add(counters_, &socket_counters::outbound_rejected, 1);
      return unexpected(errc::queue_full);
    case overflow_policy::drop_oldest:
      if (shaped_) {
        evict_oldest_of_lane_locked(lane);
      } else {
        evict_oldest_locked();
      }
      return {};
    case overflow_policy::block:
      break;
  }
  if (how == admission::park) {
    // Neither a group's sender nor a sync caller waits on one peer: their own timeout (or the
    // other members) must not depend on it.
    add(counters_, &socket_counters::outbound_rejected, 1);
    return unexpected(errc::queue_full);
  }
  const auto ready = [&] { return closed_ || used_locked(lane) < limit; };
  bool ok = true;
  ++room_waiters_;
  if (lo.block_timeout.count() > 0) {
    ok = room_cv_.wait_for(lock, lo.block_timeout, ready);
  } else {
    room_cv_.wait(lock, ready);
  }
  --room_waiters_;
  if (closed_) return unexpected(errc::not_connected);
  if (!ok) {
    add(counters_, &socket_counters::outbound_rejected, 1);
    return unexpected(errc::timed_out);
  }
  return {};
}

bool outbound_queue::coalesce_locked(std::string& record, const record_meta& m) {
  // The head may be partly on the wire: it is never replaced.
  const std::size_t first = front_offset_ != 0 ? 1 : 0;
  for (std::size_t i = queue_.size(); i > first; --i) {
    const record_meta& q = meta_[i - 1];
    if (q.hash == m.hash && q.lane == m.lane && q.key == m.key) {
      queue_[i - 1].swap(record);  // the replaced record leaves in `record`
      ++coalesced_;
      return true;
    }
  }
  return false;
}

void outbound_queue::enqueue_locked(std::string&& record, record_meta&& m) {
  const std::size_t bound = opts_.lanes.starvation_bound;
  const std::size_t first = front_offset_ != 0 ? 1 : 0;
  std::size_t pos = queue_.size();
  // Ahead of lower-lane records, unless one of them was overtaken `bound` times already.
  while (pos > first && meta_[pos - 1].lane > m.lane &&
         (bound == 0 || meta_[pos - 1].passed < bound)) {
    --pos;
  }
  for (std::size_t i = pos; i < meta_.size(); ++i) ++meta_[i].passed;
  ++lane_count_[m.lane];
  const auto at = static_cast<std::ptrdiff_t>(pos);
  queue_.insert(queue_.begin() + at, std::move(record));
  meta_.insert(meta_.begin() + at, std::move(m));
}

void outbound_queue::evict_oldest_of_lane_locked(std::size_t lane) {
  const std::size_t first = front_offset_ != 0 ? 1 : 0;
  for (std::size_t i = first; i < queue_.size(); ++i) {
    if (meta_[i].lane != lane) continue;
    const auto at = static_cast<std::ptrdiff_t>(i);
    queue_.erase(queue_.begin() + at);
    meta_.erase(meta_.begin() + at);
    --lane_count_[lane];
    add(counters_, &socket_counters::outbound_dropped, 1);
    return;
  }
}

void outbound_queue::evict_oldest_locked() {
  // The head may be partly on the wire already (a stream write stopped inside it): it must be
  // finished, so the next one goes. Records being written are out of reach: if they are all
  // there is, nothing is evicted and the queue exceeds its capacity by those.
  auto it = queue_.begin();
  if (front_offset_ != 0 && it != queue_.end()) ++it;
  if (it == queue_.end()) return;
  queue_.erase(it);
  add(counters_, &socket_counters::outbound_dropped, 1);
}

std::size_t outbound_queue::take_locked(std::size_t max) {
  const std::size_t n = std::min(max, queue_.size());
  batch_.clear();
  batch_.insert(batch_.end(), std::make_move_iterator(queue_.begin()),
                std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  if (shaped_) {
    batch_meta_.clear();
    for (std::size_t i = 0; i < n; ++i) {
      --lane_count_[meta_.front().lane];
      batch_meta_.push_back(std::move(meta_.front()));
      meta_.pop_front();
    }
    if (n > 0 && room_waiters_ > 0) room_cv_.notify_all();
  }
  return n;
}

expected<void> outbound_queue::write_locked(std::unique_lock<std::mutex>& lock,
                                            std::span<std::string> records, std::size_t offset,
                                            bool wait) {
  writing_ = true;
  inflight_ = records.size();
  if (wait) urgent_ = false;
  lock.unlock();
  auto r = sink_.write(records, offset, wait);
  lock.lock();
  writing_ = false;
  inflight_ = 0;
  if (closed_) room_cv_.notify_all();  // `close_and_join` may wait for this write
  if (!r) {
    add(counters_, &socket_counters::outbound_unsent, records.size());
    fail_locked();
    return unexpected(errc::not_connected);
  }
  const std::size_t done = std::min(r->records, records.size());
  wrote_locked(done);
  if (done < records.size() && !closed_) {
    // The socket is full: what did not go goes back to the head of the queue, before anything
    // queued meanwhile, and the writer takes over.
    for (std::size_t i = records.size(); i > done; --i) {
      queue_.push_front(std::move(records[i - 1]));
      if (shaped_) {
        ++lane_count_[batch_meta_[i - 1].lane];
        meta_.push_front(std::move(batch_meta_[i - 1]));
      }
    }
    front_offset_ = r->offset;
    urgent_ = true;
  } else if (done < records.size()) {
    add(counters_, &socket_counters::outbound_unsent, records.size() - done);
  }
  if (!queue_.empty()) wake_writer_locked();
  return {};
}

void outbound_queue::wrote_locked(std::size_t n) {
  add(counters_, &socket_counters::records_out, n);
  if (room_waiters_ > 0) room_cv_.notify_all();
}

void outbound_queue::wake_writer_locked() {
  if (!writer_.joinable()) {
    writer_ = std::thread([this] { run_writer(); });
    return;
  }
  work_cv_.notify_one();
}

void outbound_queue::fail_locked() {
  if (!closed_) {
    closed_ = true;
    add(counters_, &socket_counters::outbound_unsent, queue_.size());
    queue_.clear();
    meta_.clear();
    std::fill(lane_count_.begin(), lane_count_.end(), 0);
  }
  room_cv_.notify_all();
  work_cv_.notify_all();
}

void outbound_queue::run_writer() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return closed_ || (!queue_.empty() && !writing_); });
    if (closed_) return;
    if (!urgent_ && queue_.size() < flush_batch) {
      // Give the sender the chance to fill the batch itself; write what is left after that.
      const auto due = batch_start_ + flush_delay;
      work_cv_.wait_until(lock, due, [&] { return closed_ || urgent_; });
      if (closed_) return;
      if (queue_.empty() || writing_) continue;
      if (!urgent_ && queue_.size() < flush_batch && clock::now() < batch_start_ + flush_delay) {
        continue;  // a new batch started meanwhile
      }
    }
    const std::size_t offset = front_offset_;
    front_offset_ = 0;
    const std::size_t n = take_locked(max_take);
    if (!write_locked(lock, std::span<std::string>(batch_.data(), n), offset, true)) return;
    batch_.clear();
  }
}

}  // namespace beehive::detail
