// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_batcher.hpp"

#include <utility>

namespace beehive::detail {

struct nats_batcher::state {
  explicit state(std::chrono::microseconds l) : linger(l) {}
  const std::chrono::microseconds linger;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::shared_ptr<nats_batched>> queue;  // guarded by mu
  bool running = false;                              // guarded by mu
  bool stopping = false;                             // guarded by mu
  bool idle = false;  // the thread waits without a deadline: a schedule wakes it (guarded by mu)

  void run() {
    std::vector<std::shared_ptr<nats_batched>> work;
    std::unique_lock lk(mu);
    for (;;) {
      if (queue.empty()) {
        if (stopping) return;
        idle = true;
        cv.wait(lk, [&] { return !queue.empty() || stopping; });
        idle = false;
        continue;
      }
      work.swap(queue);
      lk.unlock();
      for (const auto& w : work) w->flush_batch();
      // Released without the lock: the last reference to an endpoint may go here, and its
      // destructor may run user code that sends (and so schedules) again.
      work.clear();
      lk.lock();
      if (!stopping) cv.wait_for(lk, linger, [&] { return stopping; });
    }
  }
};

nats_batcher::nats_batcher(std::chrono::microseconds linger)
    : s_(std::make_shared<state>(linger)) {}

nats_batcher::~nats_batcher() { stop(); }

void nats_batcher::start() {
  std::lock_guard lk(s_->mu);
  if (s_->running || s_->stopping) return;
  s_->running = true;
  thread_ = std::thread([s = s_] { s->run(); });
}

bool nats_batcher::schedule(std::shared_ptr<nats_batched> who) {
  bool wake = false;
  {
    std::lock_guard lk(s_->mu);
    if (!s_->running || s_->stopping) return false;
    s_->queue.push_back(std::move(who));
    wake = s_->idle;
  }
  if (wake) s_->cv.notify_one();
  return true;
}

void nats_batcher::stop() {
  {
    std::lock_guard lk(s_->mu);
    s_->stopping = true;
  }
  s_->cv.notify_all();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // it owns its state, and returns once the queue is empty
  } else {
    thread_.join();
  }
}

}  // namespace beehive::detail
