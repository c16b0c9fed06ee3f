// SPDX-License-Identifier: Apache-2.0
// Micro benchmarks of the message model and the JSON codec (Google Benchmark).
// Go's beehive measured, on its own machine: NewMessage 906 ns/op, JSON round trip 5600 ns/op.
//
//   build/<dir>/bench/codec_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "beehive/codec.hpp"
#include "beehive/message.hpp"
#include "socket/package_frame.hpp"

namespace {

// A typical record: the 281-byte response of the Go capture.
constexpr std::string_view capture_response =
    R"({"header":{"msg_id":"709147fd-2bfb-49ee-bda7-aef80690d16f","parent_msg_id":)"
    R"("79319fb7-7f78-4be3-91e1-a78d49e4301c","timestamp":1795721459883,"type":"unixpacket"},)"
    R"("route":{"source":"remotemod","destination":"remotemod","operation":"response",)"
    R"("resource":"resource"},"content":"pong"})";

// The 369-byte handshake response, whose content is an object.
constexpr std::string_view capture_handshake =
    R"({"header":{"msg_id":"325ee6a1-b8d3-4e17-936f-c66c659cbf1c","parent_msg_id":)"
    R"("62a11fd6-ee42-4c6f-9d08-d853f212c30d","timestamp":1795721458578,"type":"unixpacket"},)"
    R"("route":{"source":"remotemod","destination":"remotemod","operation":"response",)"
    R"("resource":"module"},"content":{"modules":["sockserver","srvmod"],"groups":)"
    R"({"sockserver":["sockserver"],"srvgroup":["srvmod"]}})";

beehive::message typical_message() {
  beehive::message m = beehive::new_message(beehive::new_uuid());
  m.set_type("unixpacket")
      .build_router("remotemod", "", "resource", "response")
      .set_destination("remotemod")
      .fill_body("pong");
  return m;
}

void new_uuid(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(beehive::new_uuid());
}
BENCHMARK(new_uuid);

void new_message(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(beehive::new_message());
}
BENCHMARK(new_message);

void encode(benchmark::State& state) {
  const beehive::message m = typical_message();
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(beehive::encode_message(m, out));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(encode);

void decode(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(beehive::decode_message(capture_response));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * capture_response.size()));
}
BENCHMARK(decode);

void decode_object_content(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(beehive::decode_message(capture_handshake));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * capture_handshake.size()));
}
BENCHMARK(decode_object_content);

// The nats bench's record: a message whose body is a 250-byte string (~370 bytes of JSON),
// where the body's string escape and its validation are most of the work.
beehive::message body_250_message() {
  std::string body = "123456";
  body.resize(250, ' ');
  return beehive::new_message().fill_body(body);
}

void encode_body_250(benchmark::State& state) {
  const beehive::message m = body_250_message();
  std::string out;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(beehive::encode_message(m, out));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(encode_body_250);

void decode_body_250(benchmark::State& state) {
  std::string record;
  (void)beehive::encode_message(body_250_message(), record);
  for (auto _ : state) benchmark::DoNotOptimize(beehive::decode_message(record));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * record.size()));
}
BENCHMARK(decode_body_250);

// Encode into a reused buffer, then decode: what a socket hop costs in CPU.
void json_round_trip(benchmark::State& state) {
  const beehive::message m = typical_message();
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (!beehive::encode_message(m, out)) state.SkipWithError("encode failed");
    auto d = beehive::decode_message(out);
    if (!d) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(d);
  }
  state.counters["record_bytes"] = static_cast<double>(out.size());
}
BENCHMARK(json_round_trip);

// Forwarding: decode a record and encode it again (content never parsed).
void forward(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    auto d = beehive::decode_message(capture_handshake);
    out.clear();
    benchmark::DoNotOptimize(beehive::encode_message(*d, out));
  }
}
BENCHMARK(forward);

void frame_decode(benchmark::State& state) {
  std::string stream;
  for (int i = 0; i < 64; ++i) beehive::detail::append_package(capture_response, stream);
  beehive::detail::frame_decoder d(1 << 20);
  std::size_t frames = 0;
  for (auto _ : state) {
    d.append(stream);
    for (;;) {
      auto r = d.next();
      if (!r || !*r) break;
      benchmark::DoNotOptimize(r->value().data());
      ++frames;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
}
BENCHMARK(frame_decode);

}  // namespace

BENCHMARK_MAIN();
