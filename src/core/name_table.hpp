// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beehive::detail {

// A hash of a module or group name, 8 bytes at a time (names are short; no library call).
inline std::uint64_t hash_name(std::string_view s) noexcept {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ s.size();
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
  }
  // The tail without a byte loop: two overlapping 4-byte loads, or three single bytes.
  if (n >= 4) {
    std::uint32_t a = 0;
    std::uint32_t b = 0;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    h ^= (static_cast<std::uint64_t>(a) << 32) | b;
  } else if (n != 0) {
    const auto byte = [&](std::size_t i) {
      return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i]));
    };
    h ^= (byte(0) << 16) | (byte(n >> 1) << 8) | byte(n - 1) | (std::uint64_t{1} << 40);
  }
  // murmur3's finalizer: every input bit reaches the low bits the table indexes with.
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

// An immutable open-addressing table from names to `V`, built once per routing change.
//
// Why not std::unordered_map: its lookup divides by a prime bucket count, and that division
// was the largest single cost of a routed `send`. Here the size is a power of two, the table
// at most half full, and the stored hash is compared before the name.
template <class V>
class name_table {
 public:
  name_table() = default;
  explicit name_table(std::vector<std::pair<std::string, V>> entries) {
    std::size_t size = 8;
    while (size < entries.size() * 2) size *= 2;
    slots_.resize(size);
    mask_ = size - 1;
    for (auto& [name, value] : entries) {
      const std::uint64_t h = hash_name(name);
      std::size_t i = static_cast<std::size_t>(h) & mask_;
      while (!slots_[i].name.empty()) i = (i + 1) & mask_;
      slots_[i] = slot{h, std::move(name), std::move(value)};
    }
  }
  /// The value of `name`, or null.
  [[nodiscard]] const V* find(std::string_view name) const noexcept {
    if (slots_.empty() || name.empty()) return nullptr;
    const std::uint64_t h = hash_name(name);
    for (std::size_t i = static_cast<std::size_t>(h) & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.name.empty()) return nullptr;
      if (s.hash == h && s.name == name) return &s.value;
    }
  }

 private:
  struct slot {
    std::uint64_t hash = 0;
    std::string name;  // empty: free slot (names are never empty)
    V value{};
  };
  std::vector<slot> slots_;
  std::size_t mask_ = 0;
};

}  // namespace beehive::detail
