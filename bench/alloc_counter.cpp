// SPDX-License-Identifier: Apache-2.0
// Replacements of the global allocation functions that count each allocation (see
// alloc_counter.hpp). Not a program of its own: bench/CMakeLists.txt links it into the programs
// that report allocation counts.

#include "alloc_counter.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

// One cache line per thread. A thread's slot is written by that thread only (a relaxed load and
// store, no locked instruction); the last slot is shared by the threads beyond the first
// `slot_count - 1` and counts with fetch_add.
struct alignas(64) slot {
  std::atomic<std::uint64_t> count{0};
};
constexpr unsigned slot_count = 256;
constinit std::array<slot, slot_count> slots{};
constinit std::atomic<unsigned> slots_taken{0};
constinit thread_local unsigned my_slot = slot_count;  // none yet

void count_one() noexcept {
  if (my_slot == slot_count) {
    const unsigned s = slots_taken.fetch_add(1, std::memory_order_relaxed);
    my_slot = s < slot_count - 1 ? s : slot_count - 1;
  }
  auto& c = slots[my_slot].count;
  if (my_slot == slot_count - 1) {
    c.fetch_add(1, std::memory_order_relaxed);
  } else {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

void* allocate(std::size_t size) noexcept {
  count_one();
  return std::malloc(size == 0 ? 1 : size);
}

void* allocate(std::size_t size, std::align_val_t align) noexcept {
  count_one();
  const auto a = static_cast<std::size_t>(align);
  // aligned_alloc wants a size that is a multiple of the alignment.
  const std::size_t rounded = (size == 0 ? a : (size + a - 1) / a * a);
  return std::aligned_alloc(a, rounded);
}

void* or_throw(void* p) {
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

namespace beehive::bench {

std::uint64_t allocations() noexcept {
  std::uint64_t n = 0;
  for (const auto& s : slots) n += s.count.load(std::memory_order_relaxed);
  return n;
}

}  // namespace beehive::bench

void* operator new(std::size_t size) { return or_throw(allocate(size)); }
void* operator new[](std::size_t size) { return or_throw(allocate(size)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new(std::size_t size, std::align_val_t align) {
  return or_throw(allocate(size, align));
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return or_throw(allocate(size, align));
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocate(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocate(size, align);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
