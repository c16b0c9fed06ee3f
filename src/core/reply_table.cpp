// SPDX-License-Identifier: Apache-2.0
#include "core/reply_table.hpp"

#include <array>
#include <deque>
#include <functional>
#include <memory_resource>
#include <unordered_map>

#include "core/spin_wait.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {

namespace {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

constexpr std::size_t shard_count = 16;

}  // namespace

// Why sharded by id hash: concurrent send_sync callers and responders touch different shards,
// so they rarely contend on one lock. Lock order: a shard's lock, then a waiter's.
struct reply_table::impl {
  struct entry {
    waiter* local = nullptr;  // a caller of this process, or
    std::size_t member = 0;
    const endpoint* target = nullptr;
    std::weak_ptr<endpoint> origin;  // a requester of another process
    const endpoint* origin_key = nullptr;
  };
  // Why a pool per shard: every send_sync inserts and erases one entry with a 36-byte key;
  // from the pool (guarded by the shard lock) both come back without calling malloc.
  struct shard {
    alignas(64) std::mutex mu;
    std::pmr::unsynchronized_pool_resource pool;
    std::pmr::unordered_map<std::pmr::string, entry, string_hash, std::equal_to<>> entries{&pool};
  };
  std::array<shard, shard_count> shards;
  std::atomic<bool> cancelled{false};
  std::atomic<std::uint64_t> orphans{0};
  std::atomic<std::uint64_t> evictions{0};

  std::mutex remote_mu;                  // guards remote_order
  std::deque<std::string> remote_order;  // remote ids, oldest first (may hold answered ones)

  shard& shard_of(std::string_view id) noexcept { return shards[string_hash{}(id) % shard_count]; }

  // Settles the local waiter of `e` with `why`. The caller holds the entry's shard lock.
  static void settle_entry(const entry& e, std::error_code why) {
    std::optional<message> none;
    std::lock_guard lk(e.local->mu_);
    (void)e.local->settle_locked(e.member, none, why);
  }

