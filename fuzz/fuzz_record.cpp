// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: decode_message on arbitrary bytes. Whatever decodes must re-encode, decode
// again to the same message and re-encode to the same bytes (a forwarded record is stable), and
// its content must parse as JSON (the validator and the on-demand parser agree). Each decoded
// string field must keep the short_string invariants (terminated; on the heap exactly when
// longer than its inline capacity), and copies and moves must preserve it.
//
// Why the sources are included here: the fuzz targets link the library built without coverage
// instrumentation, so libFuzzer would be blind inside the decoder. Compiling the codec's units
// into this translation unit instruments them; the linker then takes these definitions and never
// pulls the same objects from libbeehive.a.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "../src/codec/codec.cpp"      // NOLINT(bugprone-suspicious-include)
#include "../src/codec/json_text.cpp"  // NOLINT(bugprone-suspicious-include)
#include "../src/message/content.cpp"  // NOLINT(bugprone-suspicious-include)

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_record: %s\n", what);
  std::abort();
}

template <std::size_t N>
void check_field(const beehive::short_string<N>& s) {
  if (s.c_str()[s.size()] != '\0') fail("field not terminated");
  if (s.on_heap() != (s.size() > N)) fail("field on the heap at the wrong size");
  beehive::short_string<N> copy = s;
  if (copy != s) fail("copy of a field differs");
  const beehive::short_string<N> moved = std::move(copy);
  // NOLINTNEXTLINE(bugprone-use-after-move): a moved-from short_string is empty, documented
  if (moved != s || !copy.empty()) fail("move of a field differs");
}

void check_fields(const beehive::message& m) {
  check_field(m.header.id);
  check_field(m.header.parent_id);
  check_field(m.header.resource_version);
  check_field(m.header.type);
  check_field(m.route.source);
  check_field(m.route.destination);
  check_field(m.route.group);
  check_field(m.route.operation);
  check_field(m.route.resource);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto m = beehive::decode_message(input);
  if (!m) {
    if (m.error() != beehive::errc::protocol_error) fail("decode failed with an unexpected error");
    return 0;
  }
  if (!m->content.is_null() && m->content.kind() != beehive::content_kind::raw_json) {
    fail("decoded content is not raw JSON");
  }
  if (!m->content.to_json()) fail("validated content does not parse");
  check_fields(*m);
  auto first = beehive::encode_message(*m);
  if (!first) fail("decoded message does not encode");
  auto again = beehive::decode_message(*first);
  if (!again) fail("encoded message does not decode");
  if (again->header != m->header || again->route != m->route) fail("round trip changed fields");
  if (again->content.raw_json() != m->content.raw_json()) fail("round trip changed content");
  auto second = beehive::encode_message(*again);
  if (!second || *second != *first) fail("second encoding differs");
  return 0;
}
