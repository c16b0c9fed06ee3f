// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

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
  // murmur3's finalizer: every input bit reaches the low bits the trie indexes with.
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

// A persistent (immutable, structurally shared) map from names to `V`: a hash array mapped
// trie of 32-way nodes indexed by 5 bits of the name's hash per level.
//
// Why: the routing is published whole to lock-free readers, so it must never change after
// publication; a change copies only the path from the root to the name (at most 13 nodes, about
// log32(N): 4 levels at 100,000 names) and shares everything else with the previous version.
// Adding or removing a name costs O(log32 N) instead of a rebuild of the table.
//
// Why fixed 32-slot nodes (no bitmap compression): a lookup indexes a node directly, without a
// popcount; with few names the root holds them all and a lookup is one hash, one slot read, one
// hash and name compare. Each node is 512 bytes; a sparse deep level costs memory, not time.
//
// A lookup: one hash of the name, then per level one slot read; no allocation, no lock.
// Names whose 64-bit hashes are equal share one slot as a chain of leaves.
//
// `keep` of a leaf owns what `value` points to (a module's endpoint), so that a raw pointer can
// be the value a lookup returns.
template <class V>
class name_map {
 public:
  name_map() = default;

  /// The value of `name`, or null. Never allocates; valid while this map (or a copy) lives.
  [[nodiscard]] const V* find(std::string_view name) const noexcept {
    if (!root_) return nullptr;
    const std::uint64_t h = hash_name(name);
    const node* n = root_.get();
    for (unsigned shift = 0;; shift += bits) {
      const entry* e = n->slots[index(h, shift)].get();
      if (e == nullptr) return nullptr;
      if (e->is_node) {
        n = static_cast<const node*>(e);
        continue;
      }
      for (auto l = static_cast<const leaf*>(e); l != nullptr; l = l->next.get()) {
        if (l->hash == h && l->name == name) return &l->value;
      }
      return nullptr;
    }
  }

  /// Sets `name` to `value` (replacing what it had), `keep` owning what `value` refers to.
  void assign(std::string_view name, V value, std::shared_ptr<const void> keep = nullptr) {
    auto l = std::make_shared<leaf>();
    l->hash = hash_name(name);
    l->name = std::string(name);
    l->value = std::move(value);
    l->keep = std::move(keep);
    bool added = false;
    root_ = assign_in(root_.get(), 0, std::move(l), added);
    size_ += added ? 1 : 0;
  }

  /// Removes `name`; false if it was not there.
  bool erase(std::string_view name) {
    if (!root_) return false;
    const std::uint64_t h = hash_name(name);
    bool erased = false;
    auto r = erase_in(*root_, 0, h, name, erased);
    if (!erased) return false;
    --size_;
    if (size_ == 0) {
      root_.reset();
    } else if (r && r->is_node) {
      root_ = std::static_pointer_cast<const node>(r);
    } else {
      // One leaf (or chain) left below: it goes back into a root of its own.
      auto root = std::make_shared<node>();
      root->slots[index(static_cast<const leaf&>(*r).hash, 0)] = std::move(r);
      root_ = std::move(root);
    }
    return true;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Calls `fn(name, value)` for every entry, in no particular order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    if (root_) visit(*root_, fn);
  }

 private:
  static constexpr unsigned bits = 5;
  static constexpr std::size_t width = std::size_t{1} << bits;

  struct entry {
    explicit entry(bool n) : is_node(n) {}
    const bool is_node;
  };
  struct leaf final : entry {
    leaf() : entry(false) {}
    std::uint64_t hash = 0;
    std::string name;
    V value{};
    std::shared_ptr<const void> keep;
    std::shared_ptr<const leaf> next;  // another name with the same 64-bit hash
  };
  struct node final : entry {
    node() : entry(true) {}
    node(const node& other) : entry(true), slots(other.slots) {}
    std::array<std::shared_ptr<const entry>, width> slots;
  };
  using entry_ptr = std::shared_ptr<const entry>;

  static std::size_t index(std::uint64_t h, unsigned shift) noexcept {
    return static_cast<std::size_t>(h >> shift) & (width - 1);
  }

