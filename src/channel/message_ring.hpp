// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace beehive::detail {

/// A growable circular FIFO that keeps its storage when emptied, so a steady stream of
/// messages allocates nothing. Not thread-safe; the inbox guards it.
template <class T>
class ring {
 public:
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  void push_back(T&& v) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = std::move(v);
    ++size_;
  }
  /// Moves the front element out.
  T pop_front() {
    // The moved-from slot keeps no resources (a moved-from message holds empty strings and a
    // null content), so it is not reset.
    T v = std::move(buf_[head_]);
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
    return v;
  }
  /// The element `i` places from the front (`i < size()`).
  T& at(std::size_t i) noexcept { return buf_[(head_ + i) & (buf_.size() - 1)]; }
  const T& at(std::size_t i) const noexcept { return buf_[(head_ + i) & (buf_.size() - 1)]; }
  /// The front element (the ring must not be empty).
  T& front() noexcept { return buf_[head_]; }
  /// Forgets the front element, which the caller has moved from.
  void drop_front() noexcept {
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
  }
  /// Destroys every element; keeps the storage.
  void clear() {
    while (size_ > 0) (void)pop_front();
    head_ = 0;
  }
  void swap(ring& other) noexcept {
    buf_.swap(other.buf_);
    std::swap(head_, other.head_);
    std::swap(size_, other.size_);
  }

 private:
  void grow() {
    std::vector<T> next(buf_.empty() ? 16 : buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) {
      next[i] = std::move(buf_[(head_ + i) & (buf_.size() - 1)]);
    }
    buf_.swap(next);
    head_ = 0;
  }

  std::vector<T> buf_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace beehive::detail
