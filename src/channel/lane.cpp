// SPDX-License-Identifier: Apache-2.0
#include "channel/lane.hpp"

#include <algorithm>

#include "core/deadline.hpp"
#include "core/spin_wait.hpp"

namespace beehive::detail {

namespace {

// Takes `lk`'s mutex, spinning briefly first. Why: the lock is held for well under a
// microsecond at a time; a thread that sleeps on it (futex) waits for the wake-up and then for
// a CPU, where spinning a few microseconds gets it while its holder runs on the other CPU.
void lock_spinning(std::unique_lock<std::mutex>& lk) {
  for (int i = 0; i < 256; ++i) {
    if (lk.try_lock()) return;
    cpu_relax();
  }
  lk.lock();
}

}  // namespace

lane::entry& lane::at(std::uint64_t seq) {
  const auto pos = static_cast<std::size_t>(seq - head_seq_);
  return pos < q_.size() ? q_.at(pos) : parked_.at(pos - q_.size());
}

void lane::index(entry& e, std::uint64_t seq) {
  if (e.key.empty()) return;
  auto [it, inserted] = index_.try_emplace(std::move(e.key), seq);
  if (!inserted) {
    // Only messages migrated in (`put`) skip the coalescing check: two of one key may then
    // both stay queued; the index points at the newest.
    at(it->second).idx = nullptr;
    it->second = seq;
  }
  e.key.clear();
  e.idx = &*it;
}

void lane::unindex(entry& e) {
  if (e.idx == nullptr) return;
  index_.erase(index_.find(e.idx->first));
  e.idx = nullptr;
}

// The lane and its parking are one sequence: parked entries follow the lane's, and keep their
// sequence number (and index entry) when they move in.
void lane::place(entry&& e, bool park) {
  const std::uint64_t seq = head_seq_ + q_.size() + parked_.size();
  ring<entry>& to = park ? parked_ : q_;
  to.push_back(std::move(e));
  index(to.at(to.size() - 1), seq);
  publish();
}

void lane::refill() {
  while (!parked_.empty() && q_.size() < capacity_) q_.push_back(parked_.pop_front());
}

// 1 = the lane, 2 = its parking, 0 = full.
int lane::slot(lane_push how) {
  refill();
  if (parked_.empty() && q_.size() < capacity_) return 1;
  if (how != lane_push::relay && opts_.overflow != overflow_policy::drop_oldest &&
      parked_.size() < capacity_ && (how == lane_push::group || !parked_.empty())) {
    return 2;
  }
  return 0;
}

expected<void> lane::push(message&& msg, std::string&& key, lane_push how,
                          const std::atomic<bool>& cancelled, std::uint64_t epoch, message& out,
                          bool& is_stale) {
  std::unique_lock lk(mu_, std::defer_lock);
  lock_spinning(lk);
  if (closed_) return unexpected(errc::channel_closed);
  if (epoch != epoch_) {
    is_stale = true;
    return unexpected(errc::channel_closed);
  }
  if (!key.empty()) {
    if (auto it = index_.find(key); it != index_.end()) {
      // Latest value wins, in the queued message's place; no room needed, never waits.
      entry& e = at(it->second);
      out = std::move(e.msg);
      e.msg = std::move(msg);
      ++st_.accepted;
      ++st_.coalesced;
      return {};
    }
  }
  int where = slot(how);
  if (where == 0) {
    // Relay: only where `block` would wait (fail and drop_oldest never wait).
    if (how == lane_push::relay && opts_.overflow == overflow_policy::block) {
      return unexpected(errc::would_block);
    }
    switch (opts_.overflow) {
      case overflow_policy::fail:
        ++st_.rejected;
        ++rejected_full_;
        return unexpected(errc::queue_full);
      case overflow_policy::drop_oldest:
        if (!q_.empty()) {
          entry old = q_.pop_front();
          ++head_seq_;
          unindex(old);
          out = std::move(old.msg);
          ++st_.dropped;
          ++dropped_oldest_;
        }
        where = 1;
        break;
      case overflow_policy::block: {
        if (cancelled.load(std::memory_order_acquire)) {
          ++st_.rejected;
          ++rejected_cancelled_;
          return unexpected(errc::cancelled);
        }
        const bool bounded = opts_.block_timeout.count() > 0;
        const auto deadline =
            bounded ? deadline_after(opts_.block_timeout) : std::chrono::steady_clock::time_point{};
        const std::uint64_t gen = generation_;
        auto ready_now = [&] {
          return closed_ || generation_ != gen || epoch_ != epoch || (where = slot(how)) != 0 ||
                 cancelled.load(std::memory_order_acquire);
        };
        ++sleepers_;
        if (bounded) {
          (void)not_full_.wait_until(lk, deadline, ready_now);
        } else {
          not_full_.wait(lk, ready_now);
        }
        --sleepers_;
        if (closed_ || generation_ != gen) return unexpected(errc::channel_closed);
        if (epoch_ != epoch) {
          is_stale = true;
          return unexpected(errc::channel_closed);
        }
        if (where == 0) {
          ++st_.rejected;
          if (cancelled.load(std::memory_order_acquire)) {
            ++rejected_cancelled_;
            return unexpected(errc::cancelled);
          }
          ++rejected_full_;
          return unexpected(errc::timed_out);
        }
        break;
      }
    }
  }
  ++st_.accepted;
  place(entry{std::move(msg), std::move(key), nullptr}, where == 2);
  return {};
}

std::optional<message> lane::take() {
  std::unique_lock lk(mu_, std::defer_lock);
  lock_spinning(lk);
  if (q_.empty()) return std::nullopt;
  entry e = q_.pop_front();
  ++head_seq_;
  unindex(e);
  ++st_.received;
  refill();
  publish();
  // Senders waiting for room are woken once a quarter of the lane is free (or it is empty):
  // one wake-up per batch of room, not a herd per message. The capacity stays exact: they
  // re-check under the lock.
  const std::size_t used = q_.size() + parked_.size();
  const bool wake = sleepers_ > 0 && (used == 0 || capacity_ - std::min(used, capacity_) >=
                                                       std::max<std::size_t>(1, capacity_ / 4));
  lk.unlock();
  if (wake) not_full_.notify_all();
  return std::optional<message>(std::move(e.msg));
}

void lane::configure(const lane_options& o, std::uint64_t epoch) {
  std::lock_guard lk(mu_);
  opts_ = o;
  capacity_ = std::max<std::size_t>(1, o.capacity);
  epoch_ = epoch;
  refill();
  publish();
}

void lane::close(bool drop, std::vector<message>& dropped) {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    ++generation_;
    if (drop) {
      const std::size_t n = q_.size() + parked_.size();
      st_.dropped += n;
      dropped_on_close_ += n;
      head_seq_ += n;
      while (!q_.empty()) dropped.push_back(std::move(q_.pop_front().msg));
      while (!parked_.empty()) dropped.push_back(std::move(parked_.pop_front().msg));
      index_.clear();
      publish();
    }
  }
  not_full_.notify_all();
}

