// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the newline-delimited stream reader (line_decoder), as a `unix` socket
// reads Go's records. Fed the same stream whole and in random pieces, it must yield exactly what
// a plain reference split yields:
// - every complete line (ended by '\n') that fits in max_record with its '\n' is a record,
//   byte for byte, holding no '\n';
// - every longer line is one oversized notice (> max_record), reported once, also when only
//   its beginning has arrived (the unfinished tail of the stream);
// - what remains is an unfinished record shorter than max_record, held as `buffered()`.
// It must never hold more than its capacity.
//
// Input layout: byte 0 seeds the split points, byte 1 picks max_record, byte 2 the capacity
// above it, the rest is the stream.
//
// Why line_decoder.cpp is included: see fuzz_record.cpp (coverage instrumentation of the code
// under test).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "../src/socket/line_decoder.cpp"  // NOLINT(bugprone-suspicious-include)

namespace {

using beehive::detail::line_decoder;

constexpr std::string_view oversized = "\x01<oversized>";

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_lines: %s\n", what);
  std::abort();
}

struct outcome {
  std::vector<std::string> items;
  std::size_t buffered = 0;
};

void drain(line_decoder& d, outcome& o) {
  while (auto it = d.next()) {
    if (it->oversized != 0) {
      if (it->oversized <= d.max_record()) fail("oversized notice for a record that fits");
      if (!it->record.empty()) fail("oversized notice with a record");
      o.items.emplace_back(oversized);
      continue;
    }
    if (it->record.size() + 1 > d.max_record()) fail("record above max_record");
    if (it->record.find('\n') != std::string_view::npos) fail("record holds a newline");
    o.items.emplace_back(it->record);
  }
}

// Appends `bytes` (in as many appends as the buffer needs), draining after each.
void feed(line_decoder& d, std::string_view bytes, outcome& o) {
  while (!bytes.empty()) {
    const std::size_t n = d.append(bytes);
    if (n == 0) fail("no room after draining");
    bytes.remove_prefix(n);
    drain(d, o);
    if (d.buffered() >= d.max_record()) fail("held a record that cannot fit");
  }
}

outcome reference(std::string_view stream, std::size_t max_record) {
  outcome o;
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = stream.find('\n', start);
    if (nl == std::string_view::npos) break;
    const std::string_view line = stream.substr(start, nl - start);
    if (line.size() + 1 > max_record) {
      o.items.emplace_back(oversized);
    } else {
      o.items.emplace_back(line);
    }
    start = nl + 1;
  }
  const std::size_t tail = stream.size() - start;
  if (tail >= max_record) {
    o.items.emplace_back(oversized);
  } else {
    o.buffered = tail;
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  std::uint32_t seed = data[0] * 2654435761U + 1;
  const std::size_t max_record = 1 + data[1] % 64;
  const std::size_t capacity = max_record + data[2] % 32;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);

  const outcome expect = reference(stream, max_record);

  outcome whole;
  {
    line_decoder d(max_record, capacity);
    feed(d, stream, whole);
    whole.buffered = d.buffered();
    if (d.allocated() > capacity) fail("buffer above its capacity");
  }
  outcome pieces;
  {
    line_decoder d(max_record, capacity);
    std::size_t pos = 0;
    while (pos < stream.size()) {
      seed = seed * 1103515245U + 12345U;
      const std::size_t n = 1 + (seed >> 16) % 37;
      feed(d, stream.substr(pos, n), pieces);
      pos += n;
      // An idle reader may give its buffer back between reads; nothing may change by it.
      if ((seed & 0x10000U) != 0) d.release();
    }
    pieces.buffered = d.buffered();
  }
  if (whole.items != expect.items || whole.buffered != expect.buffered) {
    fail("whole stream decoded unlike the reference");
  }
  if (pieces.items != expect.items || pieces.buffered != expect.buffered) {
    fail("split stream decoded unlike the reference");
  }
  return 0;
}
