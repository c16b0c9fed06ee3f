// SPDX-License-Identifier: Apache-2.0
#include "channel/channel_type.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "beehive/context.hpp"
#include "bounded_wait.hpp"
#include "channel/inbox.hpp"
#include "channel_module.hpp"
#include "core/context_state.hpp"

namespace beehive {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::get_bounded;
using test::mod;
using test::watchdog;

message numbered(int n, const std::string& source = "src") {
  auto m = new_message();
  m.route.source = source;
  m.content = content(std::to_string(n));
  return m;
}

int number_of(const message& m) { return std::stoi(*m.content.if_string()); }

TEST(Channel, SendThenReceive) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst")));
  EXPECT_TRUE(ctx.has_module("dst"));
  auto msg = new_message().fill_body("hello");
  const auto id = msg.header.id;
  ASSERT_TRUE(ctx.send("dst", msg));
  auto got = ctx.receive("dst");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->header.id, id);
  EXPECT_TRUE(got->content.shares_payload_with(msg.content));  // no deep copy
  auto st = ctx.stats("dst");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->accepted, 1U);
  EXPECT_EQ(st->received, 1U);
  EXPECT_EQ(st->capacity, 1024U);
}

TEST(Channel, UnknownModuleIsReported) {
  context ctx;
  EXPECT_EQ(ctx.send("nobody", new_message()).error(), errc::module_not_found);
  EXPECT_EQ(ctx.receive("nobody").error(), errc::module_not_found);
  EXPECT_EQ(ctx.receive_for("nobody", 1ms).error(), errc::module_not_found);
  EXPECT_EQ(ctx.send_sync("nobody", new_message(), 1s).error(), errc::module_not_found);
  EXPECT_EQ(ctx.cleanup("nobody").error(), errc::module_not_found);
  EXPECT_EQ(ctx.stats("nobody").error(), errc::module_not_found);
  EXPECT_EQ(ctx.add_module_group("nobody", "g").error(), errc::module_not_found);
  EXPECT_FALSE(ctx.has_module("nobody"));
}

TEST(Channel, InvalidModuleInfoIsRefused) {
  context ctx;
  EXPECT_EQ(ctx.add_module(mod("")).error(), errc::invalid_argument);
  EXPECT_EQ(ctx.add_module(mod("zero", 0)).error(), errc::invalid_argument);
}

TEST(Channel, AddingALiveModuleTwiceIsRefused) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst")));
  EXPECT_EQ(ctx.add_module(mod("dst")).error(), errc::already_exists);
}

TEST(Channel, SendAndReceiveAfterCleanupReportChannelClosed) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst")));
  ASSERT_TRUE(ctx.send("dst", numbered(1)));
  ASSERT_TRUE(ctx.send("dst", numbered(2)));
  ASSERT_TRUE(ctx.cleanup("dst"));
  EXPECT_FALSE(ctx.has_module("dst"));
  EXPECT_EQ(ctx.send("dst", numbered(3)).error(), errc::channel_closed);
  // close_mode::drain: the queued messages still come, then channel_closed.
  EXPECT_EQ(number_of(*ctx.receive("dst")), 1);
  EXPECT_EQ(number_of(*ctx.receive("dst")), 2);
  EXPECT_EQ(ctx.receive("dst").error(), errc::channel_closed);
  EXPECT_EQ(ctx.stats("dst")->dropped_on_close, 0U);
  EXPECT_TRUE(ctx.stats("dst")->closed);
}

TEST(Channel, CleanupInDropModeDropsAndCounts) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst", 8, overflow_policy::block, close_mode::drop)));
  ASSERT_TRUE(ctx.send("dst", numbered(1)));
  ASSERT_TRUE(ctx.send("dst", numbered(2)));
  ASSERT_TRUE(ctx.cleanup("dst"));
  EXPECT_EQ(ctx.receive("dst").error(), errc::channel_closed);
  EXPECT_EQ(ctx.stats("dst")->dropped_on_close, 2U);
}

