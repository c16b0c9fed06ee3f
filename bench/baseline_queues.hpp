// SPDX-License-Identifier: Apache-2.0
#pragma once

// The queues that beehive_bench runs its throughput scenarios over besides the framework, so
// that each scenario reports how the framework compares with what a user could write instead:
//
// - `bare_queue`: the textbook bounded blocking queue (one mutex, a condition variable for
//   each of "not empty" and "not full", a `std::deque`). Naive on purpose: it is the bar the
//   framework has to clear (`vs_bare` >= 1).
// - `spsc_ring`: a bounded lock-free single-producer single-consumer ring whose waiting side
//   spins briefly, then yields the CPU. It is about as fast as passing a message between two
//   threads gets (`vs_ring` says how close the framework comes).
//
// - `lockfree_queue`: moodycamel's lock-free multi-producer queue (Debian's
//   libconcurrentqueue-dev), with a bound counted on top and the same spin-then-yield waits: the
//   reference for many producers (`vs_lockfree`). A bench baseline only; the library does not
//   use it.
//
// All move the messages in and out, as the framework's inbox does, and all can be closed so
// that a scenario that gives up waiting can wake its consumer.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <concurrentqueue/concurrentqueue.h>

namespace beehive::bench {

/// A bounded FIFO queue for any number of producers and consumers: `push` blocks while the
/// queue is full, `pop` while it is empty. Thread-safe.
template <class T>
class bare_queue {
 public:
  explicit bare_queue(std::size_t capacity) : capacity_(capacity) {}
  bare_queue(const bare_queue&) = delete;
  bare_queue& operator=(const bare_queue&) = delete;

  /// Appends `v`, waiting while the queue is full. False (and `v` untouched) once closed.
  bool push(T&& v) {
    {
      std::unique_lock lock(mutex_);
      not_full_.wait(lock, [this] { return items_.size() < capacity_ || closed_; });
      if (closed_) return false;
      items_.push_back(std::move(v));
    }
    not_empty_.notify_one();
    return true;
  }

  /// The oldest item, waiting while the queue is empty; nothing once closed and empty.
  std::optional<T> pop() {
    std::optional<T> out;
    {
      std::unique_lock lock(mutex_);
      not_empty_.wait(lock, [this] { return !items_.empty() || closed_; });
      if (items_.empty()) return out;
      out.emplace(std::move(items_.front()));
      items_.pop_front();
    }
    not_full_.notify_one();
    return out;
  }

  /// Wakes every waiter; later pushes fail, pops drain what is left.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  const std::size_t capacity_;
  bool closed_ = false;
};

/// Waits for a condition between two threads that both run: a few rounds of the CPU's pause
/// hint, then `std::this_thread::yield()` on every further round.
class spin_then_yield {
 public:
  void operator()() noexcept {
    if (rounds_ < spin_rounds) {
      ++rounds_;
#if defined(__x86_64__) || defined(__i386__)
      _mm_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }

 private:
  static constexpr int spin_rounds = 64;
  int rounds_ = 0;
};

/// A bounded lock-free ring of `Capacity` slots for one producer thread and one consumer
/// thread. `push` (producer only) and `pop` (consumer only) never block in the kernel: the
/// waiting side spins, then yields (`spin_then_yield`).
///
/// Why two cached indices: each side keeps the last value it read of the other side's index
/// and reads the shared one again only when the cached one says full (or empty), so that the
/// two cache lines move between the CPUs once per batch rather than once per message.
template <class T, std::size_t Capacity>
class spsc_ring {
  static_assert(Capacity > 0 && (Capacity & (Capacity - 1)) == 0, "a power of two");

 public:
  spsc_ring() : slots_(std::make_unique<T[]>(Capacity)) {}
  spsc_ring(const spsc_ring&) = delete;
  spsc_ring& operator=(const spsc_ring&) = delete;

  /// Appends `v`, waiting while the ring is full. False (and `v` untouched) once closed.
  bool push(T&& v) {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ == Capacity) {
      spin_then_yield wait;
      while ((head_cache_ = head_.load(std::memory_order_acquire)) + Capacity == tail) {
        if (closed_.load(std::memory_order_relaxed)) return false;
        wait();
      }
    }
    slots_[tail & mask] = std::move(v);
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  /// The oldest item, waiting while the ring is empty; nothing once closed and empty.
  std::optional<T> pop() {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      spin_then_yield wait;
      while ((tail_cache_ = tail_.load(std::memory_order_acquire)) == head) {
        // Read tail again after seeing closed: what was pushed before close still comes out.
        if (closed_.load(std::memory_order_acquire) &&
            tail_.load(std::memory_order_acquire) == head) {
          return std::nullopt;
        }
        wait();
      }
    }
    std::optional<T> out(std::move(slots_[head & mask]));
    head_.store(head + 1, std::memory_order_release);
    return out;
  }

  /// Makes a waiting `pop` on an empty ring, and a waiting `push` on a full one, give up.
  void close() noexcept { closed_.store(true, std::memory_order_release); }

 private:
  static constexpr std::uint64_t mask = Capacity - 1;

  // Consumer side: the index it reads next and its copy of tail_.
  alignas(64) std::atomic<std::uint64_t> head_{0};
  std::uint64_t tail_cache_ = 0;
  // Producer side: the index it writes next and its copy of head_.
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t head_cache_ = 0;
  alignas(64) std::atomic<bool> closed_{false};
  std::unique_ptr<T[]> slots_;
};

/// moodycamel::ConcurrentQueue (lock-free, many producers) with a bound: `push` waits (spin,
/// then yield) while `Capacity` items are queued; `pop` waits likewise while it is empty. The
/// bound is an atomic count beside the queue, as a user would add it.
template <class T, std::size_t Capacity>
class lockfree_queue {
 public:
  lockfree_queue() : queue_(Capacity * 2) {}
  lockfree_queue(const lockfree_queue&) = delete;
  lockfree_queue& operator=(const lockfree_queue&) = delete;

  bool push(T&& v) {
    spin_then_yield wait;
    while (count_.load(std::memory_order_acquire) >= static_cast<std::int64_t>(Capacity)) {
      if (closed_.load(std::memory_order_relaxed)) return false;
      wait();
    }
    count_.fetch_add(1, std::memory_order_acq_rel);
    return queue_.enqueue(std::move(v));
  }

  std::optional<T> pop() {
    std::optional<T> out(std::in_place);
    spin_then_yield wait;
    while (!queue_.try_dequeue(*out)) {
      if (closed_.load(std::memory_order_acquire) && !queue_.try_dequeue(*out)) {
        return std::nullopt;
      }
      wait();
    }
    count_.fetch_sub(1, std::memory_order_acq_rel);
    return out;
  }

  void close() noexcept { closed_.store(true, std::memory_order_release); }

 private:
  moodycamel::ConcurrentQueue<T> queue_;
  alignas(64) std::atomic<std::int64_t> count_{0};
  alignas(64) std::atomic<bool> closed_{false};
};

}  // namespace beehive::bench