  // Settles (with `why`) every local entry for which `pick` is true and removes it.
  template <class Pick>
  void sweep(Pick&& pick, std::error_code why) {
    for (auto& sh : shards) {
      std::lock_guard lk(sh.mu);
      for (auto it = sh.entries.begin(); it != sh.entries.end();) {
        if (it->second.local != nullptr && pick(it->second)) {
          settle_entry(it->second, why);
          it = sh.entries.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
};

// ---- waiter -----------------------------------------------------------------------------

reply_table::waiter::waiter(reply_table& table, std::size_t members)
    : table_(table), count_(members), remaining_(members) {
  // Room is made here, by the waiting thread, not by the replying one.
  if (members > 1) {
    more_.resize(members - 1);
    order_.reserve(members - 1);
    more_ids_.reserve(members - 1);
  }
  if (members == 0) done_.store(true, std::memory_order_relaxed);
}

reply_table::waiter::~waiter() {
  // Withdraws every id still registered. Each shard lock is taken even when the entry is gone:
  // a `deliver` that found it may still be notifying this waiter under that lock.
  auto withdraw = [&](std::string_view id) {
    auto& sh = table_.impl_->shard_of(id);
    std::lock_guard lk(sh.mu);
    auto it = sh.entries.find(id);
    if (it != sh.entries.end() && it->second.local == this) sh.entries.erase(it);
  };
  if (has_first_id_) withdraw(first_id());
  for (const auto& id : more_ids_) withdraw(id);
}

std::vector<std::size_t> reply_table::waiter::arrival_order() const {
  std::vector<std::size_t> out;
  const std::size_t settled = count_ - remaining_;
  out.reserve(settled);
  // The first settled member is kept apart (inline); `order_` holds the rest in order.
  if (settled > 0) out.push_back(first_order_);
  out.insert(out.end(), order_.begin(), order_.end());
  return out;
}

expected<void> reply_table::waiter::expect(std::string_view request_id, std::size_t member,
                                           const endpoint* target) {
  auto& sh = table_.impl_->shard_of(request_id);
  {
    std::lock_guard lk(sh.mu);
    // `cancel_all` sets the flag before it sweeps the shards: checked under the shard lock, so
    // either the sweep finds this entry or this call sees the flag.
    if (table_.impl_->cancelled.load(std::memory_order_acquire)) {
      return unexpected(errc::cancelled);
    }
    impl::entry e;
    e.local = this;
    e.member = member;
    e.target = target;
    // A second wait on one id replaces the first; the first then ends by its timeout.
    sh.entries.insert_or_assign(std::pmr::string(request_id, &sh.pool), std::move(e));
  }
  if (!has_first_id_) {
    has_first_id_ = true;
    if (request_id.size() <= first_id_buf_.size() && !request_id.empty()) {
      std::copy(request_id.begin(), request_id.end(), first_id_buf_.begin());
      first_id_len_ = request_id.size();
    } else {
      first_id_long_.assign(request_id);
    }
  } else {
    more_ids_.emplace_back(request_id);
  }
  return {};
}

bool reply_table::waiter::settle_locked(std::size_t member, std::optional<message>& reply,
                                        std::error_code why) {
  if (closed_ || member >= count_ || this->member(member).settled) return false;
  auto& m = this->member(member);
  m.settled = true;
  if (reply) {
    m.reply.emplace(std::move(*reply));
  } else {
    m.error = why;
  }
  if (remaining_ == count_) {
    first_order_ = member;
  } else {
    order_.push_back(member);
  }
  if (--remaining_ == 0) {
    done_.store(true, std::memory_order_release);
    if (sleeping_) cv_.notify_all();
  }
  return true;
}

void reply_table::waiter::settle(std::size_t member, std::error_code why) {
  std::optional<message> none;
  std::lock_guard lk(mu_);
  (void)settle_locked(member, none, why);
}

void reply_table::waiter::wait_until(clock::time_point deadline) {
  (void)spin_until([&] { return done_.load(std::memory_order_acquire); }, deadline);
  std::unique_lock lk(mu_);
  if (!done_.load(std::memory_order_relaxed)) {
    sleeping_ = true;
    (void)cv_.wait_until(lk, deadline, [&] { return done_.load(std::memory_order_relaxed); });
    sleeping_ = false;
  }
  // From here on a reply is an orphan: decided under the lock `deliver` stores under.
  closed_ = true;
}

expected<message> reply_table::waiter::take(std::size_t member) {
  if (member >= count_) return unexpected(errc::invalid_argument);
  auto& m = this->member(member);
  if (m.reply) {
    expected<message> out(std::move(*m.reply));
    m.reply.reset();
    return out;
  }
  if (m.settled) return unexpected(m.error);
  return unexpected(errc::timed_out);
}

// ---- table ------------------------------------------------------------------------------

reply_table::reply_table() : impl_(std::make_unique<impl>()) {}
reply_table::~reply_table() = default;

expected<void> reply_table::deliver(message&& resp) {
  auto& sh = impl_->shard_of(resp.header.parent_id);
  std::shared_ptr<endpoint> origin;
  {
    std::lock_guard lk(sh.mu);
    auto it = sh.entries.find(std::string_view(resp.header.parent_id));
    if (it != sh.entries.end()) {
      impl::entry& e = it->second;
      if (e.local != nullptr) {
        bool stored = false;
        {
          std::optional<message> reply(std::move(resp));
          std::lock_guard wl(e.local->mu_);
          stored = e.local->settle_locked(e.member, reply, {});
          // Not stored: the waiter closed. The message goes back to the caller to destroy.
          if (!stored) resp = std::move(*reply);
        }
        sh.entries.erase(it);
        if (stored) return {};
      } else {
        origin = e.origin.lock();
        sh.entries.erase(it);
      }
    }
  }
  if (origin) {
    // Outside the lock: the push writes to a connection.
    return origin->push(std::move(resp), delivery::reply);
  }
  impl_->orphans.fetch_add(1, std::memory_order_relaxed);
  return unexpected(errc::orphan_response);
}

void reply_table::expect_remote(std::string_view request_id, std::weak_ptr<endpoint> origin) {
  const endpoint* key = origin.lock().get();
  {
    auto& sh = impl_->shard_of(request_id);
    std::lock_guard lk(sh.mu);
    impl::entry e;
    e.origin = std::move(origin);
    e.origin_key = key;
    sh.entries.insert_or_assign(std::pmr::string(request_id, &sh.pool), std::move(e));
  }
  std::string evict;
  {
    std::lock_guard lk(impl_->remote_mu);
    impl_->remote_order.emplace_back(request_id);
    if (impl_->remote_order.size() <= remote_limit) return;
    evict = std::move(impl_->remote_order.front());
    impl_->remote_order.pop_front();
  }
  auto& sh = impl_->shard_of(evict);
  std::lock_guard lk(sh.mu);
  auto it = sh.entries.find(std::string_view(evict));
  if (it != sh.entries.end() && it->second.local == nullptr) {
    sh.entries.erase(it);
    impl_->evictions.fetch_add(1, std::memory_order_relaxed);
  }
}

void reply_table::fail(const message& request, std::error_code why) {
  auto& sh = impl_->shard_of(request.header.id);
  std::shared_ptr<endpoint> origin;
  {
    std::lock_guard lk(sh.mu);
    auto it = sh.entries.find(std::string_view(request.header.id));
    if (it == sh.entries.end()) return;
    if (it->second.local != nullptr) {
      impl::settle_entry(it->second, why);
    } else {
      origin = it->second.origin.lock();
    }
    sh.entries.erase(it);
  }
  if (origin) {
    // The remote requester gets an error reply instead of waiting out its timeout.
    (void)origin->push(new_error_message(request, why.message()), delivery::reply);
  }
}

void reply_table::fail_target(const endpoint* target, std::error_code why) {
  if (target == nullptr) return;
  impl_->sweep([target](const impl::entry& e) { return e.target == target; }, why);
}

void reply_table::forget_origin(const endpoint* origin) {
  if (origin == nullptr) return;
  for (auto& sh : impl_->shards) {
    std::lock_guard lk(sh.mu);
    std::erase_if(sh.entries, [origin](const auto& kv) {
      return kv.second.local == nullptr && kv.second.origin_key == origin;
    });
  }
}

void reply_table::cancel_all() {
  impl_->cancelled.store(true, std::memory_order_release);
  impl_->sweep([](const impl::entry&) { return true; }, make_error_code(errc::cancelled));
}

bool reply_table::waiting(std::string_view request_id) const {
  auto& sh = impl_->shard_of(request_id);
  std::lock_guard lk(sh.mu);
  return sh.entries.find(request_id) != sh.entries.end();
}

std::uint64_t reply_table::orphans() const noexcept {
  return impl_->orphans.load(std::memory_order_relaxed);
}

std::uint64_t reply_table::remote_evictions() const noexcept {
  return impl_->evictions.load(std::memory_order_relaxed);
}

}  // namespace beehive::detail
