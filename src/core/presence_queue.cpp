// SPDX-License-Identifier: Apache-2.0
// Presence delivery: the registry's queue of presence batches, drained by one thread at a time.
//
// Why a combining queue and not a thread of its own: a change's batch is usually delivered by
// the thread that made the change, right after it (a type hears of a module before `add_module`
// returns, when nobody else delivers); no thread to own and join. When a delivery already runs
// (another thread's, or a type's `presence` that changed the registry), the batch is left to
// it: the running delivery drains the queue before it ends, so nothing waits for long and the
// order of the changes is kept.
#include "core/registry.hpp"

namespace beehive::detail {

void registry::deliver_presence() {
  std::unique_lock lock(presence_mu_);
  if (presence_running_ || presence_stopped_) return;
  presence_running_ = true;
  presence_thread_ = std::this_thread::get_id();
  // Ends the delivery even if a type's `presence` throws (the exception goes to the caller).
  struct done {
    registry& r;
    std::unique_lock<std::mutex>& l;
    ~done() {
      if (!l.owns_lock()) l.lock();
      r.presence_running_ = false;
      r.presence_thread_ = {};
      r.presence_cv_.notify_all();
    }
  } guard{*this, lock};
  while (!presence_queue_.empty() && !presence_stopped_) {
    presence_batch batch = std::move(presence_queue_.front());
    presence_queue_.pop_front();
    lock.unlock();
    for (const recipient& r : *batch.to) {
      r.type->presence(batch.events);
      if (batch.snapshot) continue;
      // The superseded per-type calls, for a type that still overrides them: its own modules
      // (not peers), as before presence existed.
      for (const auto& e : batch.events) {
        if (e.peer || e.type != r.name) continue;
        if (e.kind == presence_kind::grouped) r.type->member_grouped(e.module, e.group);
        if (e.kind == presence_kind::removed) r.type->member_removed(e.module);
      }
    }
    batch = {};  // destroyed outside the lock
    lock.lock();
  }
}

void registry::stop_presence() {
  std::deque<presence_batch> gone;
  {
    std::unique_lock lock(presence_mu_);
    presence_stopped_ = true;
    gone.swap(presence_queue_);
    if (presence_thread_ != std::this_thread::get_id()) {
      presence_cv_.wait(lock, [&] { return !presence_running_; });
    }
  }
}

}  // namespace beehive::detail
