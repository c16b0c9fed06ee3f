// SPDX-License-Identifier: Apache-2.0
#include "beehive/message.hpp"

#include <chrono>
#include <random>
#include <utility>

namespace beehive {
namespace {

// Why a thread-local PRNG: std::random_device costs a getrandom() syscall per call, which
// would dominate new_message(). Each thread seeds one generator once; ids only need to be
// unique, not secret (Go's uuid.New() reads crypto/rand, but nothing relies on that).
std::mt19937_64& uuid_rng() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return rng;
}

}  // namespace

std::string new_uuid() {
  static constexpr char hex[] = "0123456789abcdef";
  auto& rng = uuid_rng();
  std::uint64_t hi = rng();
  std::uint64_t lo = rng();
  // RFC 4122 version 4 (random) and variant 10xx.
  hi = (hi & ~std::uint64_t{0xF000}) | std::uint64_t{0x4000};
  lo = (lo & ~(std::uint64_t{0xC} << 60)) | (std::uint64_t{0x8} << 60);
  std::string s(36, '-');
  char* p = s.data();
  int nibble = 0;
  for (int i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    const std::uint64_t word = nibble < 16 ? hi : lo;
    const int shift = 60 - 4 * (nibble % 16);
    p[i] = hex[(word >> shift) & 0xF];
    ++nibble;
  }
  return s;
}

std::int64_t now_unix_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

message new_message(std::string parent_id) {
  message m;
  m.header.id = new_uuid();
  m.header.parent_id = std::move(parent_id);
  m.header.timestamp = now_unix_ms();
  return m;
}

message new_raw_message() { return message{}; }

message& message::build_router(std::string source, std::string group, std::string resource,
                               std::string operation) {
  route.source = std::move(source);
  route.group = std::move(group);
  route.resource = std::move(resource);
  route.operation = std::move(operation);
  return *this;
}

message& message::build_header(std::string id, std::string parent_id, std::int64_t timestamp) {
  header.id = std::move(id);
  header.parent_id = std::move(parent_id);
  header.timestamp = timestamp;
  return *this;
}

message& message::set_route(std::string source, std::string group) {
  route.source = std::move(source);
  route.group = std::move(group);
  return *this;
}

message& message::set_resource_operation(std::string resource, std::string operation) {
  route.resource = std::move(resource);
  route.operation = std::move(operation);
  return *this;
}

message& message::set_type(std::string type) {
  header.type = std::move(type);
  return *this;
}

message& message::set_destination(std::string destination) {
  route.destination = std::move(destination);
  return *this;
}

message& message::set_resource_version(std::string resource_version) {
  header.resource_version = std::move(resource_version);
  return *this;
}

message& message::fill_body(beehive::content body) {
  content = std::move(body);
  return *this;
}

message& message::update_id() {
  header.id = new_uuid();
  return *this;
}

message message::clone() const {
  message m = *this;
  m.header.id = new_uuid();
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
  m.route.operation = std::string(response_operation);
  m.header.type = request.header.type;
  m.content = std::move(body);
  return m;
}

message new_error_message(const message& request, std::string error_text) {
  message m = new_message(request.header.id);
  m.route.resource = request.route.resource;
  m.route.operation = std::string(response_error_operation);
  m.header.type = request.header.type;
  m.content = beehive::content(std::move(error_text));
  return m;
}

}  // namespace beehive