  // A copy of the chain `l` without `name`, or with `repl` in its place (or prepended).
  static std::shared_ptr<const leaf> chain_without(const std::shared_ptr<const leaf>& l,
                                                   std::string_view name, bool& found) {
    if (!l) return nullptr;
    if (l->name == name) {
      found = true;
      return l->next;
    }
    auto rest = chain_without(l->next, name, found);
    if (!found) return l;
    auto copy = std::make_shared<leaf>(*l);
    copy->next = std::move(rest);
    return copy;
  }

  static std::shared_ptr<const node> assign_in(const node* n, unsigned shift,
                                               std::shared_ptr<leaf> l, bool& added) {
    auto copy = n != nullptr ? std::make_shared<node>(*n) : std::make_shared<node>();
    auto& slot = copy->slots[index(l->hash, shift)];
    if (!slot) {
      added = true;
      slot = std::move(l);
    } else if (slot->is_node) {
      slot = assign_in(static_cast<const node*>(slot.get()), shift + bits, std::move(l), added);
    } else {
      auto old = std::static_pointer_cast<const leaf>(slot);
      if (old->hash == l->hash) {
        // The same name (replaced) or a full-hash collision (chained).
        bool found = false;
        l->next = chain_without(old, l->name, found);
        added = !found;
        slot = std::move(l);
      } else {
        // Two hashes that differ: they part at some deeper level (shift + bits <= 63, since
        // they agree on every bit below it).
        auto sub = std::make_shared<node>();
        sub->slots[index(old->hash, shift + bits)] = old;
        added = true;
        slot = assign_in_fresh(std::move(sub), shift + bits, std::move(l));
      }
    }
    return copy;
  }

  // Inserts `l` into a node that nobody else sees yet (no copy needed).
  static std::shared_ptr<const node> assign_in_fresh(std::shared_ptr<node> n, unsigned shift,
                                                     std::shared_ptr<leaf> l) {
    auto& slot = n->slots[index(l->hash, shift)];
    if (!slot) {
      slot = std::move(l);
      return n;
    }
    auto old = std::static_pointer_cast<const leaf>(slot);
    auto sub = std::make_shared<node>();
    sub->slots[index(old->hash, shift + bits)] = old;
    slot = assign_in_fresh(std::move(sub), shift + bits, std::move(l));
    return n;
  }

  // The node `n` without `name`: null if nothing is left, a lone leaf (chain) if only one is
  // left (its parent holds it directly), else a copy of the node.
  static entry_ptr erase_in(const node& n, unsigned shift, std::uint64_t h, std::string_view name,
                            bool& erased) {
    const auto i = index(h, shift);
    const entry_ptr& slot = n.slots[i];
    if (!slot) return nullptr;
    entry_ptr replacement;
    if (slot->is_node) {
      replacement = erase_in(static_cast<const node&>(*slot), shift + bits, h, name, erased);
    } else {
      auto l = std::static_pointer_cast<const leaf>(slot);
      if (l->hash != h) return nullptr;
      replacement = chain_without(l, name, erased);
    }
    if (!erased) return nullptr;
    auto copy = std::make_shared<node>(n);
    copy->slots[i] = std::move(replacement);
    std::size_t count = 0;
    const entry_ptr* only = nullptr;
    for (const auto& s : copy->slots) {
      if (s) {
        ++count;
        only = &s;
      }
    }
    if (count == 0) return nullptr;
    if (count == 1 && !(*only)->is_node) return *only;
    return copy;
  }

  template <class Fn>
  static void visit(const node& n, Fn& fn) {
    for (const auto& s : n.slots) {
      if (!s) continue;
      if (s->is_node) {
        visit(static_cast<const node&>(*s), fn);
      } else {
        for (auto l = static_cast<const leaf*>(s.get()); l != nullptr; l = l->next.get()) {
          fn(std::string_view(l->name), l->value);
        }
      }
    }
  }

  std::shared_ptr<const node> root_;
  std::size_t size_ = 0;
};

}  // namespace beehive::detail
