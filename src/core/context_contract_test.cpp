// SPDX-License-Identifier: Apache-2.0
// The send contract of the public calls: a message that was not handed on is left to the
// caller unchanged, on every path; and group sync replies carry the caller's id, as Go's do.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "beehive/context.hpp"
#include "bounded_wait.hpp"
#include "channel_module.hpp"
#include "core/context_state.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::get_bounded;
using test::mod;
using test::watchdog;

// A request as a caller builds it (not sync; an id, a route, a content).
message request() {
  return new_message().build_router("caller", "g", "pod/a", "update").fill_body("payload");
}

// The same request with no id (the calls give it one).
message request_without_id() {
  auto m = request();
  m.header.id.clear();
  return m;
}

void expect_unchanged(const message& before, const message& after) {
  EXPECT_EQ(after.header, before.header);
  EXPECT_EQ(after.route, before.route);
  EXPECT_EQ(after.content_data().value_or("<none>"), before.content_data().value_or("<gone>"));
}

// Adds `name`, capacity 1 with the fail policy, to group "full", and fills it: its inbox and
// the parking room a group copy may use.
void add_full_member(context& ctx, const std::string& name) {
  ASSERT_TRUE(ctx.add_module(mod(name, 1, overflow_policy::fail)));
  ASSERT_TRUE(ctx.send(name, new_message()));
  ASSERT_TRUE(ctx.add_module_group(name, "full"));
  auto parked = ctx.send_to_group("full", new_message());
  ASSERT_TRUE(parked);
  ASSERT_EQ(parked->delivered, 1U);
  auto refused = ctx.send_to_group("full", new_message());
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->delivered, 0U);
}

// A context with one module per way a send fails: "full" (capacity 1, fail policy, full, alone
// in group "full") and "closed" (cleaned up).
struct SendContract : ::testing::Test {
  void SetUp() override {
    add_full_member(ctx, "full");
    ASSERT_TRUE(ctx.add_module(mod("closed")));
    ASSERT_TRUE(ctx.cleanup("closed"));
  }
  context ctx;
};

// Each failing destination, with the error a plain send gets there.
struct failing {
  const char* module;
  errc error;
};
constexpr failing failing_modules[] = {
    {"nobody", errc::module_not_found},
    {"full", errc::queue_full},
    {"closed", errc::channel_closed},
};

TEST_F(SendContract, SendLeavesARefusedMessageUnchanged) {
  for (const auto& f : failing_modules) {
    SCOPED_TRACE(f.module);
    for (auto make : {request, request_without_id}) {
      auto msg = make();
      const auto before = msg;
      auto r = ctx.send(f.module, std::move(msg));
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error(), f.error);
      expect_unchanged(before, msg);
    }
  }
}

TEST_F(SendContract, SendSyncLeavesARefusedRequestUnchangedIdAndSyncIncluded) {
  for (const auto& f : failing_modules) {
    SCOPED_TRACE(f.module);
    for (auto make : {request, request_without_id}) {
      auto msg = make();
      const auto before = msg;
      auto r = ctx.send_sync(f.module, std::move(msg), watchdog);
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error(), f.error);
      expect_unchanged(before, msg);
    }
  }
}

TEST_F(SendContract, SendSyncAfterCancelLeavesTheRequestUnchanged) {
  ASSERT_TRUE(ctx.add_module(mod("open")));
  ctx.cancel();
  auto msg = request_without_id();
  const auto before = msg;
  auto r = ctx.send_sync("open", std::move(msg), watchdog);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::cancelled);
  expect_unchanged(before, msg);
  EXPECT_EQ(ctx.stats("open")->accepted, 0U);
}

TEST_F(SendContract, SendToGroupLeavesTheMessageUnchangedWhenNoMemberTookIt) {
  {
    auto msg = request();
    const auto before = msg;
    EXPECT_EQ(ctx.send_to_group("nogroup", std::move(msg)).error(), errc::group_not_found);
    expect_unchanged(before, msg);
  }
  // A member that refuses (a cleaned-up module leaves its groups, so a full one stands for
  // every refusal here; the refusal paths are the module calls' own).
  auto msg = request();
  const auto before = msg;
  auto r = ctx.send_to_group("full", std::move(msg));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->delivered, 0U);
  ASSERT_EQ(r->failed.size(), 1U);
  EXPECT_EQ(r->failed[0].second, errc::queue_full);
  expect_unchanged(before, msg);
}

TEST_F(SendContract, SendToGroupSyncLeavesTheRequestUnchangedWhenNoMemberTookIt) {
  for (auto make : {request, request_without_id}) {
    {
      auto msg = make();
      const auto before = msg;
      EXPECT_EQ(ctx.send_to_group_sync("nogroup", std::move(msg), watchdog).error(),
                errc::group_not_found);
      expect_unchanged(before, msg);
    }
    auto msg = make();
    const auto before = msg;
    auto r = ctx.send_to_group_sync("full", std::move(msg), watchdog);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->replies.empty());
    ASSERT_EQ(r->failed.size(), 1U);
    EXPECT_EQ(r->failed[0].second, errc::queue_full);
    expect_unchanged(before, msg);
  }
}

