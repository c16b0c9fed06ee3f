// SPDX-License-Identifier: Apache-2.0
#include "socket/handshake.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "beehive/codec.hpp"
#include "codec/json_text.hpp"

namespace beehive::detail {
namespace {

// A message field as a string_view (fields convert to one, whatever their own type).
template <class Field>
std::string_view sv(const Field& f) {
  return std::string_view(f);
}

using ordered = nlohmann::ordered_json;

// A JSON array of non-empty names (null: none), each kept once in the order first listed.
bool read_names(const ordered& v, std::vector<std::string>& out, std::string& why,
                std::string_view what) {
  out.clear();
  if (v.is_null()) return true;
  if (!v.is_array()) {
    why = std::string(what) + " is not an array";
    return false;
  }
  std::set<std::string_view> seen;
  for (const auto& e : v) {
    if (!e.is_string()) {
      why = std::string(what) + " holds something that is not a string";
      return false;
    }
    const auto& name = e.get_ref<const std::string&>();
    if (name.empty()) {
      why = std::string(what) + " holds an empty name";
      return false;
    }
    if (seen.insert(name).second) out.push_back(name);
  }
  return true;
}

}  // namespace

record_role classify_record(handshake_step step, const message& m,
                            std::string_view request_id) noexcept {
  switch (step) {
    case handshake_step::awaiting_request:
      return record_role::handshake_request;
    case handshake_step::awaiting_response:
      // An empty id never matches: a record without a parent is not the answer.
      return !request_id.empty() && sv(m.header.parent_id) == request_id
                 ? record_role::handshake_response
                 : record_role::ordinary;
    case handshake_step::established:
      break;
  }
  return record_role::ordinary;
}

bool is_reply_record(const message& m, bool awaited) noexcept {
  if (sv(m.header.parent_id).empty()) return false;
  const std::string_view op = sv(m.route.operation);
  return awaited || op == response_operation || op == response_error_operation;
}

message make_handshake_request(std::string_view module) {
  message hs = new_message();
  hs.header.sync = true;
  hs.set_type(context_type_unixpacket);
  hs.build_router(module, std::string_view(), handshake_resource, handshake_operation);
  hs.fill_body(content(std::string()));
  return hs;
}

std::string_view describe(handshake_result r) noexcept {
  switch (r) {
    case handshake_result::accepted:
      return "accepted";
    case handshake_result::malformed:
      return "the first record is not a beehive message";
    case handshake_result::not_a_handshake:
      return "the first record must be a module handshake";
    case handshake_result::no_module:
      return "the handshake names no module";
    case handshake_result::not_listed:
      return "module is not listed as a client in the socket config";
    case handshake_result::name_taken:
      return "module name is taken by a module of this process";
  }
  return "unknown handshake result";
}

handshake_result check_handshake_request(const message& first, const client_listed& listed) {
  if (sv(first.route.operation) != handshake_operation ||
      sv(first.route.resource) != handshake_resource) {
    return handshake_result::not_a_handshake;
  }
  const std::string_view name = sv(first.route.source);
  if (name.empty()) return handshake_result::no_module;
  if (!listed || !listed(name)) return handshake_result::not_listed;
  return handshake_result::accepted;
}

std::vector<std::string> handshake_groups(const message& request) {
  const std::string_view module = sv(request.route.source);
  std::vector<std::string> groups{std::string(module)};
  if (const std::string_view group = sv(request.route.group); !group.empty() && group != module) {
    groups.emplace_back(group);
  }
  return groups;
}

handshake_request read_handshake_request(std::string_view record, const client_listed& listed) {
  handshake_request out;
  auto m = decode_message(record);
  if (!m) return out;
  out.request = std::move(*m);
  out.result = check_handshake_request(out.request, listed);
  if (out.result != handshake_result::accepted) return out;
  out.module = std::string(sv(out.request.route.source));
  out.groups = handshake_groups(out.request);
  return out;
}

std::string module_exchange_json(const membership& members, std::string_view server_module,
                                 const std::vector<std::string>& leave_out) {
  const std::set<std::string_view> left_out(leave_out.begin(), leave_out.end());
  // Sorted (std::string orders bytes as unsigned char, as Go sorts map keys).
  std::set<std::string_view> listed;
  for (const auto& m : members.modules) {
    if (m.live && left_out.count(m.name) == 0) listed.insert(m.name);
  }
  if (!server_module.empty()) listed.insert(server_module);

  std::map<std::string_view, std::set<std::string_view>> groups;
  for (const auto& [group, names] : members.groups) {
    for (const auto& n : names) {
      if (listed.count(n) != 0) groups[group].insert(n);
    }
  }
  if (!server_module.empty()) groups[server_module].insert(server_module);

  std::string out = R"({"modules":[)";
  bool first = true;
  for (const auto name : listed) {
    if (!first) out.push_back(',');
    first = false;
    append_go_string(name, out);
  }
  out += R"(],"groups":{)";
  first = true;
  for (const auto& [group, names] : groups) {
    if (!first) out.push_back(',');
    first = false;
    append_go_string(group, out);
    out += ":[";
    bool first_member = true;
    for (const auto name : names) {
      if (!first_member) out.push_back(',');
      first_member = false;
      append_go_string(name, out);
    }
    out.push_back(']');
  }
  out += "}}";
  return out;
}

message make_handshake_response(const message& request, std::string exchange_json) {
  message reply =
      new_resp_by_message(request, content::from_trusted_json_text(std::move(exchange_json)));
  reply.set_type(context_type_unixpacket);
  // Go's socket SendResp: the destination is the source.
  reply.set_destination(sv(reply.route.source));
  return reply;
}

message make_handshake_refusal(const message& request, handshake_result why) {
  message err = new_error_message(request, std::string(describe(why)));
  err.set_type(context_type_unixpacket);
  err.set_destination(sv(request.route.source));
  return err;
}

std::vector<std::string> module_exchange::groups_of(std::string_view module) const {
  std::vector<std::string> out;
  for (const auto& [group, names] : groups) {
    if (std::find(names.begin(), names.end(), module) != names.end()) out.push_back(group);
  }
  return out;  // sorted: the map is
}

handshake_response read_handshake_response(const message& answer, std::string_view self) {
  handshake_response out;
  if (sv(answer.route.operation) != response_operation) {
    out.result = response_result::refused;
    if (auto text = answer.content.to_string()) {
      out.reason = std::move(*text);
    } else if (auto json = answer.content.json_text()) {
      out.reason = std::move(*json);
    }
    return out;
  }
  return read_exchange(answer, self);
}

bool is_presence_record(const message& m) noexcept {
  return sv(m.route.resource) == handshake_resource &&
         sv(m.route.operation) == presence_operation && sv(m.header.parent_id).empty();
}

message make_presence_subscription(std::string_view module) {
  message m = new_message();
  m.set_type(context_type_unixpacket);
  m.build_router(module, std::string_view(), handshake_resource, presence_operation);
  m.fill_body(content(std::string()));
  return m;
}

message make_presence_update(std::string_view server_module, std::string_view peer,
                             std::string exchange_json) {
  message m = new_message();
  m.set_type(context_type_unixpacket);
  m.build_router(server_module, std::string_view(), handshake_resource, presence_operation);
  m.set_destination(peer);
  m.content = content::from_trusted_json_text(std::move(exchange_json));
  return m;
}

handshake_response read_exchange(const message& answer, std::string_view self) {
  handshake_response out;
  std::string text;
  if (answer.content.kind() == content_kind::raw_json) {
    text = std::string(answer.content.raw_json());
  } else if (auto json = answer.content.json_text()) {
    text = std::move(*json);
  } else {
    out.reason = "the content has no JSON form";
    return out;
  }
  // Ordered: Go assigns the fields in the order the keys come, so the last duplicate wins.
  const ordered j = ordered::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    out.reason = "the content is not a JSON object";
    return out;
  }
  module_exchange ex;
  for (const auto& [key, value] : j.items()) {
    if (key_matches(key, "modules")) {
      if (!read_names(value, ex.modules, out.reason, "modules")) return out;
    } else if (key_matches(key, "groups")) {
      ex.groups.clear();
      if (value.is_null()) continue;
      if (!value.is_object()) {
        out.reason = "groups is not an object";
        return out;
      }
      for (const auto& [group, names] : value.items()) {
        if (group.empty()) {
          out.reason = "groups holds an empty group name";
          return out;
        }
        std::vector<std::string> members;
        if (!read_names(names, members, out.reason, "a group")) return out;
        ex.groups.insert_or_assign(group, std::move(members));
      }
    }
  }
  // Go's client skips its own module.
  std::erase(ex.modules, self);
  out.result = response_result::accepted;
  out.exchange = std::move(ex);
  return out;
}

}  // namespace beehive::detail
