// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nats/nats.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "beehive/errc.hpp"

namespace beehive::detail {

class nats_connection;

/// Owns a nats.c message.
struct nats_msg_deleter {
  void operator()(natsMsg* m) const noexcept { natsMsg_Destroy(m); }
};
using nats_msg_ptr = std::unique_ptr<natsMsg, nats_msg_deleter>;

/// The payload of `m` (empty when it has none).
inline std::string_view nats_msg_data(natsMsg* m) {
  const char* d = natsMsg_GetData(m);
  return d == nullptr ? std::string_view{}
                      : std::string_view(d, static_cast<std::size_t>(natsMsg_GetDataLength(m)));
}

/// One nats.c subscription whose handler never runs after `close` returned.
///
/// nats.c runs a subscription's handler on the subscription's own delivery thread, and a
/// handler may be running while `natsSubscription_Unsubscribe` returns. So the handler is
/// entered through this guard: `close` marks it closing (a handler starting later returns at
/// once), unsubscribes, and waits (bounded) for the running one to end. The guard itself is
/// owned by `shared_ptr`, and owns itself until nats.c's on-complete callback (after the last
/// handler call), so that a late nats.c call never touches freed memory.
class nats_subscription {
 public:
  /// Owns the message. `more`: nats.c holds further messages for this subscription, so the
  /// handler will be called again at once (unless the subscription stops first): a handler may
  /// keep what it got and act on a whole batch when `more` is false.
  using handler = std::function<void(natsMsg*, bool more)>;

  /// Subscribes (queue group `queue` when not empty). `max_pending`: messages nats.c may queue
  /// for it before it drops (counted by nats.c: `dropped`); 0 is no limit. Errors as `to_error`.
  [[nodiscard]] static expected<std::shared_ptr<nats_subscription>> open(
      const nats_connection& conn, const std::string& subject, const std::string& queue, handler fn,
      std::size_t max_pending = 0);
  ~nats_subscription();
  nats_subscription(const nats_subscription&) = delete;
  nats_subscription& operator=(const nats_subscription&) = delete;

  /// Unsubscribes and waits (at most `bound`) for a running handler, unless called from the
  /// handler itself. Idempotent.
  void close(std::chrono::milliseconds bound = std::chrono::milliseconds(2000)) {
    stop();
    wait(bound);
  }
  /// The first half of `close`: no handler starts any more; does not wait.
  void stop();
  /// The second half: waits (at most `bound`) for a running handler, unless called from it.
  /// True when no handler runs now nor ever will (false: called from the handler, or the
  /// bound passed).
  bool wait(std::chrono::milliseconds bound = std::chrono::milliseconds(2000));
  /// Messages NATS dropped for this subscription (slow consumer), up to now.
  [[nodiscard]] std::int64_t dropped() const;

  static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  static void on_complete(void* closure);

  nats_subscription() = default;

 private:
  handler fn_;
  natsSubscription* sub_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int busy_ = 0;
  bool closing_ = false;
  std::thread::id runner_;
  std::int64_t dropped_at_close_ = 0;
  /// Messages nats.c said were queued behind the last one asked about, less those delivered
  /// since (only nats.c's delivery thread for this subscription touches it).
  int behind_ = 0;
  /// This guard itself, from `open` until nats.c's on-complete callback: nats.c's delivery
  /// thread may enter `on_message` until then, whoever else let the guard go.
  std::shared_ptr<nats_subscription> self_;
};

}  // namespace beehive::detail