// Sends a message to `to` when destroyed.
struct send_on_destroy {
  send_on_destroy(context* c, std::string t) : ctx(c), to(std::move(t)) {}
  send_on_destroy(const send_on_destroy&) = delete;
  send_on_destroy& operator=(const send_on_destroy&) = delete;
  ~send_on_destroy() { (void)ctx->send(to, new_message()); }
  context* ctx;
  std::string to;
};

TEST(Channel, DroppedContentMayCallTheContextFromItsDestructor) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst", 8, overflow_policy::block, close_mode::drop)));
  ASSERT_TRUE(ctx.add_module(mod("other")));
  auto cleaner = std::async(std::launch::async, [&] {
    auto m = new_message();
    m.content = content::make_object<send_on_destroy>(&ctx, "other");
    if (!ctx.send("dst", std::move(m))) return false;
    return ctx.cleanup("dst").has_value();  // drops the message: its destructor sends
  });
  ASSERT_TRUE(get_bounded(cleaner));
  EXPECT_EQ(ctx.stats("dst")->dropped_on_close, 1U);
  EXPECT_EQ(ctx.stats("other")->accepted, 1U);
}

TEST(Channel, ReAddingACleanedUpModuleKeepsItsQueueAndCounters) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst")));
  ASSERT_TRUE(ctx.send("dst", numbered(1)));  // queued when the module is cleaned up (drain)
  ASSERT_TRUE(ctx.cleanup("dst"));
  EXPECT_EQ(ctx.send("dst", numbered(2)).error(), errc::channel_closed);
  ASSERT_TRUE(ctx.add_module(mod("dst", 4)));
  EXPECT_TRUE(ctx.has_module("dst"));
  ASSERT_TRUE(ctx.send("dst", numbered(3)));
  // The new incarnation gets what the old one still held, first.
  auto first = ctx.receive("dst");
  ASSERT_TRUE(first);
  EXPECT_EQ(number_of(*first), 1);
  auto second = ctx.receive("dst");
  ASSERT_TRUE(second);
  EXPECT_EQ(number_of(*second), 3);
  auto st = ctx.stats("dst");
  EXPECT_EQ(st->capacity, 4U);
  EXPECT_EQ(st->accepted, 2U);  // counters carry on
  EXPECT_EQ(st->received, 2U);
  EXPECT_FALSE(st->closed);
}

TEST(Channel, ReAddingADropModeModuleCountsWhatCleanupDropped) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst", 8, overflow_policy::block, close_mode::drop)));
  ASSERT_TRUE(ctx.send("dst", numbered(1)));
  ASSERT_TRUE(ctx.send("dst", numbered(2)));
  ASSERT_TRUE(ctx.cleanup("dst"));
  ASSERT_TRUE(ctx.add_module(mod("dst", 8, overflow_policy::block, close_mode::drop)));
  auto st = ctx.stats("dst");
  EXPECT_EQ(st->accepted, 2U);
  EXPECT_EQ(st->dropped_on_close, 2U);
  EXPECT_EQ(st->queued, 0U);
}

// Waits until `n` threads sleep in the inbox of `module` (a condition, polled; no sleep).
void await_sleepers(context& ctx, std::string_view module, std::size_t n, bool senders) {
  auto ep = detail::context_state_of(ctx).reg.find(module);
  ASSERT_TRUE(ep && ep->local());
  const auto asleep = [&] {
    return (senders ? ep->local()->waiting_senders() : ep->local()->waiting_receivers()) >= n;
  };
  ASSERT_TRUE(eventually(asleep)) << "nobody blocked in " << module;
}

TEST(Channel, CleanupWakesABlockedReceiver) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst")));
  auto receiver = std::async(std::launch::async, [&] { return ctx.receive("dst"); });
  await_sleepers(ctx, "dst", 1, false);  // the receiver is asleep in the inbox, not before it
  ASSERT_TRUE(ctx.cleanup("dst"));
  auto r = get_bounded(receiver);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::channel_closed);
}

