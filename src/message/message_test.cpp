// SPDX-License-Identifier: Apache-2.0
#include "beehive/message.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "allocation_counter.hpp"
#include "beehive/codec.hpp"

namespace {

using beehive::content;
using beehive::message;
using beehive::test::allocations_in;

bool is_uuid_v4(std::string_view s) {
  static const std::regex re(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return std::regex_match(s.begin(), s.end(), re);
}

struct pod {
  std::string name;
};

TEST(Message, NewUuidIsLowerCaseVersion4WithRfcVariant) {
  for (int i = 0; i < 1000; ++i) {
    const auto id = beehive::new_uuid();
    ASSERT_TRUE(is_uuid_v4(id)) << id;
  }
}

TEST(Message, NewUuidDoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(seen.insert(beehive::new_uuid()).second);
}

TEST(Message, NewUuidDiffersAcrossThreads) {
  // Each thread seeds its own generator; two threads must not produce the same sequence.
  std::vector<std::string> a, b;
  std::thread ta([&] {
    for (int i = 0; i < 500; ++i) a.push_back(beehive::new_uuid());
  });
  std::thread tb([&] {
    for (int i = 0; i < 500; ++i) b.push_back(beehive::new_uuid());
  });
  ta.join();
  tb.join();
  std::set<std::string> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 1000U);
}

TEST(Message, NowUnixMsFollowsTheSystemClock) {
  using namespace std::chrono;
  const auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  const auto now = beehive::now_unix_ms();
  const auto after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
}

TEST(Message, NewMessageHasFreshIdParentAndTimestamp) {
  const auto before = beehive::now_unix_ms();
  const message m = beehive::new_message("parent-1");
  const auto after = beehive::now_unix_ms();
  EXPECT_TRUE(is_uuid_v4(m.header.id));
  EXPECT_EQ(m.header.parent_id, "parent-1");
  EXPECT_GE(m.header.timestamp, before);
  EXPECT_LE(m.header.timestamp, after);
  EXPECT_EQ(m.route, beehive::message_route{});
  EXPECT_TRUE(m.content.is_null());
  EXPECT_FALSE(m.is_empty());
  EXPECT_NE(beehive::new_message().header.id, m.header.id);
  EXPECT_EQ(beehive::new_message().header.parent_id, "");
}

TEST(Message, NewRawMessageIsEmpty) {
  const message m = beehive::new_raw_message();
  EXPECT_TRUE(m.is_empty());
  EXPECT_EQ(m.header.timestamp, 0);
  EXPECT_EQ(m.header.id, "");
}

TEST(Message, IsEmptyIsFalseWhenAnyPartIsSet) {
  EXPECT_FALSE(beehive::new_raw_message().set_destination("x").is_empty());
  EXPECT_FALSE(beehive::new_raw_message().fill_body("").is_empty());
  message m;
  m.header.sync = true;
  EXPECT_FALSE(m.is_empty());
  message t;
  t.header.timestamp = 1;
  EXPECT_FALSE(t.is_empty());
}

TEST(Message, SettersChainAndSetTheirFields) {
  message m;
  message& r = m.build_router("edged", "meta", "pod", "insert")
                   .build_header("id-1", "pid-1", 42)
                   .set_type("unixpacket")
                   .set_destination("metamanager")
                   .set_resource_version("7")
                   .fill_body("body");
  EXPECT_EQ(&r, &m);
  EXPECT_EQ(m.route.source, "edged");
  EXPECT_EQ(m.route.group, "meta");
  EXPECT_EQ(m.route.resource, "pod");
  EXPECT_EQ(m.route.operation, "insert");
  EXPECT_EQ(m.route.destination, "metamanager");
  EXPECT_EQ(m.header.id, "id-1");
  EXPECT_EQ(m.header.parent_id, "pid-1");
  EXPECT_EQ(m.header.timestamp, 42);
  EXPECT_EQ(m.header.type, "unixpacket");
  EXPECT_EQ(m.header.resource_version, "7");
  ASSERT_NE(m.content.if_string(), nullptr);
  EXPECT_EQ(*m.content.if_string(), "body");

  m.set_route("src2", "group2").set_resource_operation("node", "update");
  EXPECT_EQ(m.route.source, "src2");
  EXPECT_EQ(m.route.group, "group2");
  EXPECT_EQ(m.route.resource, "node");
  EXPECT_EQ(m.route.operation, "update");
  EXPECT_EQ(m.route.destination, "metamanager");
}

TEST(Message, UpdateIdChangesOnlyTheId) {
  message m = beehive::new_message("p").build_router("a", "b", "c", "d");
  const message before = m;
  m.update_id();
  EXPECT_TRUE(is_uuid_v4(m.header.id));
  EXPECT_NE(m.header.id, before.header.id);
  m.header.id = before.header.id;
  EXPECT_EQ(m.header, before.header);
  EXPECT_EQ(m.route, before.route);
}

TEST(Message, CloneHasNewIdAndSharesContent) {
  message m = beehive::new_message("p")
                  .build_router("a", "b", "c", "d")
                  .set_destination("e")
                  .set_type("t")
                  .set_resource_version("9")
                  .fill_body(content::from_object(pod{"nginx"}));
  m.header.sync = true;
  const message c = m.clone();
  EXPECT_NE(c.header.id, m.header.id);
  EXPECT_TRUE(is_uuid_v4(c.header.id));
  EXPECT_EQ(c.route, m.route);
  EXPECT_EQ(c.header.parent_id, "p");
  EXPECT_EQ(c.header.timestamp, m.header.timestamp);
  EXPECT_EQ(c.header.type, "t");
  EXPECT_EQ(c.header.resource_version, "9");
  EXPECT_TRUE(c.header.sync);
  EXPECT_TRUE(c.content.shares_payload_with(m.content));
}

TEST(Message, NewRespByMessageAnswersTheRequest) {
  message req = beehive::new_message()
                    .build_router("edged", "meta", "pod/1", "query")
                    .set_destination("metamanager")
                    .set_type("unixpacket");
  const auto before = beehive::now_unix_ms();
  const message resp = beehive::new_resp_by_message(req, "pong");
  EXPECT_TRUE(is_uuid_v4(resp.header.id));
  EXPECT_NE(resp.header.id, req.header.id);
  EXPECT_EQ(resp.header.parent_id, req.header.id);
  EXPECT_GE(resp.header.timestamp, before);
  EXPECT_EQ(resp.route.source, "edged");
  EXPECT_EQ(resp.route.group, "meta");
  EXPECT_EQ(resp.route.resource, "pod/1");
  EXPECT_EQ(resp.route.operation, beehive::response_operation);
  EXPECT_EQ(resp.route.destination, "");
  EXPECT_EQ(resp.header.type, "unixpacket");
  EXPECT_FALSE(resp.header.sync);
  EXPECT_EQ(resp.content.to_string().value(), "pong");
}

TEST(Message, NewErrorMessageCarriesTheErrorText) {
  message req =
      beehive::new_message().build_router("edged", "meta", "pod/1", "query").set_type("unixpacket");
  const message err = beehive::new_error_message(req, "not found");
  EXPECT_TRUE(is_uuid_v4(err.header.id));
  EXPECT_EQ(err.header.parent_id, req.header.id);
  EXPECT_EQ(err.route.resource, "pod/1");
  EXPECT_EQ(err.route.operation, "error");
  EXPECT_EQ(err.header.type, "unixpacket");
  EXPECT_EQ(err.content.to_string().value(), "not found");
}

TEST(Message, ToStringHasGosForm) {
  message m;
  m.build_header("id", "pid", 1).build_router("src", "grp", "res", "op").set_destination("dst");
  EXPECT_EQ(m.to_string(),
            "MessageID: id ParentID: pid Group: grp Source: src Destination: dst Resource: res "
            "Operation: op");
  EXPECT_EQ(message{}.to_string(),
            "MessageID:  ParentID:  Group:  Source:  Destination:  Resource:  Operation: ");
}

TEST(Message, ContentDataOfBytesIsTheBytes) {
  message m;
  m.fill_body(beehive::bytes{0x00, 0xff, 'a'});
  EXPECT_EQ(m.content_data().value(), std::string("\0\xff"
                                                  "a",
                                                  3));
}

TEST(Message, ContentDataOfStringIsItsBytes) {
  EXPECT_EQ(message{}.fill_body("hello").content_data().value(), "hello");
  EXPECT_EQ(message{}.fill_body(nlohmann::json("hi")).content_data().value(), "hi");
  // After a socket hop a string is raw JSON text; it is still the same string.
  EXPECT_EQ(
      message{}.fill_body(content::from_trusted_json_text(R"("a\"b")")).content_data().value(),
      "a\"b");
}

TEST(Message, ContentDataOfAnythingElseIsJsonText) {
  EXPECT_EQ(message{}.fill_body(nlohmann::json{{"b", 1}, {"a", "<"}}).content_data().value(),
            R"({"a":"\u003c","b":1})");
  EXPECT_EQ(message{}.content_data().value(), "null");
  EXPECT_EQ(message{}.fill_body(content::from_trusted_json_text("[1, 2]")).content_data().value(),
            "[1, 2]");
}

TEST(Message, ContentDataOfObjectWithoutJsonFormFails) {
  auto r = message{}.fill_body(content::from_object(pod{"x"})).content_data();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), beehive::errc::not_serializable);
}

