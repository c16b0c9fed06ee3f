// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: counts this thread's calls to the global operator new, so a test can prove that
// a piece of code allocates nothing (`allocations_in`). It replaces the global operators new and
// delete, which is legal in one translation unit of a program: include it in one test source
// only (a unit test is one). noinline: once g++ -O2 inlines them, it pairs malloc with delete
// and warns of a mismatch.

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>

namespace beehive::test {

/// Calls to the global operator new made by this thread so far.
inline thread_local long allocations = 0;

/// Heap allocations made by `f` on this thread.
template <class F>
long allocations_in(F&& f) {
  const long before = allocations;
  std::forward<F>(f)();
  return allocations - before;
}

}  // namespace beehive::test

[[gnu::noinline]] void* operator new(std::size_t n) {
  ++beehive::test::allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) { return ::operator new(n); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
