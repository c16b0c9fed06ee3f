// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <bit>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <functional>
#include <iosfwd>
#include <iterator>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace beehive {

/// A string with room for `N` bytes inside the object and a heap buffer for longer values.
///
/// Reads as a string: converts implicitly to `std::string_view`, compares with any string type,
/// prints, hashes, and keeps a NUL terminator (`c_str()`). `sizeof(short_string<N>) == N + 1`
/// and its alignment is 1, so fields of a struct pack without padding.
///
/// Why not std::string: a message carries nine strings; the 36-byte UUID id does not fit
/// libstdc++'s 15-byte inline buffer, so every new message allocated, and the free happened on
/// the receiver's CPU. Why the object holds no pointer to itself (as libstdc++'s string does):
/// so that a move copies `N + 1` bytes and resets the source, wherever the value lives, and a
/// copy of an inline value is one `memcpy` with no allocation.
///
/// Layout: the last byte is a tag. Inline, it holds `N - size()`, which is 0 (the terminator)
/// when the value fills all `N` bytes; on the heap it holds 255 and the first bytes hold the
/// pointer and the size. A value lives on the heap exactly when it is longer than `N`, in a
/// buffer of a power-of-two size (so the capacity needs no field). `N` is 16 to 254.
///
/// Not thread-safe for concurrent writes, as std::string.
///
/// @code
/// beehive::short_string<23> op = "insert";   // inline, no allocation
/// if (op == beehive::insert_operation) log(std::string_view(op));
/// std::string copy = op.str();
/// @endcode
template <std::size_t N>
class short_string {
  static_assert(N >= sizeof(char*) + sizeof(std::size_t), "the heap form must fit the bytes");
  static_assert(N < 255, "the inline size must fit the tag byte");

 public:
  using size_type = std::size_t;
  /// The longest value held without a heap allocation.
  static constexpr size_type inline_capacity = N;

  /// The empty string.
  short_string() noexcept { set_inline_size(0); }
  /// A NUL-terminated string; implicit so that literals initialize message fields.
  short_string(const char* s)  // NOLINT(google-explicit-constructor)
      : short_string(std::string_view(s)) {}
  short_string(const char* s, size_type n) : short_string() { assign(s, n); }
  /// Any string: std::string, std::string_view, or a short_string of another size.
  explicit short_string(std::string_view s) : short_string() { assign(s.data(), s.size()); }

