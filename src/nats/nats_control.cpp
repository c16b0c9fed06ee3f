// SPDX-License-Identifier: Apache-2.0
// What arrives from NATS besides the records for hosted modules (nats_dispatch.cpp): replies to
// this process's requests (and "no responders", which probes the hosts: unreachable ones are
// dropped at once), credits and acknowledgements from receivers, presence, probes.
//
// Per reply: one decode, one reply-table delivery. Per credit message: one parse, one lookup of
// the peers (presence_mu_), the peer's lock. Presence: see nats_type_presence.cpp.
#include <algorithm>
#include <charconv>
#include <memory>

#include "beehive/codec.hpp"
#include "core/log.hpp"
#include "core/reply_table.hpp"
#include "nats/nats_peer_endpoint.hpp"
#include "nats/nats_type.hpp"

namespace beehive::detail {
namespace {

void bump(std::atomic<std::uint64_t>& c) { nats_counters::bump(c); }

}  // namespace

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
  nats_msg_ptr m(raw);
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
  auto msg = decode_message(nats_msg_data(m.get()));
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
  nats_msg_ptr m(raw);
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
  nats_msg_ptr m(raw);
  const std::string_view data = nats_msg_data(m.get());
  const auto space = data.find(' ');
  if (space == std::string_view::npos) return;
  auto module = decode_token(data.substr(0, space));
  std::uint64_t n = 0;
  auto num = data.substr(space + 1);
  subjects::sequence ack;
  bool gap = false;
  if (const auto space2 = num.find(' '); space2 != std::string_view::npos) {
    auto rest = num.substr(space2 + 1);
    num = num.substr(0, space2);
    if (const auto space3 = rest.find(' '); space3 != std::string_view::npos) {
      gap = rest.substr(space3 + 1) == "gap";
      rest = rest.substr(0, space3);
    }
    if (auto a = subjects::parse_sequence(rest)) ack = *a;
  }
  if (!module || std::from_chars(num.data(), num.data() + num.size(), n).ec != std::errc{}) {
    return;
  }
  std::shared_ptr<nats_peer_endpoint> ep;
  {
    std::lock_guard lk(presence_mu_);
    auto it = peers_.find(*module);
    if (it != peers_.end()) ep = it->second;
  }
  if (ep) ep->grant(n, ack, gap);
}

void nats_type::on_presence(natsMsg* raw) {
  nats_msg_ptr m(raw);
  const std::string_view subject = natsMsg_GetSubject(m.get());
  const std::string_view kind = subjects::last_token(subject);
  const std::string_view data = nats_msg_data(m.get());
  if (kind == "hello") {
    if (data != link_->subj.process) {
      announce();
      // A process we know says hello when it reconnected: what it had not acknowledged may
      // have died with its old link.
      resend_to(data);
    }
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
  if (!a) return;
  std::lock_guard lk(presence_mu_);
  if (a->process == link_->subj.process) {
    self_heard_ = std::chrono::steady_clock::now();  // our link works
    return;
  }
  apply(table_.heard(*a, presence_table::clock::now()));
}

void nats_type::resend_to(std::string_view process) {
  std::vector<std::shared_ptr<nats_peer_endpoint>> theirs;
  {
    std::lock_guard lk(presence_mu_);
    for (const auto& [name, ep] : peers_) {
      const auto hosts = table_.hosts(name);
      if (std::find(hosts.begin(), hosts.end(), process) != hosts.end()) theirs.push_back(ep);
    }
  }
  for (const auto& ep : theirs) ep->resend();
}

}  // namespace beehive::detail