TEST(Channel, CleanupWakesABlockedSender) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst", 1)));
  ASSERT_TRUE(ctx.send("dst", numbered(1)));
  auto sender = std::async(std::launch::async, [&] {
    return ctx.send("dst", numbered(2));  // full, block policy without bound
  });
  await_sleepers(ctx, "dst", 1, true);
  ASSERT_TRUE(ctx.cleanup("dst"));
  auto r = get_bounded(sender);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::channel_closed);
}

TEST(Channel, FailPolicyReturnsQueueFull) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst", 1, overflow_policy::fail)));
  ASSERT_TRUE(ctx.send("dst", numbered(1)));
  EXPECT_EQ(ctx.send("dst", numbered(2)).error(), errc::queue_full);
  EXPECT_EQ(ctx.stats("dst")->rejected_full, 1U);
}

TEST(Channel, BlockPolicyWithTimeoutReturnsTimedOut) {
  context ctx;
  auto info = mod("dst", 1);
  info.inbox.block_timeout = 2ms;
  ASSERT_TRUE(ctx.add_module(info));
  ASSERT_TRUE(ctx.send("dst", numbered(1)));
  EXPECT_EQ(ctx.send("dst", numbered(2)).error(), errc::timed_out);
  EXPECT_EQ(ctx.stats("dst")->rejected_full, 1U);
}

TEST(Channel, DropOldestEvictsAndCounts) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst", 2, overflow_policy::drop_oldest)));
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(ctx.send("dst", numbered(i)));
  EXPECT_EQ(ctx.stats("dst")->dropped_oldest, 1U);
  EXPECT_EQ(number_of(*ctx.receive("dst")), 2);
  EXPECT_EQ(number_of(*ctx.receive("dst")), 3);
}

TEST(Channel, ReceiveForTimesOut) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst")));
  auto r = ctx.receive_for("dst", 2ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
}

TEST(Channel, FourProducersKeepTheirOrder) {
  constexpr int producers = 4;
  constexpr int per_producer = 20000;
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst", 64)));
  std::vector<std::future<bool>> senders;
  for (int p = 0; p < producers; ++p) {
    senders.push_back(std::async(std::launch::async, [&ctx, p] {
      for (int i = 0; i < per_producer; ++i) {
        if (!ctx.send("dst", numbered(i, std::to_string(p)))) return false;
      }
      return true;
    }));
  }
  std::vector<int> next(producers, 0);
  for (int n = 0; n < producers * per_producer; ++n) {
    auto m = ctx.receive_for("dst", watchdog);
    ASSERT_TRUE(m);
    auto& expected_next = next[static_cast<std::size_t>(std::stoi(m->route.source.str()))];
    ASSERT_EQ(number_of(*m), expected_next) << "from " << m->route.source;
    ++expected_next;
  }
  for (auto& s : senders) EXPECT_TRUE(get_bounded(s));
}

TEST(Channel, SendSyncGetsTheReply) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst")));
  auto responder = std::async(std::launch::async, [&] {
    auto req = ctx.receive_for("dst", watchdog);
    if (!req) return req.error();
    EXPECT_TRUE(req->header.sync);
    auto r = ctx.send_resp(new_resp_by_message(*req, "pong"));
    return r ? std::error_code{} : r.error();
  });
  auto req = new_message().fill_body("ping");
  const auto id = req.header.id;
  auto reply = ctx.send_sync("dst", req, watchdog);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->header.parent_id, id);
  EXPECT_EQ(*reply->content.if_string(), "pong");
  EXPECT_FALSE(get_bounded(responder));
  EXPECT_EQ(ctx.orphan_responses(), 0U);
}

// Destroyed inside the requester's `send` (evicted from a drop_oldest inbox), it replies to
// the request from there: the reply arrives before the requester starts to wait.
struct reply_on_destroy {
  reply_on_destroy(context* c, std::string p, bool* d)
      : ctx(c), parent(std::move(p)), delivered(d) {}
  reply_on_destroy(const reply_on_destroy&) = delete;
  reply_on_destroy& operator=(const reply_on_destroy&) = delete;
  ~reply_on_destroy() {
    *delivered = ctx->send_resp(new_message(parent).fill_body("early")).has_value();
  }
  context* ctx;
  std::string parent;
  bool* delivered;
};