TEST(Message, SettersTakeTheStringViewConstants) {
  message m;
  m.set_resource_operation(beehive::resource_type_pod, beehive::insert_operation)
      .set_type(beehive::context_type_unixpacket)
      .set_route(std::string("edged"), std::string_view("meta"));
  EXPECT_EQ(m.route.resource, "pod");
  EXPECT_EQ(m.route.operation, beehive::insert_operation);
  EXPECT_EQ(m.header.type, beehive::context_type_unixpacket);
  EXPECT_EQ(m.route.source, "edged");
  EXPECT_EQ(m.route.group, std::string("meta"));
}

TEST(Message, SettersOnATemporaryYieldAnRvalue) {
  static_assert(std::is_same_v<decltype(beehive::new_message().set_type("t")), message&&>);
  static_assert(std::is_same_v<decltype(std::declval<message&>().set_type("t")), message&>);
  // A copy of a message whose resource is on the heap would allocate; the chain moves instead.
  const std::string long_resource(100, 'r');
  const content body("body");
  message received;
  auto sink = [&](message&& m) { received = std::move(m); };
  (void)beehive::new_message();  // the first call on a thread seeds its generator
  const long n = allocations_in([&] {
    sink(beehive::new_message()
             .build_router("edged", "meta", long_resource, "insert")
             .fill_body(body));
  });
  EXPECT_EQ(n, 1);  // the resource's heap buffer, nothing else
  EXPECT_EQ(received.route.resource, long_resource);
  EXPECT_TRUE(received.content.shares_payload_with(body));
}

