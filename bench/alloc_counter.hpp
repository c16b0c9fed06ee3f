// SPDX-License-Identifier: Apache-2.0
#pragma once

// Counts heap allocations of the whole process. The counting is done by replacements of every
// form of the global `operator new` and `operator delete` (plain, array, nothrow, aligned,
// sized), defined in bench/alloc_counter.cpp; only a program linked with that file counts
// (bench/CMakeLists.txt links it into beehive_bench). Without it, `allocations()` is not defined.
//
// Why a counter per thread: one shared atomic would move its cache line between the threads
// of a scenario at every allocation, slowing down (and so distorting) exactly the code whose
// allocations are being counted. Each thread takes a slot of its own on its first allocation
// and counts there without a locked instruction; `allocations()` sums the slots.
//
// @code
// const auto a0 = beehive::bench::allocations();
// run_the_measured_phase();
// const auto per_msg = double(beehive::bench::allocations() - a0) / double(msgs);
// @endcode

#include <cstdint>

namespace beehive::bench {

/// Heap allocations by every thread of the process since it started (threads that have ended
/// included). Thread-safe; exact once the threads being measured have been joined, or have
/// synchronized with the caller after their last allocation.
std::uint64_t allocations() noexcept;

}  // namespace beehive::bench