  short_string(const short_string& other) {
    if (other.on_heap()) {
      set_inline_size(0);
      assign(other.heap_ptr(), other.heap_size());
    } else {
      std::memcpy(buf_, other.buf_, N + 1);
    }
  }
  /// Takes the bytes; `other` is left empty. Never allocates.
  short_string(short_string&& other) noexcept {
    std::memcpy(buf_, other.buf_, N + 1);
    other.set_inline_size(0);
  }
  short_string& operator=(const short_string& other) {
    if (this != &other) assign(other.data(), other.size());
    return *this;
  }
  /// Takes the bytes; `other` is left empty. Never allocates.
  short_string& operator=(short_string&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(buf_, other.buf_, N + 1);
      other.set_inline_size(0);
    }
    return *this;
  }
  short_string& operator=(std::string_view s) { return assign(s.data(), s.size()); }
  short_string& operator=(const std::string& s) { return assign(s.data(), s.size()); }
  short_string& operator=(const char* s) { return assign(std::string_view(s)); }
  ~short_string() { release(); }

  /// Replaces the value with `n` bytes from `s`; `s` may point into this string.
  short_string& assign(const char* s, size_type n) {
    if (n <= N) {
      // `s` may point into the heap buffer: copy before freeing it.
      char* old = on_heap() ? heap_ptr() : nullptr;
      if (n != 0) std::memmove(buf_, s, n);  // an empty view may have a null data()
      set_inline_size(n);
      delete[] old;
      return *this;
    }
    if (on_heap() && n <= capacity_for(heap_size())) {
      char* p = heap_ptr();
      std::memmove(p, s, n);
      p[n] = '\0';
      set_heap_size(n);
      return *this;
    }
    char* p = allocate(n);
    std::memcpy(p, s, n);
    p[n] = '\0';
    release();
    set_heap(p, n);
    return *this;
  }
  short_string& assign(std::string_view s) { return assign(s.data(), s.size()); }
  /// Replaces the value with the characters of [first, last), as std::string::assign does.
  template <std::contiguous_iterator It>
  requires std::same_as < std::iter_value_t<It>,
  char > short_string& assign(It first, It last) {
    return assign(std::to_address(first), static_cast<size_type>(last - first));
  }

  /// Appends `n` bytes from `s`; `s` may point into this string. Heap buffers grow by doubling.
  short_string& append(const char* s, size_type n) {
    const size_type old = size();
    if (n > max_size() - old) throw std::length_error("beehive::short_string too long");
    const size_type total = old + n;
    if (total <= N) {
      if (n != 0) std::memmove(buf_ + old, s, n);
      set_inline_size(total);
      return *this;
    }
    if (on_heap() && total <= capacity_for(old)) {
      char* p = heap_ptr();
      std::memmove(p + old, s, n);
      p[total] = '\0';
      set_heap_size(total);
      return *this;
    }
    char* p = allocate(total);
    std::memcpy(p, data(), old);
    std::memcpy(p + old, s, n);
    p[total] = '\0';
    release();
    set_heap(p, total);
    return *this;
  }
  short_string& append(std::string_view s) { return append(s.data(), s.size()); }
  short_string& operator+=(std::string_view s) { return append(s.data(), s.size()); }
  short_string& operator+=(char c) { return append(&c, 1); }
  void push_back(char c) { append(&c, 1); }

  /// C++23's std::string::resize_and_overwrite: makes room for `n` bytes (keeping the first
  /// min(size(), n)), calls `op(data, n)`, which writes the value and returns its length (at
  /// most `n`). Lets a producer such as the UUID generator write in place.
  template <class Op>
  void resize_and_overwrite(size_type n, Op op) {
    char* p = nullptr;
    if (n <= N) {
      const size_type keep = size() < n ? size() : n;
      char* old = on_heap() ? heap_ptr() : nullptr;
      if (old != nullptr) std::memcpy(buf_, old, keep);
      set_inline_size(keep);
      delete[] old;
      p = buf_;
    } else if (on_heap() && n <= capacity_for(heap_size())) {
      p = heap_ptr();
    } else {
      p = allocate(n);
      std::memcpy(p, data(), size() < n ? size() : n);
      release();
      set_heap(p, n);
    }
    const auto len = static_cast<size_type>(op(p, n));
    if (len > N) {
      p[len] = '\0';
      set_heap_size(len);
    } else if (on_heap()) {
      assign(p, len);  // back inline: a value lives on the heap only when it is longer than N
    } else {
      set_inline_size(len);
    }
  }

  /// Empties the string and frees its heap buffer, if any.
  void clear() noexcept {
    release();
    set_inline_size(0);
  }

  [[nodiscard]] const char* data() const noexcept { return on_heap() ? heap_ptr() : buf_; }
  [[nodiscard]] char* data() noexcept { return on_heap() ? heap_ptr() : buf_; }
  /// The value followed by a NUL byte.
  [[nodiscard]] const char* c_str() const noexcept { return data(); }
  [[nodiscard]] size_type size() const noexcept { return on_heap() ? heap_size() : N - tag(); }
  [[nodiscard]] size_type length() const noexcept { return size(); }
  /// The byte at `i` (unchecked, as std::string's).
  [[nodiscard]] const char& operator[](size_type i) const noexcept { return data()[i]; }
  [[nodiscard]] char& operator[](size_type i) noexcept { return data()[i]; }
  [[nodiscard]] bool empty() const noexcept { return tag() == N; }
  [[nodiscard]] static constexpr size_type max_size() noexcept {
    return std::numeric_limits<size_type>::max() / 4;
  }
  /// True when the value lives in a heap buffer (it is longer than `inline_capacity`).
  [[nodiscard]] bool on_heap() const noexcept { return tag() == heap_tag; }

  operator std::string_view() const noexcept {  // NOLINT(google-explicit-constructor)
    return {data(), size()};
  }
  /// A std::string copy (allocates when longer than std::string's inline buffer).
  [[nodiscard]] std::string str() const { return {data(), size()}; }

  template <std::size_t M>
  friend bool operator==(const short_string& a, const short_string<M>& b) noexcept {
    return std::string_view(a) == std::string_view(b);
  }
  template <std::size_t M>
  friend std::strong_ordering operator<=>(const short_string& a,
                                          const short_string<M>& b) noexcept {
    return std::string_view(a).compare(std::string_view(b)) <=> 0;
  }
  /// Also serves `const std::string&`, `const char*` and literals, which convert to the view.
  friend bool operator==(const short_string& a, std::string_view b) noexcept {
    return std::string_view(a) == b;
  }
  friend std::strong_ordering operator<=>(const short_string& a, std::string_view b) noexcept {
    return std::string_view(a).compare(b) <=> 0;
  }

  /// Writes the value (GoogleTest prints with it). The caller includes <ostream>.
  friend std::ostream& operator<<(std::ostream& os, const short_string& s) {
    return os << std::string_view(s);
  }

 private:
  static constexpr unsigned char heap_tag = 255;

  [[nodiscard]] unsigned char tag() const noexcept { return static_cast<unsigned char>(buf_[N]); }

  // Inline form: the bytes, a NUL after them, and N - n in the tag byte (which is the NUL when
  // n == N).
  void set_inline_size(size_type n) noexcept {
    buf_[n] = '\0';
    buf_[N] = static_cast<char>(N - n);
  }

  // Heap form: pointer and size at the front (unaligned, so read and written with memcpy, which
  // compiles to plain loads and stores), 255 in the tag byte.
  [[nodiscard]] char* heap_ptr() const noexcept {
    char* p = nullptr;
    std::memcpy(&p, buf_, sizeof p);
    return p;
  }
  [[nodiscard]] size_type heap_size() const noexcept {
    size_type n = 0;
    std::memcpy(&n, buf_ + sizeof(char*), sizeof n);
    return n;
  }
  void set_heap_size(size_type n) noexcept { std::memcpy(buf_ + sizeof(char*), &n, sizeof n); }
  void set_heap(char* p, size_type n) noexcept {
    std::memcpy(buf_, &p, sizeof p);
    set_heap_size(n);
    buf_[N] = static_cast<char>(heap_tag);
  }

  // Heap buffers hold a power of two bytes, so the capacity follows from the size and needs no
  // field of its own. A buffer kept for a shorter value is larger than this says, never smaller.
  static size_type capacity_for(size_type n) noexcept { return std::bit_ceil(n + 1) - 1; }
  static char* allocate(size_type n) {
    if (n > max_size()) throw std::length_error("beehive::short_string too long");
    return new char[capacity_for(n) + 1];
  }
  void release() noexcept {
    if (on_heap()) delete[] heap_ptr();
  }

  char buf_[N + 1];
};

}  // namespace beehive

template <std::size_t N>
struct std::hash<beehive::short_string<N>> {
  std::size_t operator()(const beehive::short_string<N>& s) const noexcept {
    return std::hash<std::string_view>{}(std::string_view(s));
  }
};
