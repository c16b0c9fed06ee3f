// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_subscription.hpp"

#include "core/log.hpp"
#include "nats/nats_connection.hpp"

namespace beehive::detail {

expected<std::shared_ptr<nats_subscription>> nats_subscription::open(const nats_connection& conn,
                                                                     const std::string& subject,
                                                                     const std::string& queue,
                                                                     handler fn,
                                                                     std::size_t max_pending) {
  auto s = std::make_shared<nats_subscription>();
  s->fn_ = std::move(fn);
  natsSubscription* sub = nullptr;
  const natsStatus st =
      queue.empty()
          ? natsConnection_Subscribe(&sub, conn.raw(), subject.c_str(), on_message, s.get())
          : natsConnection_QueueSubscribe(&sub, conn.raw(), subject.c_str(), queue.c_str(),
                                          on_message, s.get());
  if (st != NATS_OK) {
    log().warn("nats: cannot subscribe to '{}': {}", subject, natsStatus_GetText(st));
    return unexpected(to_error(st));
  }
  // By default no limit of nats.c's own: what may arrive is bounded by the credit windows, and
  // a drop here is a loss (counted: `dropped`, and the slow-consumer error).
  const int limit = max_pending == 0 ? -1 : static_cast<int>(max_pending);
  (void)natsSubscription_SetPendingLimits(sub, limit, -1);
  std::lock_guard lk(s->mu_);
  s->sub_ = sub;
  // nats.c may still call `on_message` after the subscription closed and after `wait` saw no
  // handler running: its delivery thread takes a message off the queue, unlocks, then calls.
  // The guard keeps itself alive until nats.c says its delivery is over (the on-complete
  // callback runs after the last handler returned).
  if (natsSubscription_SetOnCompleteCB(sub, on_complete, s.get()) == NATS_OK) s->self_ = s;
  return s;
}

void nats_subscription::on_complete(void* closure) {
  auto* s = static_cast<nats_subscription*>(closure);
  std::shared_ptr<nats_subscription> last;  // may be the last owner: released after the lock
  std::lock_guard lk(s->mu_);
  last = std::move(s->self_);
}

nats_subscription::~nats_subscription() {
  close();
  if (sub_ != nullptr) natsSubscription_Destroy(sub_);
}

void nats_subscription::on_message(natsConnection* /*nc*/, natsSubscription* sub, natsMsg* msg,
                                   void* closure) {
  auto* s = static_cast<nats_subscription*>(closure);
  {
    std::lock_guard lk(s->mu_);
    if (s->closing_) {
      natsMsg_Destroy(msg);
      return;
    }
    ++s->busy_;
    s->runner_ = std::this_thread::get_id();
  }
  // nats.c took this message off the subscription's queue before calling: what is left there
  // is what comes next. Asked only when what the last answer said was queued is used up: with
  // `k` queued behind a message, the next `k - 1` have more behind them for sure, and the
  // question takes the subscription's lock, which nats.c's reader needs for every message.
  bool more = true;
  if (s->behind_ > 1) {
    --s->behind_;
  } else {
    int queued = 0;
    int bytes = 0;
    if (natsSubscription_GetPending(sub, &queued, &bytes) != NATS_OK) queued = 0;
    s->behind_ = queued;
    more = queued > 0;
  }
  s->fn_(msg, more);
  {
    std::lock_guard lk(s->mu_);
    --s->busy_;
  }
  s->cv_.notify_all();
}

void nats_subscription::stop() {
  natsSubscription* sub = nullptr;
  {
    std::lock_guard lk(mu_);
    if (closing_) return;
    closing_ = true;
    sub = sub_;
  }
  if (sub == nullptr) return;
  int64_t d = 0;
  if (natsSubscription_GetDropped(sub, &d) == NATS_OK) dropped_at_close_ = d;
  (void)natsSubscription_Unsubscribe(sub);
}

bool nats_subscription::wait(std::chrono::milliseconds bound) {
  std::unique_lock lk(mu_);
  if (busy_ > 0 && runner_ == std::this_thread::get_id()) return false;
  if (!cv_.wait_for(lk, bound, [&] { return busy_ == 0; })) {
    log().error("nats: a message handler still runs {} ms after its subscription closed",
                bound.count());
    return false;
  }
  return closing_;
}

std::int64_t nats_subscription::dropped() const {
  std::lock_guard lk(mu_);
  if (closing_ || sub_ == nullptr) return dropped_at_close_;
  int64_t d = 0;
  if (natsSubscription_GetDropped(sub_, &d) != NATS_OK) return 0;
  return d;
}

}  // namespace beehive::detail
