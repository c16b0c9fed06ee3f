// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace beehive::detail {

/// Numbered one-way records for several modules of a group, packed into one NATS message that
/// is published once, on the group's subject (docs/architecture.md, "Group batches"), instead
/// of once per member's subject: the server then reads a group send once and writes it to each
/// member's process, as raw NATS does for a subject with several subscribers.
///
/// Wire (little-endian):
///   0x01
///   per record: u32 length, the record's Go beehive JSON
///   the table, per member: u32 name length, the module's name (not a subject token),
///                          u64 stream, u64 first number, u32 first record, u32 records
///   u32 members, u32 offset of the table
/// Each member's records are consecutive records of the batch, numbered consecutively in its
/// own stream (the member's stream of the sender's peer endpoint, as on its own subject): the
/// receiver takes them as it takes the member's records on its own subject, and ignores the
/// members it does not host. The table comes last so that it is written once the batch is
/// complete, into the same buffer (no second copy of the records).
///
/// Per record appended: one copy of its bytes into a buffer that keeps its capacity; a copy of
/// a call whose record is already in (`add` with the same index) costs a table entry or a count.
/// Not thread-safe: its owner (the group's outbox) holds its lock.
class nats_group_batch {
 public:
  static constexpr char marker = '\x01';
  static constexpr std::size_t frame_overhead = 4;
  static constexpr std::size_t trailer = 8;
  static constexpr std::size_t entry_overhead = 4 + 8 + 8 + 4 + 4;

  struct entry {
    std::string_view module;
    std::uint64_t stream = 0;
    std::uint64_t first_seq = 0;
    std::uint32_t first_index = 0;
    std::uint32_t count = 0;
  };

  /// Appends `record`; returns its index in the batch.
  std::uint32_t append(std::string_view record) {
    if (records_ == 0) buf_.assign(1, marker);
    put32(buf_, static_cast<std::uint32_t>(record.size()));
    buf_.append(record);
    return records_++;
  }
  /// Record `index` (the newest, or one a member's records reach) is `module`'s record `seq` of
  /// `stream`. False when it cannot be: the member's records here would not be consecutive
  /// (in the batch, or in its numbers); the caller then publishes the batch and starts anew.
  [[nodiscard]] bool add(std::string_view module, std::uint64_t stream, std::uint64_t seq,
                         std::uint32_t index) {
    for (auto& m : members_) {
      if (m.stream != stream || m.module != module) continue;
      if (index != m.first_index + m.count || seq != m.first_seq + m.count) return false;
      ++m.count;
      return true;
    }
    members_.push_back({std::string(module), stream, seq, index, 1});
    table_bytes_ += entry_overhead + module.size();
    return true;
  }
  /// True when a record appended now may be `module`'s record `seq` of `stream` (see `add`).
  [[nodiscard]] bool can_take(std::string_view module, std::uint64_t stream,
                              std::uint64_t seq) const noexcept {
    for (const auto& m : members_) {
      if (m.stream == stream && m.module == module) {
        return m.first_index + m.count == records_ && m.first_seq + m.count == seq;
      }
    }
    return true;
  }
  /// True when `module` (of `stream`) has records here.
  [[nodiscard]] bool has(std::string_view module, std::uint64_t stream) const noexcept {
    for (const auto& m : members_) {
      if (m.stream == stream && m.module == module) return true;
    }
    return false;
  }
  [[nodiscard]] std::uint32_t records() const noexcept { return records_; }
  [[nodiscard]] bool empty() const noexcept { return records_ == 0; }
  /// The payload's size once a record of `record_bytes` and a new member named `module_bytes`
  /// long are added.
  [[nodiscard]] std::size_t size_with(std::size_t record_bytes,
                                      std::size_t module_bytes) const noexcept {
    return (records_ == 0 ? 1 : buf_.size()) + frame_overhead + record_bytes + table_bytes_ +
           entry_overhead + module_bytes + trailer;
  }
  /// Writes the table and returns the payload (valid until `clear`).
  [[nodiscard]] std::string_view seal() {
    const auto offset = static_cast<std::uint32_t>(buf_.size());
    for (const auto& m : members_) {
      put32(buf_, static_cast<std::uint32_t>(m.module.size()));
      buf_.append(m.module);
      put64(buf_, m.stream);
      put64(buf_, m.first_seq);
      put32(buf_, m.first_index);
      put32(buf_, m.count);
    }
    put32(buf_, static_cast<std::uint32_t>(members_.size()));
    put32(buf_, offset);
    return buf_;
  }
  /// Empties it; the buffers keep their capacity.
  void clear() noexcept {
    buf_.clear();
    members_.clear();
    records_ = 0;
    table_bytes_ = 0;
  }

  /// True when `payload` is a group batch.
  [[nodiscard]] static bool is_group_batch(std::string_view payload) noexcept {
    return !payload.empty() && payload.front() == marker;
  }
  /// Reads the table of `payload` into `table` (its names view `payload`) and its records'
  /// frames into `frames`. False when anything is out of bounds or inconsistent (a member's
  /// records past the last one, a frame past the table): then nothing of it may be taken.
  [[nodiscard]] static bool parse(std::string_view payload, std::vector<entry>& table,
                                  std::vector<std::string_view>& frames) {
    table.clear();
    frames.clear();
    if (!is_group_batch(payload) || payload.size() < 1 + trailer) return false;
    const std::size_t end = payload.size() - trailer;
    const std::uint32_t members = get32(payload, end);
    const std::uint32_t offset = get32(payload, end + 4);
    if (offset < 1 || offset > end) return false;
    for (std::size_t at = 1; at < offset;) {
      if (offset - at < frame_overhead) return false;
      const std::uint32_t len = get32(payload, at);
      at += frame_overhead;
      if (len > offset - at) return false;
      frames.push_back(payload.substr(at, len));
      at += len;
    }
    std::size_t at = offset;
    for (std::uint32_t i = 0; i < members; ++i) {
      if (end - at < 4) return false;
      const std::uint32_t len = get32(payload, at);
      at += 4;
      if (len > end - at || end - at - len < entry_overhead - 4) return false;
      entry e;
      e.module = payload.substr(at, len);
      at += len;
      e.stream = get64(payload, at);
      e.first_seq = get64(payload, at + 8);
      e.first_index = get32(payload, at + 16);
      e.count = get32(payload, at + 20);
      at += entry_overhead - 4;
      if (e.count == 0 || e.first_index > frames.size() ||
          e.count > frames.size() - e.first_index || e.stream == 0 || e.first_seq == 0) {
        return false;
      }
      table.push_back(e);
    }
    return at == end && !frames.empty();
  }

 private:
  struct member {
    std::string module;
    std::uint64_t stream;
    std::uint64_t first_seq;
    std::uint32_t first_index;
    std::uint32_t count;
  };
  static void put32(std::string& out, std::uint32_t v) {
    char b[4];
    for (std::size_t i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xffU);
    out.append(b, 4);
  }
  static void put64(std::string& out, std::uint64_t v) {
    put32(out, static_cast<std::uint32_t>(v));
    put32(out, static_cast<std::uint32_t>(v >> 32));
  }
  static std::uint32_t get32(std::string_view in, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
    }
    return v;
  }
  static std::uint64_t get64(std::string_view in, std::size_t at) {
    return get32(in, at) | (static_cast<std::uint64_t>(get32(in, at + 4)) << 32);
  }

  std::string buf_;
  std::vector<member> members_;
  std::uint32_t records_ = 0;
  std::size_t table_bytes_ = 0;
};

}  // namespace beehive::detail