TEST(Message, IsSmall) {
  static_assert(sizeof(void*) != 8 || sizeof(message) == 272);
  static_assert(decltype(beehive::message_header::id)::inline_capacity >= 36);
  static_assert(std::is_nothrow_move_constructible_v<message>);
  SUCCEED();
}

TEST(Message, BuildingCopyingAndMovingAnOrdinaryMessageAllocatesNothing) {
  const content body = content(nlohmann::json{{"name", "nginx"}});
  (void)beehive::new_message();  // the first call on a thread seeds its generator
  message m;
  message copy;
  message moved;
  const long n = allocations_in([&] {
    m = beehive::new_message("6f1c7f4e-3a0b-4d6e-9b5a-2f8c1d0e7a93")
            .build_router("edged", "meta", beehive::resource_type_pod, beehive::insert_operation)
            .set_destination("metaManager")
            .set_type(beehive::context_type_unixpacket)
            .set_resource_version("123456789")
            .fill_body(body);
    copy = m;
    message constructed(m);
    moved = std::move(constructed);
    m.update_id();
    const message cloned = m.clone();
    (void)cloned;
  });
  EXPECT_EQ(n, 0);
  EXPECT_TRUE(is_uuid_v4(m.header.id));
  EXPECT_EQ(copy.route.destination, "metaManager");
  EXPECT_EQ(moved.header.parent_id, "6f1c7f4e-3a0b-4d6e-9b5a-2f8c1d0e7a93");
  EXPECT_TRUE(copy.content.shares_payload_with(body));
  EXPECT_FALSE(m.header.id.on_heap());
  EXPECT_FALSE(m.header.parent_id.on_heap());
}

TEST(Message, DecodingARecordWithOrdinaryFieldsAllocatesNothing) {
  const std::string record =
      R"({"header":{"msg_id":"6f1c7f4e-3a0b-4d6e-9b5a-2f8c1d0e7a93",)"
      R"("parent_msg_id":"0b9d1c6e-7f2a-4e3b-8c5d-1a2b3c4d5e6f","timestamp":1700000000000,)"
      R"("resourceversion":"42","sync":true,"type":"unixpacket"},"route":{"source":"edged",)"
      R"("destination":"metaManager","group":"meta","operation":"unhold-upgrade",)"
      R"("resource":"default/pod/nginx"},"content":null})";
  beehive::expected<message> m;
  const long n = allocations_in([&] { m = beehive::decode_message(record); });
  ASSERT_TRUE(m);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(m->header.id, "6f1c7f4e-3a0b-4d6e-9b5a-2f8c1d0e7a93");
  EXPECT_EQ(m->route.operation, beehive::unhold_upgrade_operation);
  EXPECT_EQ(m->route.resource, "default/pod/nginx");
}

TEST(Message, LongFieldsFallBackToTheHeap) {
  const std::string long_name(200, 'n');
  message m = beehive::new_message().build_router(long_name, long_name, long_name, long_name);
  const message copy = m;
  EXPECT_EQ(copy.route.source, long_name);
  EXPECT_TRUE(copy.route.resource.on_heap());
  EXPECT_NE(copy.route.source.data(), m.route.source.data());
  EXPECT_EQ(copy.header, m.header);
  EXPECT_EQ(copy.route, m.route);
}

TEST(Message, CopyingAMessageSharesItsContent) {
  message m = beehive::new_message().fill_body(nlohmann::json{{"k", std::string(1000, 'x')}});
  message copy = m;
  EXPECT_TRUE(copy.content.shares_payload_with(m.content));
  message moved = std::move(copy);
  EXPECT_TRUE(moved.content.shares_payload_with(m.content));
}

}  // namespace
