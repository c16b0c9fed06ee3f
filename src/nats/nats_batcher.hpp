// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace beehive::detail {

/// What the batcher flushes: a peer endpoint's pending batch (`nats_batch`).
class nats_batched {
 public:
  /// Publishes what is pending. Called on the batcher's thread, with no lock of the batcher's.
  virtual void flush_batch() = 0;

 protected:
  ~nats_batched() = default;
};

/// The thread that publishes the peer endpoints' pending batches (docs/architecture.md,
/// "Batches"). A send appends its record to its destination's batch and schedules the endpoint
/// once (until the batch is flushed); the batcher publishes it. After each round it lingers a
/// little (`linger`) without being woken: records sent meanwhile gather into the next batches.
/// So a lone record goes out at once (the batcher is woken), and a flood goes out a batch per
/// linger and destination, with one wake-up per idle period instead of one per record.
///
/// Per schedule: one lock, one push into a vector (no allocation once warm), a notify only
/// when the thread sleeps idle. Per round: one swap of the vector, one `flush_batch` per
/// endpoint scheduled. Thread-safe.
class nats_batcher {
 public:
  explicit nats_batcher(std::chrono::microseconds linger);
  ~nats_batcher();
  nats_batcher(const nats_batcher&) = delete;
  nats_batcher& operator=(const nats_batcher&) = delete;

  /// Starts the thread (once).
  void start();
  /// `who` is flushed soon: at once when the thread is idle, else at the end of its linger.
  /// False when the batcher is not running (not started, or stopped): the caller flushes
  /// itself.
  [[nodiscard]] bool schedule(std::shared_ptr<nats_batched> who);
  /// Flushes everything scheduled, then ends the thread (joined; detached when called on the
  /// batcher's own thread, from a destructor run by a flush). Idempotent; `schedule` is false
  /// afterwards.
  void stop();

  struct state;  ///< private: shared with the thread

 private:
  std::shared_ptr<state> s_;
  std::thread thread_;
};

}  // namespace beehive::detail
