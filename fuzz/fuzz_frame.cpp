// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: frame_decoder fed the same stream in random pieces must yield exactly what
// it yields when fed the whole stream at once: the same payloads, then the same end state
// (more bytes needed, or the same error).
//
// Input layout: byte 0 seeds the split points, byte 1 picks max_length, the rest is the stream.
//
// Why package_frame.cpp is included: see fuzz_record.cpp (coverage instrumentation of the code
// under test).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../src/socket/package_frame.cpp"  // NOLINT(bugprone-suspicious-include)

namespace {

struct outcome {
  std::vector<std::string> payloads;
  std::error_code error;
  std::size_t buffered = 0;
};

void drain(beehive::detail::frame_decoder& d, outcome& o) {
  for (;;) {
    auto r = d.next();
    if (!r) {
      // A failed decoder must keep failing with the same error.
      auto again = d.next();
      if (again || again.error() != r.error()) {
        std::fprintf(stderr, "fuzz_frame: decoder recovered from an error\n");
        std::abort();
      }
      o.error = r.error();
      return;
    }
    if (!*r) return;
    o.payloads.emplace_back(**r);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::uint32_t seed = data[0] * 2654435761U + 1;
  const std::size_t max_length =
      data[1] == 255 ? std::size_t{0xFFFFFFFF} : data[1] * std::size_t{8};
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  outcome whole;
  {
    beehive::detail::frame_decoder d(max_length);
    d.append(stream);
    drain(d, whole);
    whole.buffered = d.buffered();
  }
  outcome pieces;
  {
    beehive::detail::frame_decoder d(max_length);
    std::size_t pos = 0;
    while (pos < stream.size() && !pieces.error) {
      seed = seed * 1103515245U + 12345U;
      const std::size_t n = 1 + (seed >> 16) % 37;
      d.append(stream.substr(pos, n));
      pos += n;
      drain(d, pieces);
    }
    drain(d, pieces);
    pieces.buffered = d.buffered();
  }
  if (pieces.payloads != whole.payloads || pieces.error != whole.error ||
      (!whole.error && pieces.buffered != whole.buffered)) {
    std::fprintf(stderr, "fuzz_frame: split stream decoded differently\n");
    std::abort();
  }
  for (const auto& p : whole.payloads) {
    if (p.size() > max_length) {
      std::fprintf(stderr, "fuzz_frame: payload above max_length\n");
      std::abort();
    }
  }
  return 0;
}
