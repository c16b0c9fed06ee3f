// SPDX-License-Identifier: Apache-2.0
// What arrives from NATS: records for the modules hosted here, replies, credits, presence.
//
// Per record for a hosted module (on its subscription's delivery thread): one decode (the
// content stays verbatim JSON), one relay into the inbox (its producer lock), and every
// `window/2` records one credit publish back to the sender; a sync request adds one
// reply-table registration.
#include <charconv>
#include <memory>

#include "beehive/codec.hpp"
#include "core/log.hpp"
#include "core/reply_table.hpp"
#include "nats/nats_hosted_endpoint.hpp"
#include "nats/nats_peer_endpoint.hpp"
#include "nats/nats_type.hpp"

namespace beehive::detail {
namespace {

struct msg_deleter {
  void operator()(natsMsg* m) const noexcept { natsMsg_Destroy(m); }
};
using msg_ptr = std::unique_ptr<natsMsg, msg_deleter>;

std::string_view data_of(natsMsg* m) {
  const char* d = natsMsg_GetData(m);
  return d == nullptr ? std::string_view{}
                      : std::string_view(d, static_cast<std::size_t>(natsMsg_GetDataLength(m)));
}

void bump(std::atomic<std::uint64_t>& c) { nats_counters::bump(c); }

}  // namespace

void nats_type::on_module_message(nats_hosted_endpoint& ep, natsMsg* raw) {
  msg_ptr m(raw);
  type_host* const h = host_.load();
  if (h == nullptr) return;
  const char* reply = natsMsg_GetReply(m.get());
  const std::string_view data = data_of(m.get());
  if (data.empty()) {
    // A claim: another process asks whether the name is taken.
    if (reply != nullptr) {
      (void)link_->rpc->publish(reply, ep.replica ? "replica" : "taken");
    }
    return;
  }
  bump(link_->counters.received);
  const std::string_view sender = subjects::last_token(natsMsg_GetSubject(m.get()));
  auto msg = decode_message(data);
  if (!msg) {
    bump(link_->counters.malformed);
    log().warn("nats: malformed record ({} bytes) for '{}' dropped", data.size(), ep.name());
    grant(ep, sender);
    return;
  }
  const bool request = msg->header.sync && reply != nullptr;
  if (request) {
    // A module answers with send_resp, which routes by the request's type (as Go's does): here
    // the request came by nats, whatever type its sender's side gave it (a socket peer's
    // `unixpacket`, which this process may not have).
    msg->header.type = std::string(context_type_nats);
    h->replies().expect_remote(std::string_view(msg->header.id), reply_origin(reply));
  }
  auto r = relay(ep, std::move(*msg));
  grant(ep, sender);
  if (r) {
    bump(link_->counters.delivered);
    return;
  }
  bump(link_->counters.undeliverable);
  log().warn("nats: record for '{}' not delivered: {}", ep.name(), r.error().message());
  // The requester gets an error reply at once (the message was not moved from).
  if (request) h->replies().fail(*msg, r.error());
}

expected<void> nats_type::relay(nats_hosted_endpoint& ep, message&& msg) {
  inbox* box = ep.local();
  for (;;) {
    // The inbox of this branch blocks a relay under `block`: wait for room here first, in
    // timed waits, so that a stop is noticed. (With would_block, the push below answers at
    // once and `when_writable` wakes us.)
    if (ep.waits_without_bound) {
      while (!link_->stopping && !box->closed()) {
        const auto st = box->stats();
        if (st.queued < st.capacity) break;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    if (link_->stopping) return unexpected(errc::channel_closed);
    auto r = ep.push(std::move(msg), delivery::relay);
    if (r || r.error() != make_error_code(errc::would_block)) return r;
    auto ready = std::make_shared<std::atomic<bool>>(false);
    if (!ep.when_writable([ready] { ready->store(true); })) continue;
    while (!ready->load() && !link_->stopping) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
}

void nats_type::grant(nats_hosted_endpoint& ep, std::string_view sender) {
  if (sender.empty()) return;
  const std::uint64_t batch = std::max<std::uint64_t>(1, link_->cfg.flow_window / 2);
  auto it = ep.ungranted.find(sender);
  if (it == ep.ungranted.end()) it = ep.ungranted.emplace(std::string(sender), 0).first;
  if (++it->second < batch) return;
  const std::string payload = encode_token(ep.name()) + " " + std::to_string(it->second);
  if (link_->rpc->publish(link_->subj.credits(sender), payload)) {
    nats_counters::bump(link_->counters.credits_granted, it->second);
    it->second = 0;
  }
}

std::shared_ptr<nats_reply_endpoint> nats_type::reply_origin(std::string_view reply) {
  const auto dot = reply.rfind('.');
  const std::string_view prefix = dot == std::string_view::npos ? reply : reply.substr(0, dot);
  std::lock_guard lk(origins_mu_);
  auto it = origins_.find(prefix);
  if (it != origins_.end()) return it->second;
  // One per requesting process; bounded so that hostile reply subjects cannot grow it.
  if (origins_.size() >= 4096) origins_.clear();
  auto ep = std::make_shared<nats_reply_endpoint>(std::string(prefix), link_);
  origins_.emplace(std::string(prefix), ep);
  return ep;
}

void nats_type::on_reply(natsMsg* raw) {
  msg_ptr m(raw);
  type_host* const h = host_.load();
  if (h == nullptr) return;
  if (natsMsg_IsNoResponders(m.get())) {
    // Nobody subscribes to the module: the caller hears it at once, and why (its process
    // gone or cut off: not_connected; the module alone gone: module_not_found).
    bump(link_->counters.no_responders);
    std::string_view subject = natsMsg_GetSubject(m.get());
    auto id = decode_token(subjects::last_token(subject));
    subject = subject.substr(0, subject.size() - subjects::last_token(subject).size() - 1);
    auto module = decode_token(subjects::last_token(subject));
    if (!id || !module) return;
    message request;
    request.header.id = *id;
    h->replies().fail(request, unreachable(*module));
    return;
  }
  auto msg = decode_message(data_of(m.get()));
  if (!msg) {
    bump(link_->counters.malformed);
    return;
  }
  bump(link_->counters.replies_in);
  if (auto r = h->replies().deliver(std::move(*msg)); !r) {
    if (r.error() == make_error_code(errc::orphan_response)) {
      bump(link_->counters.orphan_replies);
    } else {
      bump(link_->counters.undeliverable);
    }
  }
}

void nats_type::on_probe(natsMsg* raw) {
  msg_ptr m(raw);
  if (const char* reply = natsMsg_GetReply(m.get())) (void)link_->rpc->publish(reply, "ok");
}

std::error_code nats_type::unreachable(const std::string& module) {
  std::vector<std::string> hosts;
  {
    std::lock_guard lk(presence_mu_);
    hosts = table_.hosts(module);
  }
  bool any = false;
  for (const auto& pid : hosts) {
    natsMsg* reply = nullptr;
    const natsStatus st = natsConnection_RequestString(
        &reply, link_->rpc->raw(), link_->subj.probe(pid).c_str(), "",
        std::min<std::int64_t>(link_->cfg.connect_timeout.count(), 500));
    if (st == NATS_OK) {
      natsMsg_Destroy(reply);
      any = true;
      continue;
    }
    log().warn("nats: process {} (hosting '{}') is unreachable: {}", pid, module,
               natsStatus_GetText(st));
    std::lock_guard lk(presence_mu_);
    apply(table_.drop(pid));
  }
  return make_error_code(any ? errc::module_not_found : errc::not_connected);
}

void nats_type::on_credit(natsMsg* raw) {
  msg_ptr m(raw);
  const std::string_view data = data_of(m.get());
  const auto space = data.find(' ');
  if (space == std::string_view::npos) return;
  auto module = decode_token(data.substr(0, space));
  std::uint64_t n = 0;
  const auto num = data.substr(space + 1);
  if (!module || std::from_chars(num.data(), num.data() + num.size(), n).ec != std::errc{}) {
    return;
  }
  std::shared_ptr<nats_peer_endpoint> ep;
  {
    std::lock_guard lk(presence_mu_);
    auto it = peers_.find(*module);
    if (it != peers_.end()) ep = it->second;
  }
  if (ep) ep->grant(n);
}

void nats_type::on_presence(natsMsg* raw) {
  msg_ptr m(raw);
  const std::string_view subject = natsMsg_GetSubject(m.get());
  const std::string_view kind = subjects::last_token(subject);
  const std::string_view data = data_of(m.get());
  if (kind == "hello") {
    if (data != link_->subj.process) announce();
    return;
  }
  if (kind == "bye") {
    if (data == link_->subj.process) return;
    std::lock_guard lk(presence_mu_);
    apply(table_.left(data));
    return;
  }
  if (kind != "hb") return;
  auto a = decode_announcement(data);
  if (!a || a->process == link_->subj.process) return;
  std::lock_guard lk(presence_mu_);
  apply(table_.heard(*a, presence_table::clock::now()));
}

}  // namespace beehive::detail