TEST(Channel, ReplyArrivingBeforeTheRequesterWaitsIsNotLost) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst", 1, overflow_policy::drop_oldest)));
  auto req = new_message();
  bool replied_from_inside_send = false;
  {
    auto filler = new_message();
    filler.content = content::make_object<reply_on_destroy>(&ctx, req.header.id.str(),
                                                            &replied_from_inside_send);
    ASSERT_TRUE(ctx.send("dst", std::move(filler)));
  }
  ASSERT_FALSE(replied_from_inside_send);
  auto reply = ctx.send_sync("dst", req, 5s);
  EXPECT_TRUE(replied_from_inside_send);  // the reply really came during send, and was taken
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply->content.if_string(), "early");
  EXPECT_EQ(ctx.orphan_responses(), 0U);
}

TEST(Channel, SendSyncTimesOut) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst")));
  auto r = ctx.send_sync("dst", new_message(), 2ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  // The request was delivered, marked sync.
  auto req = ctx.receive_for("dst", watchdog);
  ASSERT_TRUE(req);
  EXPECT_TRUE(req->header.sync);
  // Its late reply is an orphan now, and counted.
  EXPECT_EQ(ctx.send_resp(new_resp_by_message(*req, "late")).error(), errc::orphan_response);
  EXPECT_EQ(ctx.orphan_responses(), 1U);
}

TEST(Channel, SendSyncReportsAFailedSend) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("dst", 1, overflow_policy::fail)));
  ASSERT_TRUE(ctx.send("dst", numbered(1)));
  EXPECT_EQ(ctx.send_sync("dst", new_message(), watchdog).error(), errc::queue_full);
}

TEST(Channel, OrphanResponsesAreCounted) {
  context ctx;
  auto r = ctx.send_resp(new_message("no-such-request"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::orphan_response);
  EXPECT_EQ(ctx.orphan_responses(), 1U);
}

TEST(Channel, UnknownOrEmptyGroupIsReported) {
  context ctx;
  EXPECT_EQ(ctx.send_to_group("nobody", new_message()).error(), errc::group_not_found);
  EXPECT_EQ(ctx.send_to_group_sync("nobody", new_message(), 1ms).error(), errc::group_not_found);
  ASSERT_TRUE(ctx.add_module(mod("a")));
  ASSERT_TRUE(ctx.add_module_group("a", "g"));
  ASSERT_TRUE(ctx.send_to_group("g", new_message()));
  ASSERT_TRUE(ctx.cleanup("a"));  // the group's only member leaves it
  EXPECT_EQ(ctx.send_to_group("g", new_message()).error(), errc::group_not_found);
}

TEST(Channel, GroupDeliveryKeepsPerMemberOrderAndSharesContent) {
  context ctx;
  for (const char* m : {"a", "b", "c"}) {
    ASSERT_TRUE(ctx.add_module(mod(m)));
    ASSERT_TRUE(ctx.add_module_group(m, "g"));
  }
  ASSERT_TRUE(ctx.add_module_group("a", "g"));  // adding twice changes nothing
  auto first = numbered(0);
  for (int i = 0; i < 100; ++i) {
    auto d = ctx.send_to_group("g", i == 0 ? first : numbered(i));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->delivered, 3U);
    EXPECT_TRUE(d->failed.empty());
  }
  for (const char* m : {"a", "b", "c"}) {
    for (int i = 0; i < 100; ++i) {
      auto got = ctx.receive(m);
      ASSERT_TRUE(got);
      ASSERT_EQ(number_of(*got), i) << m;
      if (i == 0) {
        EXPECT_TRUE(got->content.shares_payload_with(first.content));
      }
    }
  }
}

