// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the socket handshake parsers on arbitrary bytes, taken as a connection's
// first record on the server side (read_handshake_request) and as the answer to our handshake on
// the client side (read_handshake_response). Checks that each result keeps its promises: an
// accepted handshake names a listed module and joins its own group first; a refusal reads back
// as a refusal with its reason; an accepted exchange holds no empty, duplicate or own name, and
// the exchange our server would build from it reads back to the same modules and groups.
//
// Why the sources are included here: see fuzz_record.cpp (the library is not instrumented).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string_view>

#include "../src/codec/codec.cpp"       // NOLINT(bugprone-suspicious-include)
#include "../src/codec/json_text.cpp"   // NOLINT(bugprone-suspicious-include)
#include "../src/message/content.cpp"   // NOLINT(bugprone-suspicious-include)
#include "../src/socket/handshake.cpp"  // NOLINT(bugprone-suspicious-include)

namespace {

using namespace beehive;
using namespace beehive::detail;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_handshake: %s\n", what);
  std::abort();
}

// Listed clients: remotemod, and every name that starts with 'c' (so that the fuzzer reaches
// `accepted` with names of its own).
bool listed(std::string_view m) { return m == "remotemod" || (!m.empty() && m.front() == 'c'); }

void check_server_side(std::string_view input) {
  const auto r = read_handshake_request(input, listed);
  if (r.result == handshake_result::name_taken) fail("the checker said name_taken");
  if (r.result == handshake_result::malformed) {
    if (decode_message(input)) fail("a decodable record was called malformed");
    return;
  }
  if (r.result != check_handshake_request(r.request, listed)) fail("the two checks disagree");
  if (r.result == handshake_result::accepted) {
    if (r.module.empty() || !listed(r.module)) fail("accepted an unlisted module");
    if (r.module != std::string_view(r.request.route.source)) fail("module is not the source");
    if (r.groups.empty() || r.groups.front() != r.module) fail("own group not first");
    if (r.groups.size() > 2 || (r.groups.size() == 2 && r.groups[1] == r.module)) {
      fail("groups listed twice");
    }
    // Our answer reads back as accepted and lists the server's module.
    membership members;
    members.modules.push_back({r.module, "unixpacket", true});
    const auto reply =
        make_handshake_response(r.request, module_exchange_json(members, "sockserver", {r.module}));
    auto text = encode_message(reply);
    if (!text) fail("the response does not encode");
    auto back = decode_message(*text);
    if (!back) fail("the response does not decode");
    const auto read = read_handshake_response(*back, r.module);
    if (read.result != response_result::accepted) fail("our response is not accepted");
    if (read.exchange.modules != std::vector<std::string>{"sockserver"}) {
      fail("the response lists the joining module or misses the server's");
    }
    return;
  }
  if (!r.module.empty() || !r.groups.empty()) fail("a refused handshake names a module");
  const auto refusal = make_handshake_refusal(r.request, r.result);
  auto text = encode_message(refusal);
  if (!text) fail("the refusal does not encode");
  auto back = decode_message(*text);
  if (!back) fail("the refusal does not decode");
  const auto read = read_handshake_response(*back, "remotemod");
  if (read.result != response_result::refused || read.reason != describe(r.result)) {
    fail("a refusal does not read back as one");
  }
}

void check_client_side(const message& m) {
  if (classify_record(handshake_step::awaiting_response, m, m.header.parent_id) !=
      (std::string_view(m.header.parent_id).empty() ? record_role::ordinary
                                                    : record_role::handshake_response)) {
    fail("classify_record");
  }
  const auto r = read_handshake_response(m, "remotemod");
  if (r.result != response_result::accepted) {
    if (!r.exchange.modules.empty() || !r.exchange.groups.empty()) fail("refused with modules");
    if (r.result == response_result::malformed && r.reason.empty()) fail("malformed, no reason");
    return;
  }
  const auto& ex = r.exchange;
  std::set<std::string_view> seen;
  for (const auto& name : ex.modules) {
    if (name.empty()) fail("an empty module name");
    if (name == "remotemod") fail("the client's own name is listed");
    if (!seen.insert(name).second) fail("a module listed twice");
  }
  for (const auto& [group, names] : ex.groups) {
    if (group.empty()) fail("an empty group name");
    std::set<std::string_view> members;
    for (const auto& n : names) {
      if (n.empty()) fail("an empty member name");
      if (!members.insert(n).second) fail("a member listed twice");
    }
  }
  // What our server would answer with these modules and groups reads back the same.
  membership members;
  for (const auto& name : ex.modules) members.modules.push_back({name, "channel", true});
  for (const auto& [group, names] : ex.groups) {
    members.groups[group] = std::vector<std::string>(names.begin(), names.end());
  }
  const auto reply = make_handshake_response(make_handshake_request("remotemod"),
                                             module_exchange_json(members, "", {}));
  auto text = encode_message(reply);
  if (!text) fail("a rebuilt exchange does not encode");
  auto back = decode_message(*text);
  if (!back) fail("a rebuilt exchange does not decode");
  const auto again = read_handshake_response(*back, "remotemod");
  if (again.result != response_result::accepted) fail("a rebuilt exchange is not accepted");
  std::vector<std::string> want = ex.modules;
  std::sort(want.begin(), want.end());
  if (again.exchange.modules != want) fail("a rebuilt exchange lists other modules");
  for (const auto& name : ex.modules) {
    if (again.exchange.groups_of(name) != ex.groups_of(name)) fail("a module changed groups");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_server_side(input);
  if (auto m = decode_message(input)) check_client_side(*m);
  return 0;
}
