// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_type.hpp"

#include <algorithm>
#include <utility>

#include "core/log.hpp"
#include "core/reply_table.hpp"
#include "nats/nats_hosted_endpoint.hpp"
#include "nats/nats_peer_endpoint.hpp"

namespace beehive::detail {
namespace {

std::string new_process_id() {
  std::string id = new_uuid();
  id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
  return id.substr(0, 16);
}

using namespace std::chrono_literals;

}  // namespace

nats_type::nats_type(nats_config config)
    : link_(std::make_shared<nats_link>(std::move(config), new_process_id())) {}

nats_type::~nats_type() { stop(); }

expected<void> nats_type::connect(std::string* why) {
  std::weak_ptr<nats_type> weak = weak_from_this();
  nats_counters& counters = link_->counters;
  nats_connection::events data_ev;
  nats_link* const link = link_.get();
  data_ev.disconnected = [&counters, link] {
    link->data_up = false;       // records go to nats.c one by one meanwhile
    if (link->stopping) return;  // our own close
    nats_counters::bump(counters.disconnects);
    log().warn("nats: disconnected; reconnecting");
  };
  auto reconnected = [weak, &counters] {
    nats_counters::bump(counters.reconnects);
    if (auto self = weak.lock()) self->on_reconnected();
  };
  data_ev.reconnected = [reconnected, link] {
    if (!link->stopping) link->data_up = true;
    reconnected();
  };
  auto async_error = [&counters](natsSubscription* /*sub*/, natsStatus st) {
    if (st == NATS_SLOW_CONSUMER) {
      nats_counters::bump(counters.slow_consumer_events);
      log().warn("nats: slow consumer: NATS dropped messages for a subscription (counted)");
    } else {
      nats_counters::bump(counters.async_errors);
      log().warn("nats: asynchronous error: {}", natsStatus_GetText(st));
    }
  };
  data_ev.async_error = async_error;
  nats_connection::events rpc_ev;
  rpc_ev.async_error = async_error;
  // Credits and acknowledgements come on the rpc connection: those sent to this process while
  // it reconnects are lost, so its reconnect starts the windows again too (resending what is
  // kept: the receivers drop what they had).
  rpc_ev.reconnected = reconnected;
  const std::string name = "beehive-" + link_->subj.process;
  auto data = nats_connection::open(link_->cfg, name + "-data", false, std::move(data_ev), why);
  if (!data) return unexpected(data.error());
  auto rpc = nats_connection::open(link_->cfg, name + "-rpc", true, std::move(rpc_ev), why);
  if (!rpc) return unexpected(rpc.error());
  link_->data = std::move(*data);
  link_->rpc = std::move(*rpc);
  link_->max_payload = link_->data->max_payload();
  link_->data_up = link_->data->connected();
  if (link_->batching()) link_->batcher.start();
  log().info("nats: process {} connected to {} (namespace '{}')", link_->subj.process,
             link_->data->connected_url(), link_->subj.ns);
  return {};
}

void nats_type::attach(type_host& host) {
  host_.store(&host);
  if (!link_->rpc) return;
  std::weak_ptr<nats_type> weak = weak_from_this();
  auto sub = [&](const std::string& subject, void (nats_type::*fn)(natsMsg*)) {
    auto s = nats_subscription::open(*link_->rpc, subject, {}, [weak, fn](natsMsg* m, bool) {
      if (auto self = weak.lock()) {
        (self.get()->*fn)(m);
      } else {
        natsMsg_Destroy(m);
      }
    });
    if (!s) {
      log().error("nats: cannot subscribe to {}", subject);
      return;
    }
    link_->keep(*s);
    fixed_subs_.push_back(std::move(*s));
  };
  sub(link_->subj.reply_wildcard(), &nats_type::on_reply);
  sub(link_->subj.credits(link_->subj.process), &nats_type::on_credit);
  sub(link_->subj.presence_wildcard(), &nats_type::on_presence);
  sub(link_->subj.probe(link_->subj.process), &nats_type::on_probe);
  (void)link_->rpc->flush(link_->cfg.connect_timeout);
  // A newcomer asks everyone to announce now: the namespace is known within one round trip.
  (void)link_->rpc->publish(link_->subj.hello(), link_->subj.process);
  presence_thread_ = std::thread([this] { presence_loop(); });
}

expected<std::shared_ptr<endpoint>> nats_type::make_endpoint(const module_info& info) {
  if (info.name.empty() || info.inbox.capacity == 0) return unexpected(errc::invalid_argument);
  if (stopped_ || !link_->data) return unexpected(errc::not_connected);
  const bool replica = link_->cfg.is_replica(info.name);
  if (!claim(info.name, replica)) return unexpected(errc::already_exists);
  auto ep = std::make_shared<nats_hosted_endpoint>(info, weak_from_this(), replica);
  ep->self = ep;
  if (!host(*ep)) return unexpected(errc::not_connected);
  return std::shared_ptr<endpoint>(std::move(ep));
}

bool nats_type::claim(const std::string& module, bool replica) {
  {
    std::lock_guard lk(presence_mu_);
    if (table_.hosted(module) && !replica) {
      log().warn("nats: module '{}' is hosted by another process of namespace '{}'", module,
                 link_->subj.ns);
      return false;
    }
  }
  // Ask the namespace: a host answers (taken), or the server says "no responders" at once.
  natsMsg* reply = nullptr;
  const natsStatus st =
      natsConnection_Request(&reply, link_->rpc->raw(), link_->subj.module(module).c_str(), "", 0,
                             link_->cfg.connect_timeout.count());
  if (st == NATS_NO_RESPONDERS) return true;
  if (st == NATS_OK) {
    const std::string answer(natsMsg_GetData(reply),
                             static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    if (replica && answer == "replica") return true;
    log().warn("nats: module '{}' is hosted by another process of namespace '{}'", module,
               link_->subj.ns);
    return false;
  }
  // A host that does not answer (its module's thread is busy) still holds the name; a server
  // that cannot be reached cannot tell: both refuse.
  log().warn("nats: cannot claim module '{}': {}", module, natsStatus_GetText(st));
  return false;
}

bool nats_type::host(nats_hosted_endpoint& ep) {
  if (stopped_) return false;
  std::weak_ptr<nats_type> weak = weak_from_this();
  std::weak_ptr<nats_hosted_endpoint> weak_ep = ep.self;
  auto s = nats_subscription::open(
      *link_->data, link_->subj.module_wildcard(ep.name()),
      ep.replica ? encode_token(ep.name()) : std::string{},
      [weak, weak_ep](natsMsg* m, bool more) {
        auto self = weak.lock();
        auto e = weak_ep.lock();
        if (self && e) {
          self->on_module_message(*e, m, more);
        } else {
          natsMsg_Destroy(m);
        }
      },
      link_->cfg.max_pending);
  if (!s) return false;
  link_->keep(*s);
  {
    std::lock_guard lk(hosted_mu_);
    ep.sub = *s;
    hosted_[ep.name()] = ep.self;
  }
  // Before announcing: a sender that hears of it can publish at once.
  (void)link_->data->flush(link_->cfg.connect_timeout);
  announce();
  return true;
}

std::shared_ptr<nats_subscription> nats_type::unhost(nats_hosted_endpoint& ep) {
  std::shared_ptr<nats_subscription> s;
  {
    std::lock_guard lk(hosted_mu_);
    s = std::move(ep.sub);
    if (!ep.replica) leave_groups_locked(ep.groups);
    ep.groups.clear();
    auto it = hosted_.find(ep.name());
    if (it != hosted_.end() && it->second.lock().get() == &ep) hosted_.erase(it);
  }
  if (s) s->stop();
  if (!stopped_) {
    // The unsubscribe (on the buffered data connection) reaches the server before the
    // announcement (on the rpc connection): a process that then claims the name is not
    // answered by a subscription that is already gone here.
    (void)link_->data->flush(link_->cfg.connect_timeout);
    announce();
  }
  return s;
}

void nats_type::member_grouped(std::string_view module, std::string_view group) {
  bool changed = false;
  {
    std::lock_guard lk(hosted_mu_);
    auto it = hosted_.find(module);
    if (it == hosted_.end()) return;
    if (auto ep = it->second.lock()) {
      changed = ep->groups.insert(std::string(group)).second;
      // A replica is never sent group batches (a queue group spreads its records).
      if (changed && !ep->replica && !join_group_locked(std::string(group))) {
        ep->groups.erase(std::string(group));
        changed = false;
      }
    }
  }
  if (!changed) return;
  // Before announcing: a sender that hears of the member can publish group batches at once.
  (void)link_->data->flush(link_->cfg.connect_timeout);
  announce();
}

void nats_type::presence(std::span<const presence_event> events) {
  for (const auto& e : events) {
    if (e.kind == presence_kind::grouped && !e.peer) member_grouped(e.module, e.group);
  }
}

void nats_type::on_reconnected() {
  log().info("nats: reconnected to {}", link_->data ? link_->data->connected_url() : "");
  std::vector<std::shared_ptr<nats_peer_endpoint>> all;
  {
    std::lock_guard lk(presence_mu_);
    for (const auto& [n, ep] : peers_) all.push_back(ep);
  }
  for (auto& ep : all) ep->restart_window();
  // Everyone announces now: what expired here while the link was down comes back at once.
  (void)link_->rpc->publish(link_->subj.hello(), link_->subj.process);
  announce();
}

void nats_type::stop() {
  std::lock_guard stopping(stop_mu_);
  if (stopped_.exchange(true)) return;
  link_->stopping = true;
  // A relay waiting for room in a full inbox gives up.
  std::vector<std::shared_ptr<nats_hosted_endpoint>> hosted;
  {
    std::lock_guard lk(hosted_mu_);
    for (const auto& [n, weak] : hosted_) {
      if (auto ep = weak.lock()) hosted.push_back(std::move(ep));
    }
  }
  for (const auto& ep : hosted) ep->wake_relay();
  {
    std::lock_guard lk(presence_mu_);
    presence_stop_ = true;
  }
  presence_cv_.notify_all();
  if (presence_thread_.joinable()) presence_thread_.join();
  // The batches still pending go out (a send from now on publishes its record itself).
  link_->data_up = false;
  link_->batcher.stop();
  if (link_->data) (void)link_->data->flush(std::chrono::milliseconds(500));
  if (link_->rpc) {
    (void)link_->rpc->publish(link_->subj.bye(), link_->subj.process);
    (void)link_->rpc->flush(std::chrono::milliseconds(500));
  }
  // Nobody waits for credits any more; callers waiting on replies are woken by the context.
  {
    std::lock_guard lk(presence_mu_);
    for (auto& [n, ep] : peers_) ep->gone();
  }
  const auto subs = link_->subscriptions();
  for (const auto& s : subs) s->stop();
  if (link_->data) link_->data->close();
  if (link_->rpc) link_->rpc->close();
  for (const auto& s : subs) s->wait();
  // What the handlers still held goes into the inboxes if it fits (their closes follow).
  for (const auto& ep : hosted) {
    std::shared_ptr<nats_subscription> s;
    {
      std::lock_guard lk(hosted_mu_);
      s = ep->sub;
    }
    if (s && s->wait()) release_held(*ep);
  }
  host_.store(nullptr);
}

nats_stats nats_type::stats() const {
  nats_stats s = link_->counters.snapshot();
  for (const auto& sub : link_->subscriptions()) {
    s.nats_dropped += static_cast<std::uint64_t>(std::max<std::int64_t>(0, sub->dropped()));
  }
  return s;
}

bool nats_type::connected() const { return link_->data && link_->data->connected(); }

std::string nats_type::connected_url() const {
  return link_->data ? link_->data->connected_url() : std::string{};
}

std::int64_t nats_type::max_payload() const { return link_->data ? link_->data->max_payload() : 0; }

std::vector<std::string> nats_type::peers() const {
  std::lock_guard lk(presence_mu_);
  std::vector<std::string> out;
  for (const auto& [n, ep] : peers_) out.push_back(n);
  return out;
}

bool nats_type::wait_peer(std::string_view module, bool present,
                          std::chrono::nanoseconds bound) const {
  std::unique_lock lk(presence_mu_);
  return presence_cv_.wait_for(lk, bound,
                               [&] { return (peers_.find(module) != peers_.end()) == present; });
}

}  // namespace beehive::detail