TEST(Channel, SlowGroupMemberDoesNotDelayTheOthers) {
  context ctx;
  constexpr int broadcasts = 6;                 // + 1 direct send: 4 queued and 3 parked in "slow"
  ASSERT_TRUE(ctx.add_module(mod("slow", 4)));  // nobody receives for it until the end
  ASSERT_TRUE(ctx.add_module(mod("fast", 4)));
  ASSERT_TRUE(ctx.add_module_group("slow", "g"));
  ASSERT_TRUE(ctx.add_module_group("fast", "g"));
  // The fast member consumes concurrently; the sender must never wait for the slow one, whose
  // inbox fills after 4 messages (the rest park).
  auto fast = std::async(std::launch::async, [&] {
    std::vector<int> got;
    for (int i = 0; i < broadcasts + 1; ++i) {
      auto m = ctx.receive_for("fast", watchdog);
      if (!m) break;
      got.push_back(number_of(*m));
    }
    return got;
  });
  auto sender = std::async(std::launch::async, [&] {
    for (int i = 0; i < broadcasts; ++i) {
      auto d = ctx.send_to_group("g", numbered(i));
      if (!d || d->delivered != 2) return false;
    }
    // A direct send from the same sender queues behind the parked group messages.
    return ctx.send("slow", numbered(broadcasts)).has_value() &&
           ctx.send("fast", numbered(broadcasts)).has_value();
  });
  ASSERT_TRUE(get_bounded(sender));
  std::vector<int> want(broadcasts + 1);
  for (int i = 0; i <= broadcasts; ++i) want[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(get_bounded(fast), want);
  EXPECT_EQ(ctx.stats("slow")->queued, static_cast<std::size_t>(broadcasts + 1));
  std::vector<int> slow;
  for (int i = 0; i <= broadcasts; ++i) slow.push_back(number_of(*ctx.receive("slow")));
  EXPECT_EQ(slow, want);
}

TEST(Channel, GroupDeliveryListsRefusingMembers) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("full", 1, overflow_policy::fail)));
  ASSERT_TRUE(ctx.add_module(mod("ok")));
  ASSERT_TRUE(ctx.add_module_group("full", "g"));
  ASSERT_TRUE(ctx.add_module_group("ok", "g"));
  ASSERT_TRUE(ctx.send("full", numbered(0)));
  ASSERT_TRUE(ctx.send_to_group("g", numbered(1)));  // parks in "full"
  auto d = ctx.send_to_group("g", numbered(2));      // parking full: refused
  ASSERT_TRUE(d);
  EXPECT_EQ(d->delivered, 1U);
  ASSERT_EQ(d->failed.size(), 1U);
  EXPECT_EQ(d->failed[0].first, "full");
  EXPECT_EQ(d->failed[0].second, errc::queue_full);
}

// Answers every request of `module` until `count` were answered; replies carry no source:
// each member's request has its own id, so the parent id alone attributes a reply.
std::future<int> replier(context& ctx, const std::string& module, int count) {
  return std::async(std::launch::async, [&ctx, module, count] {
    int answered = 0;
    for (; answered < count; ++answered) {
      auto req = ctx.receive_for(module, watchdog);
      if (!req) break;
      auto resp = new_resp_by_message(*req, module);
      resp.route.source.clear();
      if (!ctx.send_resp(std::move(resp))) break;
    }
    return answered;
  });
}

TEST(Channel, GroupSyncCollectsEveryReply) {
  context ctx;
  std::vector<std::future<int>> repliers;
  for (const char* m : {"a", "b", "c"}) {
    ASSERT_TRUE(ctx.add_module(mod(m)));
    ASSERT_TRUE(ctx.add_module_group(m, "g"));
    repliers.push_back(replier(ctx, m, 10));
  }
  for (int i = 0; i < 10; ++i) {
    auto r = ctx.send_to_group_sync("g", new_message(), watchdog);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->complete());
    std::vector<std::string> from;
    for (auto& m : r->replies) from.push_back(*m.content.if_string());
    std::sort(from.begin(), from.end());
    EXPECT_EQ(from, (std::vector<std::string>{"a", "b", "c"}));
  }
  for (auto& f : repliers) EXPECT_EQ(get_bounded(f), 10);
}

