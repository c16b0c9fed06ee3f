// SPDX-License-Identifier: Apache-2.0
#include "reply_table.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "spin_wait.hpp"

namespace beehive::detail {

namespace {

// The module the calling thread last received a message for (see note_receiver).
thread_local std::string
    last_receiver;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

constexpr std::size_t shard_count = 16;

}  // namespace

// One registered wait. Every field but `done` is guarded by the mutex of its shard.
struct reply_slot {
  reply_slot(std::string request_id, std::size_t shard_index, std::vector<std::string> members,
             std::string requester_name)
      : id(std::move(request_id)),
        requester(std::move(requester_name)),
        shard(shard_index),
        group(!members.empty()),
        unanswered(std::move(members)),
        remaining(group ? unanswered.size() : 1) {
    // Room for the replies is made here, by the waiting thread, not by the replying one.
    replies.reserve(remaining);
  }

  const std::string id;
  const std::string requester;  // the request's source; says nothing about a reply's origin
  const std::size_t shard;
  const bool group;
  std::vector<std::string> unanswered;  // group: members not heard from
  std::size_t remaining;                // replies still awaited
  std::vector<message> replies;
  std::condition_variable cv;
  bool sleeping = false;
  // Set (under the shard lock) when no more replies are awaited; read by spinning waiters.
  std::atomic<bool> done{false};
};

struct reply_table::pending::slot : reply_slot {
  using reply_slot::reply_slot;
};

// Why sharded by id hash: concurrent send_sync callers and responders touch different shards,
// so they rarely contend on one lock.
struct reply_table::impl {
  struct shard {
    alignas(64) std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<reply_slot>, string_hash, std::equal_to<>>
        slots;
  };
  std::array<shard, shard_count> shards;
  std::atomic<std::uint64_t> orphans{0};

  static std::size_t shard_of(std::string_view id) noexcept {
    return string_hash{}(id) % shard_count;
  }

  void finish(reply_slot& s) {
    s.done.store(true, std::memory_order_release);
    if (s.sleeping) s.cv.notify_all();
  }

  // Waits (spin, then sleep) until the slot is done or the deadline passes; returns the held
  // shard lock.
  std::unique_lock<std::mutex> wait(reply_slot& s, clock::time_point deadline) {
    (void)spin_until([&] { return s.done.load(std::memory_order_acquire); }, deadline);
    std::unique_lock lk(shards[s.shard].mu);
    if (!s.done.load(std::memory_order_relaxed)) {
      s.sleeping = true;
      (void)s.cv.wait_until(lk, deadline, [&] { return s.done.load(std::memory_order_relaxed); });
      s.sleeping = false;
    }
    return lk;
  }
};

reply_table::reply_table() : impl_(std::make_unique<impl>()) {}
reply_table::~reply_table() = default;

reply_table::pending::pending(reply_table& table, std::shared_ptr<slot> s)
    : table_(&table), slot_(std::move(s)) {}

reply_table::pending::~pending() {
  auto& sh = table_->impl_->shards[slot_->shard];
  std::lock_guard lk(sh.mu);
  auto it = sh.slots.find(slot_->id);
  if (it != sh.slots.end() && it->second == slot_) sh.slots.erase(it);
}

expected<message> reply_table::pending::wait_one(clock::time_point deadline) {
  auto lk = table_->impl_->wait(*slot_, deadline);
  if (slot_->replies.empty()) return unexpected(errc::timed_out);
  message m = std::move(slot_->replies.front());
  slot_->replies.clear();
  return m;
}

std::vector<message> reply_table::pending::wait_all(clock::time_point deadline,
                                                    std::vector<std::string>& missing) {
  auto lk = table_->impl_->wait(*slot_, deadline);
  missing.clear();
  if (!slot_->done.load(std::memory_order_relaxed)) missing = slot_->unanswered;
  return std::move(slot_->replies);
}

void reply_table::pending::not_expecting(std::string_view member) {
  std::lock_guard lk(table_->impl_->shards[slot_->shard].mu);
  auto& u = slot_->unanswered;
  auto it = std::find(u.begin(), u.end(), member);
  if (it == u.end() || slot_->remaining == 0) return;
  u.erase(it);
  if (--slot_->remaining == 0) table_->impl_->finish(*slot_);
}

std::unique_ptr<reply_table::pending> reply_table::expect(std::string request_id,
                                                          std::vector<std::string> members,
                                                          std::string requester) {
  const std::size_t idx = impl::shard_of(request_id);
  auto s = std::make_shared<pending::slot>(std::move(request_id), idx, std::move(members),
                                           std::move(requester));
  {
    auto& sh = impl_->shards[idx];
    std::lock_guard lk(sh.mu);
    // A second wait on one id replaces the first; the first then times out.
    sh.slots.insert_or_assign(s->id, s);
  }
  return std::unique_ptr<pending>(new pending(*this, std::move(s)));
}

expected<void> reply_table::deliver(message&& resp) {
  auto& sh = impl_->shards[impl::shard_of(resp.header.parent_id)];
  {
    std::lock_guard lk(sh.mu);
    auto it = sh.slots.find(resp.header.parent_id);
    if (it != sh.slots.end() && !it->second->done.load(std::memory_order_relaxed)) {
      reply_slot& s = *it->second;
      if (s.group) {
        // Attribute the reply to a member: by its source, else by the module the replying
        // thread last received for. An unattributed reply still counts (Go counts replies).
        auto& u = s.unanswered;
        auto m = u.end();
        if (resp.route.source != s.requester) m = std::find(u.begin(), u.end(), resp.route.source);
        if (m == u.end()) m = std::find(u.begin(), u.end(), last_receiver);
        if (m != u.end()) u.erase(m);
      }
      s.replies.push_back(std::move(resp));
      if (--s.remaining == 0) impl_->finish(s);
      return {};
    }
  }
  impl_->orphans.fetch_add(1, std::memory_order_relaxed);
  return unexpected(errc::orphan_response);
}

bool reply_table::waiting(std::string_view request_id) const {
  auto& sh = impl_->shards[impl::shard_of(request_id)];
  std::lock_guard lk(sh.mu);
  auto it = sh.slots.find(request_id);
  return it != sh.slots.end() && !it->second->done.load(std::memory_order_relaxed);
}

std::uint64_t reply_table::orphans() const noexcept {
  return impl_->orphans.load(std::memory_order_relaxed);
}

void reply_table::note_receiver(std::string_view module) {
  if (last_receiver != module) last_receiver.assign(module);
}

}  // namespace beehive::detail