TEST_F(SendContract, GroupSyncToSeveralRefusingMembersLeavesTheRequestUnchanged) {
  // Two members that both refuse: the last one (which takes the caller's message itself) gets
  // its own request id; the message comes back with the caller's.
  add_full_member(ctx, "full2");
  for (auto make : {request, request_without_id}) {
    auto msg = make();
    const auto before = msg;
    auto r = ctx.send_to_group_sync("full", std::move(msg), watchdog);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->failed.size(), 2U);
    expect_unchanged(before, msg);
  }
}

// A member whose endpoint closed while it is still listed in the group (a cleanup racing the
// group call, made deterministic by closing the endpoint under the registry).
TEST_F(SendContract, GroupCallsLeaveTheMessageUnchangedWhenTheMemberIsClosed) {
  ASSERT_TRUE(ctx.add_module(mod("shut")));
  ASSERT_TRUE(ctx.add_module_group("shut", "shut"));
  std::vector<message> dropped;
  detail::context_state_of(ctx).reg.find("shut")->close(dropped);
  for (auto make : {request, request_without_id}) {
    auto msg = make();
    const auto before = msg;
    auto d = ctx.send_to_group("shut", std::move(msg));
    ASSERT_TRUE(d);
    ASSERT_EQ(d->failed.size(), 1U);
    EXPECT_EQ(d->failed[0].second, errc::channel_closed);
    expect_unchanged(before, msg);
    auto r = ctx.send_to_group_sync("shut", std::move(msg), watchdog);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->failed.size(), 1U);
    EXPECT_EQ(r->failed[0].second, errc::channel_closed);
    expect_unchanged(before, msg);
  }
}

TEST_F(SendContract, GroupSyncAfterCancelLeavesTheRequestUnchanged) {
  ctx.cancel();
  auto msg = request();
  const auto before = msg;
  EXPECT_EQ(ctx.send_to_group_sync("full", std::move(msg), watchdog).error(), errc::cancelled);
  expect_unchanged(before, msg);
}

TEST_F(SendContract, SendRespLeavesAnOrphanUnchanged) {
  auto resp = new_resp_by_message(request(), "nobody waits");
  const auto before = resp;
  EXPECT_EQ(ctx.send_resp(std::move(resp)).error(), errc::orphan_response);
  expect_unchanged(before, resp);
  resp.header.type = "nosuchtype";
  const auto typed = resp;
  EXPECT_EQ(ctx.send_resp(std::move(resp)).error(), errc::unsupported_type);
  expect_unchanged(typed, resp);
}

// ---- group sync replies -------------------------------------------------------------------

// Members that answer every request, recording the id each saw.
struct answering_members {
  answering_members(context& c, int n) : ctx(c) {
    for (int i = 0; i < n; ++i) {
      names.push_back("m" + std::to_string(i));
      EXPECT_TRUE(ctx.add_module(mod(names.back())));
      EXPECT_TRUE(ctx.add_module_group(names.back(), "g"));
    }
    for (const auto& name : names) {
      seen.push_back(std::async(std::launch::async, [this, name] {
        auto req = ctx.receive_for(name, watchdog);
        if (!req) return std::string("<no request>");
        auto resp = new_resp_by_message(*req, name);
        resp.route.source = name;
        EXPECT_TRUE(ctx.send_resp(std::move(resp)));
        return std::string(req->header.id);
      }));
    }
  }
  // The request id each member saw.
  std::vector<std::string> ids() {
    std::vector<std::string> out;
    for (auto& f : seen) out.push_back(get_bounded(f));
    return out;
  }
  context& ctx;
  std::vector<std::string> names;
  std::vector<std::future<std::string>> seen;
};

TEST(ContextGroupSync, EveryReplyCarriesTheCallersIdAsParentId) {
  context ctx;
  answering_members members(ctx, 6);
  auto msg = request();
  const std::string id(msg.header.id);
  auto r = ctx.send_to_group_sync("g", std::move(msg), watchdog);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->replies.size(), 6U);
  EXPECT_TRUE(r->missing.empty());
  EXPECT_TRUE(r->failed.empty());
  std::set<std::string> sources;
  for (const auto& reply : r->replies) {
    EXPECT_EQ(std::string(reply.header.parent_id), id);
    sources.emplace(reply.route.source);
    // Who answered stays known: by its source and its content.
    EXPECT_EQ(reply.content_data().value_or(""), std::string(reply.route.source));
  }
  EXPECT_EQ(sources.size(), 6U);
  // Each member saw a request id of its own (one is the caller's), so that a reply is
  // attributed by its parent id alone.
  const auto ids = members.ids();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 6U);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), id), 1);
  EXPECT_EQ(ctx.orphan_responses(), 0U);
}

TEST(ContextGroupSync, RepliesToARequestWithoutIdShareOneParentId) {
  context ctx;
  answering_members members(ctx, 3);
  auto r = ctx.send_to_group_sync("g", request_without_id(), watchdog);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->replies.size(), 3U);
  const auto parent = r->replies[0].header.parent_id;
  EXPECT_FALSE(parent.empty());
  for (const auto& reply : r->replies) EXPECT_EQ(reply.header.parent_id, parent);
  (void)members.ids();
}

}  // namespace
}  // namespace beehive
