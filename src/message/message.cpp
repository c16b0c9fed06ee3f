// SPDX-License-Identifier: Apache-2.0
#include "beehive/message.hpp"

#include <chrono>
#include <random>
#include <utility>

namespace beehive {
namespace {

// Why a thread-local PRNG: std::random_device costs a getrandom() syscall per call, which
// would dominate new_message(). Each thread seeds one generator once from the OS; ids only need
// to be unique, not secret (Go's uuid.New() reads crypto/rand, but nothing relies on that).
// xoshiro256** (Blackman, Vigna): 32 bytes of state, a few cycles per 64-bit draw, 2^256-1
// period; mt19937_64 spent more time regenerating its 2.5 KiB state than we spend on the rest.
class xoshiro256ss {
 public:
  xoshiro256ss() {
    std::random_device rd;
    for (auto& word : s_) {
      word = (std::uint64_t{rd()} << 32) | rd();
    }
    // The all-zero state is the one state the generator cannot leave.
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 0x9E3779B97F4A7C15ULL;
  }
  std::uint64_t operator()() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

xoshiro256ss& uuid_rng() {
  thread_local xoshiro256ss rng;
  return rng;
}

constexpr std::size_t uuid_size = 36;

// Writes a UUID v4 in its 36-character text form to `p`.
void write_uuid(char* p) noexcept {
  static constexpr char hex[] = "0123456789abcdef";
  // Where each of the 16 bytes goes in the 8-4-4-4-12 form.
  static constexpr int offset[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
  auto& rng = uuid_rng();
  std::uint64_t hi = rng();
  std::uint64_t lo = rng();
  // RFC 4122: version 4 (random) in the high nibble of byte 6, variant 10xx in byte 8.
  hi = (hi & ~std::uint64_t{0xF000}) | std::uint64_t{0x4000};
  lo = (lo & ~(std::uint64_t{0xC} << 60)) | (std::uint64_t{0x8} << 60);
  p[8] = p[13] = p[18] = p[23] = '-';
  for (int i = 0; i < 16; ++i) {
    const std::uint64_t word = i < 8 ? hi : lo;
    const auto b = static_cast<unsigned>((word >> (56 - 8 * (i % 8))) & 0xFF);
    p[offset[i]] = hex[b >> 4];
    p[offset[i] + 1] = hex[b & 0xF];
  }
}

// Gives `id` a fresh UUID, written straight into its inline buffer.
template <std::size_t N>
void fill_uuid(short_string<N>& id) noexcept {
  static_assert(N >= uuid_size, "an id holds a UUID inline");
  id.resize_and_overwrite(uuid_size, [](char* p, std::size_t) noexcept {
    write_uuid(p);
    return uuid_size;
  });
}

}  // namespace

std::string new_uuid() {
  std::string s(uuid_size, '-');
  write_uuid(s.data());
  return s;
}

std::int64_t now_unix_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

message new_message(std::string_view parent_id) {
  message m;
  fill_uuid(m.header.id);
  m.header.parent_id = parent_id;
  m.header.timestamp = now_unix_ms();
  return m;
}

message new_raw_message() { return message{}; }

message& message::build_router(std::string_view source, std::string_view group,
                               std::string_view resource, std::string_view operation) & {
  route.source = source;
  route.group = group;
  route.resource = resource;
  route.operation = operation;
  return *this;
}

message& message::build_header(std::string_view id, std::string_view parent_id,
                               std::int64_t timestamp) & {
  header.id = id;
  header.parent_id = parent_id;
  header.timestamp = timestamp;
  return *this;
}

message& message::set_route(std::string_view source, std::string_view group) & {
  route.source = source;
  route.group = group;
  return *this;
}

message& message::set_resource_operation(std::string_view resource, std::string_view operation) & {
  route.resource = resource;
  route.operation = operation;
  return *this;
}

message& message::set_type(std::string_view type) & {
  header.type = type;
  return *this;
}

message& message::set_destination(std::string_view destination) & {
  route.destination = destination;
  return *this;
}

message& message::set_resource_version(std::string_view resource_version) & {
  header.resource_version = resource_version;
  return *this;
}

message& message::fill_body(beehive::content body) & {
  content = std::move(body);
  return *this;
}

message& message::update_id() & {
  fill_uuid(header.id);
  return *this;
}

// The rvalue forms: inside them `*this` is an lvalue, so each calls the form above.
message&& message::build_router(std::string_view source, std::string_view group,
                                std::string_view resource, std::string_view operation) && {
  return std::move(build_router(source, group, resource, operation));
}
message&& message::build_header(std::string_view id, std::string_view parent_id,
                                std::int64_t timestamp) && {
  return std::move(build_header(id, parent_id, timestamp));
}
message&& message::set_route(std::string_view source, std::string_view group) && {
  return std::move(set_route(source, group));
}
message&& message::set_resource_operation(std::string_view resource,
                                          std::string_view operation) && {
  return std::move(set_resource_operation(resource, operation));
}
message&& message::set_type(std::string_view type) && { return std::move(set_type(type)); }
message&& message::set_destination(std::string_view destination) && {
  return std::move(set_destination(destination));
}
message&& message::set_resource_version(std::string_view resource_version) && {
  return std::move(set_resource_version(resource_version));
}
message&& message::fill_body(beehive::content body) && {
  return std::move(fill_body(std::move(body)));
}
message&& message::update_id() && { return std::move(update_id()); }

message message::clone() const {
  message m = *this;
  fill_uuid(m.header.id);
  return m;
}

bool message::is_empty() const noexcept {
  return header == message_header{} && route == message_route{} && content.is_null();
}

std::string message::to_string() const {
  std::string s;
  s.reserve(96 + header.id.size() + header.parent_id.size() + route.group.size() +
            route.source.size() + route.destination.size() + route.resource.size() +
            route.operation.size());
  s.append("MessageID: ").append(header.id);
  s.append(" ParentID: ").append(header.parent_id);
  s.append(" Group: ").append(route.group);
  s.append(" Source: ").append(route.source);
  s.append(" Destination: ").append(route.destination);
  s.append(" Resource: ").append(route.resource);
  s.append(" Operation: ").append(route.operation);
  return s;
}

expected<std::string> message::content_data() const {
  if (const bytes* b = content.if_bytes()) return std::string(b->begin(), b->end());
  if (const std::string* s = content.if_string()) return *s;
  // A string that crossed a socket is raw JSON text now; it is still the same string.
  if (content.kind() == content_kind::raw_json && content.raw_json().front() == '"') {
    return content.to_string();
  }
  if (const nlohmann::json* j = content.if_json(); j && j->is_string()) {
    return j->get<std::string>();
  }
  return content.json_text();
}

message new_resp_by_message(const message& request, beehive::content body) {
  message m = new_message(request.header.id);
  m.route.source = request.route.source;
  m.route.group = request.route.group;
  m.route.resource = request.route.resource;
  m.route.operation = response_operation;
  m.header.type = request.header.type;
  m.content = std::move(body);
  return m;
}

message new_error_message(const message& request, std::string error_text) {
  message m = new_message(request.header.id);
  m.route.resource = request.route.resource;
  m.route.operation = response_error_operation;
  m.header.type = request.header.type;
  m.content = beehive::content(std::move(error_text));
  return m;
}

}  // namespace beehive
