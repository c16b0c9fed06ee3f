// SPDX-License-Identifier: Apache-2.0
#include "socket/handshake.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "beehive/codec.hpp"
#include "checked_codec.hpp"
#include "normalize.hpp"

namespace beehive::detail {
namespace {

using test::decoded;
using test::encoded;
using test::normalize;

// The handshake records of tests/data/go-records.jsonl (captures of real Go beehive processes),
// without their trailing '\n'. tests/interop_test.cpp checks the same functions against the file
// itself.

// Capture B, go-client: the Go client's handshake request.
constexpr std::string_view go_request =
    R"({"header":{"msg_id":"5f20e3fe-204a-40d7-b44a-3238bef35f4c","timestamp":1796098587044,)"
    R"("sync":true,"type":"unixpacket"},"route":{"source":"remotemod","operation":"add",)"
    R"("resource":"module"},"content":""})";

// Capture B, go-server: the answer of a Go server hosting `sockserver` (its socket module) and
// the channel module `srvmod` in group `srvgroup`.
constexpr std::string_view go_response_b =
    R"({"header":{"msg_id":"9f1387c9-b271-4d04-b10c-b4c9b191940b",)"
    R"("parent_msg_id":"5f20e3fe-204a-40d7-b44a-3238bef35f4c","timestamp":1796098587047,)"
    R"("type":"unixpacket"},"route":{"source":"remotemod","destination":"remotemod",)"
    R"("operation":"response","resource":"module"},"content":{"modules":["sockserver","srvmod"],)"
    R"("groups":{"sockserver":["sockserver"],"srvgroup":["srvmod"]}}})";

// Captures A and E: the same server answering two other handshakes.
constexpr std::string_view go_response_a =
    R"({"header":{"msg_id":"48b7d953-1a6a-42bb-9326-b66921d2808f",)"
    R"("parent_msg_id":"3a68b5fe-c9e2-4973-b5eb-043ba792adb5","timestamp":1796098581608,)"
    R"("type":"unixpacket"},"route":{"source":"remotemod","destination":"remotemod",)"
    R"("operation":"response","resource":"module"},"content":{"modules":["sockserver","srvmod"],)"
    R"("groups":{"sockserver":["sockserver"],"srvgroup":["srvmod"]}}})";
constexpr std::string_view go_response_e =
    R"({"header":{"msg_id":"9e54a82a-c14d-47a0-a429-3c689f7a08e7",)"
    R"("parent_msg_id":"1fce8911-cc6e-4eab-8501-ea9c8349a625","timestamp":1796098598624,)"
    R"("type":"unixpacket"},"route":{"source":"remotemod","destination":"remotemod",)"
    R"("operation":"response","resource":"module"},"content":{"modules":["sockserver","srvmod"],)"
    R"("groups":{"sockserver":["sockserver"],"srvgroup":["srvmod"]}}})";

constexpr std::string_view go_exchange =
    R"({"modules":["sockserver","srvmod"],"groups":{"sockserver":["sockserver"],)"
    R"("srvgroup":["srvmod"]}})";

const client_listed only_remotemod = [](std::string_view m) { return m == "remotemod"; };

// The Go server of the captures, as our context records it: its socket module, srvmod in
// srvgroup, and the joining client `remotemod` (a peer: Go puts it in a group of its own name).
membership go_server_members(bool with_socket_module) {
  membership m;
  if (with_socket_module) m.modules.push_back({"sockserver", "unixpacket", true});
  m.modules.push_back({"remotemod", "unixpacket", true});
  m.modules.push_back({"srvmod", "channel", true});
  if (with_socket_module) m.groups["sockserver"] = {"sockserver"};
  m.groups["remotemod"] = {"remotemod"};
  m.groups["srvgroup"] = {"srvmod"};
  return m;
}

// ---- the request ------------------------------------------------------------------------------

TEST(Handshake, RequestIsTheGoClientsBytesApartFromIdAndTime) {
  const message hs = make_handshake_request("remotemod");
  EXPECT_EQ(normalize(encoded(hs)), normalize(go_request));
  EXPECT_EQ(hs.header.id.size(), 36U);
  EXPECT_GT(hs.header.timestamp, 1'700'000'000'000);
  // Two requests never share an id: the answer is matched by it.
  EXPECT_NE(make_handshake_request("remotemod").header.id, hs.header.id);
}

// ---- the server checks the first record -------------------------------------------------------

TEST(Handshake, TheGoClientsRequestIsAcceptedForAListedModule) {
  const auto r = read_handshake_request(std::string(go_request) + "\n", only_remotemod);
  EXPECT_EQ(r.result, handshake_result::accepted);
  EXPECT_EQ(r.module, "remotemod");
  // Go puts the remote module in a group named after itself.
  EXPECT_EQ(r.groups, (std::vector<std::string>{"remotemod"}));
  EXPECT_EQ(r.request.header.id, "5f20e3fe-204a-40d7-b44a-3238bef35f4c");
}

TEST(Handshake, AHandshakeGroupIsJoinedBesideTheModulesOwn) {
  message hs = make_handshake_request("remotemod");
  hs.route.group = "edge";
  const auto r = read_handshake_request(encoded(hs), only_remotemod);
  ASSERT_EQ(r.result, handshake_result::accepted);
  EXPECT_EQ(r.groups, (std::vector<std::string>{"remotemod", "edge"}));
  hs.route.group = "remotemod";  // its own group is not listed twice
  EXPECT_EQ(read_handshake_request(encoded(hs), only_remotemod).groups,
            (std::vector<std::string>{"remotemod"}));
}

TEST(Handshake, EveryOtherFirstRecordGetsItsNamedResult) {
  EXPECT_EQ(read_handshake_request("not json", only_remotemod).result, handshake_result::malformed);
  EXPECT_EQ(read_handshake_request("", only_remotemod).result, handshake_result::malformed);
  EXPECT_EQ(read_handshake_request(go_request, only_remotemod).result, handshake_result::accepted);

  EXPECT_EQ(check_handshake_request(make_handshake_request("intruder"), only_remotemod),
            handshake_result::not_listed);
  EXPECT_EQ(check_handshake_request(make_handshake_request("remotemod"), client_listed{}),
            handshake_result::not_listed);
  EXPECT_EQ(check_handshake_request(make_handshake_request(""), only_remotemod),
            handshake_result::no_module);

  message wrong_op = make_handshake_request("remotemod");
  wrong_op.route.operation = "delete";
  EXPECT_EQ(check_handshake_request(wrong_op, only_remotemod), handshake_result::not_a_handshake);
  message wrong_res = make_handshake_request("remotemod");
  wrong_res.route.resource = "pod";
  EXPECT_EQ(check_handshake_request(wrong_res, only_remotemod), handshake_result::not_a_handshake);
  // An ordinary Go record first (a client that skipped the handshake).
  const std::string sync_query =
      R"({"header":{"msg_id":"f3710a59-97cc-46bd-98bc-d89a195db318","timestamp":1796098587048,)"
      R"("sync":true,"type":"unixpacket"},"route":{"source":"remotemod","destination":"srvmod",)"
      R"("operation":"query","resource":"resource"},"content":"ping-0"})";
  const auto r = read_handshake_request(sync_query, only_remotemod);
  EXPECT_EQ(r.result, handshake_result::not_a_handshake);
  EXPECT_TRUE(r.module.empty());
  EXPECT_TRUE(r.groups.empty());
  EXPECT_EQ(r.request.route.destination, "srvmod");  // decoded, so that it can be refused
}

TEST(Handshake, EveryResultHasItsOwnReason) {
  const std::vector<handshake_result> all = {
      handshake_result::accepted,  handshake_result::malformed,  handshake_result::not_a_handshake,
      handshake_result::no_module, handshake_result::not_listed, handshake_result::name_taken};
  std::vector<std::string_view> seen;
  for (auto r : all) {
    const auto text = describe(r);
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(std::count(seen.begin(), seen.end(), text), 0) << text;
    seen.push_back(text);
  }
}

// ---- the server's answers ---------------------------------------------------------------------

TEST(Handshake, ResponseIsTheGoServersBytesApartFromIdAndTime) {
  const message request = decoded(go_request);
  const message reply = make_handshake_response(
      request, module_exchange_json(go_server_members(true), "sockserver", {"remotemod"}));
  const std::string ours = encoded(reply);
  EXPECT_EQ(normalize(ours), normalize(go_response_b));
  // The parent id is the request's, verbatim.
  EXPECT_NE(ours.find(R"("parent_msg_id":"5f20e3fe-204a-40d7-b44a-3238bef35f4c")"),
            std::string::npos);
}

TEST(Handshake, ResponsesMatchEveryGoCaptureOfTheExchange) {
  for (const auto go : {go_response_a, go_response_b, go_response_e}) {
    const message go_reply = decoded(go);
    // The request Go answered: its id is the reply's parent id.
    message request = make_handshake_request("remotemod");
    request.header.id = go_reply.header.parent_id;
    const message ours = make_handshake_response(
        request, module_exchange_json(go_server_members(true), "sockserver", {"remotemod"}));
    EXPECT_EQ(normalize(encoded(ours)), normalize(go));
  }
}

TEST(Handshake, AServerThatOnlyListensStillListsItsOwnSocketModule) {
  // No module `sockserver` in the context (listen() without add_module): Go lists it anyway,
  // as a module and as a group of its own name.
  const std::string ex =
      module_exchange_json(go_server_members(false), "sockserver", {"remotemod"});
  EXPECT_EQ(ex, go_exchange);
  const message reply = make_handshake_response(decoded(go_request), ex);
  EXPECT_EQ(normalize(encoded(reply)), normalize(go_response_b));
}

TEST(Handshake, ExchangeListsLiveModulesOnlyAndLeavesPeersOut) {
  membership m;
  m.modules.push_back({"a<b", "channel", true});  // escaped as Go escapes strings
  m.modules.push_back({"gone", "channel", false});
  m.modules.push_back({"peer1", "unixpacket", true});
  m.modules.push_back({"peer2", "unixpacket", true});
  m.modules.push_back({"srv", "unixpacket", true});
  m.groups["mixed"] = {"a<b", "gone", "peer1"};
  m.groups["peers"] = {"peer1", "peer2"};  // every member left out: the group goes too
  m.groups["srvgroup"] = {"srv"};          // the server module keeps the group it is in
  EXPECT_EQ(module_exchange_json(m, "srv", {"peer1", "peer2"}),
            R"({"modules":["a\u003cb","srv"],"groups":{"mixed":["a\u003cb"],"srv":["srv"],)"
            R"("srvgroup":["srv"]}})");
  EXPECT_EQ(module_exchange_json(membership{}, "sockserver", {}),
            R"({"modules":["sockserver"],"groups":{"sockserver":["sockserver"]}})");
  // Without a server module name (no server entry): only what the context has.
  EXPECT_EQ(module_exchange_json(membership{}, "", {}), R"({"modules":[],"groups":{}})");
}

TEST(Handshake, RefusalAnswersTheRequestWithAnError) {
  const message refusal = make_handshake_refusal(decoded(go_request), handshake_result::not_listed);
  EXPECT_EQ(normalize(encoded(refusal)),
            R"({"header":{"msg_id":"ID","parent_msg_id":"5f20e3fe-204a-40d7-b44a-3238bef35f4c",)"
            R"("timestamp":0,"type":"unixpacket"},"route":{"destination":"remotemod",)"
            R"("operation":"error","resource":"module"},)"
            R"("content":"module is not listed as a client in the socket config"})");
  // Our client reads it as a refusal, with the reason.
  const auto r = read_handshake_response(decoded(encoded(refusal)), "remotemod");
  EXPECT_EQ(r.result, response_result::refused);
  EXPECT_EQ(r.reason, describe(handshake_result::not_listed));
}

// ---- the client reads the answer --------------------------------------------------------------

TEST(Handshake, TheGoServersResponsesReadAsModulesAndGroups) {
  for (const auto go : {go_response_a, go_response_b, go_response_e}) {
    const auto r = read_handshake_response(decoded(go), "remotemod");
    ASSERT_EQ(r.result, response_result::accepted) << r.reason;
    EXPECT_EQ(r.exchange.modules, (std::vector<std::string>{"sockserver", "srvmod"}));
    EXPECT_EQ(r.exchange.groups_of("srvmod"), (std::vector<std::string>{"srvgroup"}));
    EXPECT_EQ(r.exchange.groups_of("sockserver"), (std::vector<std::string>{"sockserver"}));
    EXPECT_TRUE(r.exchange.groups_of("remotemod").empty());
  }
}

TEST(Handshake, TheClientSkipsItsOwnNameAsGoDoes) {
  const auto r = read_handshake_response(decoded(go_response_b), "srvmod");
  ASSERT_EQ(r.result, response_result::accepted);
  EXPECT_EQ(r.exchange.modules, (std::vector<std::string>{"sockserver"}));
  EXPECT_EQ(r.exchange.groups.size(), 2U);  // groups are kept, as Go keeps them
}

message answer_with(std::string_view content_json) {
  message request = make_handshake_request("remotemod");
  auto c = content::from_json_text(std::string(content_json));
  EXPECT_TRUE(c) << content_json;
  return new_resp_by_message(request, c ? std::move(*c) : content());
}

TEST(Handshake, ResponsesReadAsGoUnmarshalsThem) {
  struct ok_case {
    std::string_view json;
    std::vector<std::string> modules;
    std::vector<std::string> g_members;  // members of group "g"
  };
  const std::vector<ok_case> ok = {
      {R"({})", {}, {}},
      {R"({"modules":null,"groups":null})", {}, {}},
      {R"({"modules":["a"],"groups":{"g":null}})", {"a"}, {}},
      {R"({"Modules":["a"],"GROUPS":{"g":["a"]}})", {"a"}, {"a"}},  // keys fold case
      {R"({"modules":["a"],"modules":["b"],"groups":{"g":["b"]}})", {"b"}, {"b"}},  // last wins
      {R"({"modules":["a","a","b"],"other":1,"groups":{"g":["a"]}})", {"a", "b"}, {"a"}},
  };
  for (const auto& c : ok) {
    const auto r = read_handshake_response(answer_with(c.json), "self");
    ASSERT_EQ(r.result, response_result::accepted) << c.json << ": " << r.reason;
    EXPECT_EQ(r.exchange.modules, c.modules) << c.json;
    auto g = r.exchange.groups.find("g");
    EXPECT_EQ(g == r.exchange.groups.end() ? std::vector<std::string>{} : g->second, c.g_members)
        << c.json;
  }
  const std::vector<std::string_view> malformed = {
      R"("a string")",
      R"([])",
      R"(null)",
      R"({"modules":"a"})",
      R"({"modules":[1]})",
      R"({"modules":[null]})",
      R"({"modules":[""]})",
      R"({"groups":[]})",
      R"({"groups":{"g":"a"}})",
      R"({"groups":{"g":[2]}})",
      R"({"groups":{"":["a"]}})",
  };
  for (const auto json : malformed) {
    const auto r = read_handshake_response(answer_with(json), "self");
    EXPECT_EQ(r.result, response_result::malformed) << json;
    EXPECT_FALSE(r.reason.empty()) << json;
    EXPECT_TRUE(r.exchange.modules.empty()) << json;
  }
  // Null content (Go's nil) is malformed too.
  EXPECT_EQ(
      read_handshake_response(new_resp_by_message(make_handshake_request("x"), content()), "self")
          .result,
      response_result::malformed);
}

TEST(Handshake, AnExchangeBuiltHereReadsBackThere) {
  membership m = go_server_members(false);
  m.modules.push_back({"srvmod2", "channel", true});
  m.groups["srvgroup"].push_back("srvmod2");
  const message reply = make_handshake_response(
      make_handshake_request("remotemod"), module_exchange_json(m, "sockserver", {"remotemod"}));
  // Across the wire: encoded, decoded (raw JSON content), read.
  const auto r = read_handshake_response(decoded(encoded(reply)), "remotemod");
  ASSERT_EQ(r.result, response_result::accepted) << r.reason;
  EXPECT_EQ(r.exchange.modules, (std::vector<std::string>{"sockserver", "srvmod", "srvmod2"}));
  EXPECT_EQ(r.exchange.groups.at("srvgroup"), (std::vector<std::string>{"srvmod", "srvmod2"}));
  EXPECT_EQ(r.exchange.groups.count("remotemod"), 0U);
  // Unencoded too (content that is not raw JSON).
  const auto direct =
      read_handshake_response(new_resp_by_message(make_handshake_request("remotemod"),
                                                  content(nlohmann::json{{"modules", {"x"}}})),
                              "remotemod");
  ASSERT_EQ(direct.result, response_result::accepted) << direct.reason;
  EXPECT_EQ(direct.exchange.modules, (std::vector<std::string>{"x"}));
}

// ---- the steps ---------------------------------------------------------------------------------

TEST(Handshake, RecordsAreClassifiedByStep) {
  EXPECT_EQ(initial_handshake_step(true), handshake_step::awaiting_request);
  EXPECT_EQ(initial_handshake_step(false), handshake_step::awaiting_response);

  const message request = decoded(go_request);
  const message answer = decoded(go_response_b);
  const std::string id(request.header.id);
  // Server: whatever comes first is the handshake to check.
  EXPECT_EQ(classify_record(handshake_step::awaiting_request, answer, ""),
            record_role::handshake_request);
  // Client: only the record answering our request is the response; others are routed.
  EXPECT_EQ(classify_record(handshake_step::awaiting_response, answer, id),
            record_role::handshake_response);
  EXPECT_EQ(classify_record(handshake_step::awaiting_response, answer, "other-id"),
            record_role::ordinary);
  EXPECT_EQ(classify_record(handshake_step::awaiting_response, request, ""),
            record_role::ordinary);  // no parent, no id: never the answer
  EXPECT_EQ(classify_record(handshake_step::established, answer, id), record_role::ordinary);
}

TEST(Handshake, ARecordWithAParentIsAReplyOnlyWhenAwaitedOrShapedAsOne) {
  // Capture B, go-client: special 4, a Send whose message has a parent id. Go delivers it to
  // srvmod; it is nobody's reply.
  const message special_4 =
      decoded(R"({"header":{"msg_id":"00000000-0000-4000-8000-000000000004",)"
              R"("parent_msg_id":"11111111-1111-4111-8111-111111111111","timestamp":1700000000004,)"
              R"("resourceversion":"12345","type":"unixpacket"},"route":{"source":"remotemod",)"
              R"("destination":"srvmod","group":"grp","operation":"op-4","resource":"special"},)"
              R"("content":"with-optional-fields"})");
  EXPECT_FALSE(is_reply_record(special_4, false));
  EXPECT_TRUE(is_reply_record(special_4, true));
  // Capture B, go-server: a reply. Late (nobody waits), it is still a reply: an orphan.
  const message reply =
      decoded(R"({"header":{"msg_id":"8cc49100-3070-4416-b635-f56ec80c440b",)"
              R"("parent_msg_id":"f3710a59-97cc-46bd-98bc-d89a195db318","timestamp":1796098587050,)"
              R"("type":"unixpacket"},"route":{"source":"remotemod","destination":"remotemod",)"
              R"("operation":"response","resource":"resource"},"content":"pong-from-go"})");
  EXPECT_TRUE(is_reply_record(reply, false));
  message error = new_error_message(decoded(go_request), "refused");
  EXPECT_TRUE(is_reply_record(error, false));
  // No parent: never a reply.
  message plain = new_message().build_router("srvmod", "", "res", std::string(response_operation));
  EXPECT_FALSE(is_reply_record(plain, true));
}

}  // namespace
}  // namespace beehive::detail