TEST(Channel, GroupSyncNamesAMemberThatNeverAnswers) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("answers")));
  ASSERT_TRUE(ctx.add_module(mod("silent")));
  ASSERT_TRUE(ctx.add_module_group("answers", "g"));
  ASSERT_TRUE(ctx.add_module_group("silent", "g"));
  auto r1 = replier(ctx, "answers", 1);
  auto r = ctx.send_to_group_sync("g", new_message(), 50ms);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->complete());
  ASSERT_EQ(r->replies.size(), 1U);
  EXPECT_EQ(*r->replies[0].content.if_string(), "answers");
  EXPECT_EQ(r->missing, std::vector<std::string>{"silent"});
  EXPECT_TRUE(r->failed.empty());
  EXPECT_EQ(get_bounded(r1), 1);
  // The silent member did get the request, marked sync.
  auto req = ctx.receive_for("silent", watchdog);
  ASSERT_TRUE(req);
  EXPECT_TRUE(req->header.sync);
}

TEST(Channel, GroupSyncAttributesRepliesWhenTheRequesterIsAMember) {
  // Go style: the requester belongs to the group it asks, and every reply built by
  // new_resp_by_message carries the requester's name as its source.
  context ctx;
  for (const char* m : {"req", "a", "b"}) {
    ASSERT_TRUE(ctx.add_module(mod(m)));
    ASSERT_TRUE(ctx.add_module_group(m, "g"));
  }
  auto answer = [&](const std::string& module) {
    return std::async(std::launch::async, [&ctx, module] {
      auto req = ctx.receive_for(module, watchdog);
      return req && ctx.send_resp(new_resp_by_message(*req, module)).has_value();
    });
  };
  auto a = answer("a");  // "b" never answers; "req" does not answer itself
  auto request = new_message();
  request.route.source = "req";
  auto r = ctx.send_to_group_sync("g", request, 50ms);
  ASSERT_TRUE(r);
  EXPECT_TRUE(get_bounded(a));
  ASSERT_EQ(r->replies.size(), 1U);
  EXPECT_EQ(r->replies[0].route.source, "req");
  auto missing = r->missing;
  std::sort(missing.begin(), missing.end());
  EXPECT_EQ(missing, (std::vector<std::string>{"b", "req"}));
}

TEST(Channel, GroupSyncListsFailedDeliveriesAndDoesNotWaitForThem) {
  context ctx;
  ASSERT_TRUE(ctx.add_module(mod("full", 1, overflow_policy::fail)));
  ASSERT_TRUE(ctx.add_module(mod("ok")));
  ASSERT_TRUE(ctx.add_module_group("full", "g"));
  ASSERT_TRUE(ctx.add_module_group("ok", "g"));
  ASSERT_TRUE(ctx.send("full", numbered(0)));
  ASSERT_TRUE(ctx.send_to_group("g", numbered(1)));  // "full" now has its parking full too
  auto drained = ctx.receive("ok");
  ASSERT_TRUE(drained);
  auto r1 = replier(ctx, "ok", 1);
  auto r = ctx.send_to_group_sync("g", new_message(), watchdog);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->replies.size(), 1U);
  EXPECT_TRUE(r->missing.empty());
  ASSERT_EQ(r->failed.size(), 1U);
  EXPECT_EQ(r->failed[0].first, "full");
  EXPECT_EQ(r->failed[0].second, errc::queue_full);
  EXPECT_EQ(get_bounded(r1), 1);
}

TEST(Channel, ContextsAreIndependent) {
  context a;
  context b;
  ASSERT_TRUE(a.add_module(mod("dst")));
  EXPECT_EQ(b.send("dst", new_message()).error(), errc::module_not_found);
  ASSERT_TRUE(b.add_module(mod("dst")));
  ASSERT_TRUE(a.send("dst", numbered(1)));
  ASSERT_TRUE(b.send("dst", numbered(2)));
  EXPECT_EQ(number_of(*a.receive("dst")), 1);
  EXPECT_EQ(number_of(*b.receive("dst")), 2);
}

}  // namespace
}  // namespace beehive