void lane::open() {
  std::lock_guard lk(mu_);
  closed_ = false;
}

void lane::take_all(std::vector<message>& out) {
  std::lock_guard lk(mu_);
  head_seq_ += q_.size() + parked_.size();
  while (!q_.empty()) out.push_back(std::move(q_.pop_front().msg));
  while (!parked_.empty()) out.push_back(std::move(parked_.pop_front().msg));
  index_.clear();
  publish();
}

void lane::put(message&& msg, std::string&& key) {
  std::lock_guard lk(mu_);
  place(entry{std::move(msg), std::move(key), nullptr}, false);
}

void lane::add_stats(inbox_stats& st, bool per_lane) const {
  // Spinning first, as a push does: a consumer that samples its stats per message (the storm
  // benchmark does) would otherwise sleep on a flooded lane's lock.
  std::unique_lock lk(mu_, std::defer_lock);
  lock_spinning(lk);
  st.queued += q_.size() + parked_.size();
  st.accepted += st_.accepted;
  st.received += st_.received;
  st.coalesced += st_.coalesced;
  st.rejected_full += rejected_full_;
  st.rejected_cancelled += rejected_cancelled_;
  st.dropped_oldest += dropped_oldest_;
  st.dropped_on_close += dropped_on_close_;
  if (per_lane) {
    lane_stats ls = st_;
    ls.capacity = capacity_;
    ls.queued = q_.size() + parked_.size();
    st.lanes.push_back(ls);
  }
}

std::size_t lane::room() const {
  std::lock_guard lk(mu_);
  const std::size_t used = q_.size() + parked_.size();
  return used >= capacity_ ? 0 : capacity_ - used;
}

std::size_t lane::waiting_senders() const {
  std::lock_guard lk(mu_);
  return sleepers_;
}

bool lane::mark_if_full(std::atomic<bool>& flag) {
  std::lock_guard lk(mu_);
  if (q_.size() + parked_.size() < capacity_) return false;
  flag.store(true, std::memory_order_seq_cst);
  return true;
}

void lane::wake_senders() {
  // Under the lock: a sender between its check and its sleep must not miss this.
  { std::lock_guard lk(mu_); }
  not_full_.notify_all();
}

}  // namespace beehive::detail
