// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_link.hpp"

#include "beehive/codec.hpp"
#include "core/log.hpp"
#include "nats/nats_group_outbox.hpp"

namespace beehive::detail {

expected<std::string_view> nats_link::encode(const message& msg) {
  // A group send pushes copies of one message (equal header and route, one shared content)
  // to every member: the record is encoded once and published to each. The cache holds the
  // content it was made from (a shared reference), so that its address cannot be reused by
  // another content while the entry lives.
  struct encoded {
    message_header header;
    message_route route;
    content body;
    std::string buf;
  };
  thread_local encoded last;
  const bool same = msg.content.shares_payload_with(last.body) && msg.header == last.header &&
                    msg.route == last.route;
  if (!same) {
    last.body = content{};
    last.buf.clear();
    if (auto r = encode_message(msg, last.buf); !r) return unexpected(r.error());
    last.header = msg.header;
    last.route = msg.route;
    last.body = msg.content;
  }
  return std::string_view(last.buf);
}

expected<void> nats_link::send(const nats_connection& conn, const std::string& subject,
                               const message& msg, const std::string& reply) {
  auto buf = encode(msg);
  if (!buf) return unexpected(buf.error());
  return publish(conn, subject, *buf, reply);
}

expected<void> nats_link::publish(const nats_connection& conn, const std::string& subject,
                                  std::string_view payload, const std::string& reply,
                                  std::size_t records) {
  // nats.c refuses a record larger than the server's max_payload before it writes anything
  // (NATS_MAX_PAYLOAD); asking for max_payload first would take the connection's lock twice
  // more per record.
  auto r = conn.publish(subject, payload, reply);
  if (!r) {
    if (r.error() == make_error_code(errc::message_too_large)) {
      nats_counters::bump(counters.oversized);
      log().warn("nats: record of {} bytes for '{}' refused: the server's max_payload is {}",
                 payload.size(), subject, conn.max_payload());
    } else {
      nats_counters::bump(counters.publish_failures, records);
    }
    return r;
  }
  nats_counters::bump(counters.published, records);
  if (records > 1) nats_counters::bump(counters.batches);
  return {};
}

std::shared_ptr<nats_group_outbox> nats_link::group_outbox(std::string_view group) {
  std::lock_guard lk(outboxes_mu_);
  auto it = outboxes_.find(group);
  if (it == outboxes_.end()) {
    it = outboxes_
             .emplace(std::string(group),
                      std::make_shared<nats_group_outbox>(*this, std::string(group)))
             .first;
  }
  return it->second;
}

void nats_link::keep(std::shared_ptr<nats_subscription> s) {
  std::lock_guard lk(keep_mu_);
  // Closed subscriptions whose handler can no longer run once the link is the only owner are
  // still kept: the cost is one small object per module life.
  subs_.push_back(std::move(s));
}

std::vector<std::shared_ptr<nats_subscription>> nats_link::subscriptions() const {
  std::lock_guard lk(keep_mu_);
  return subs_;
}

}  // namespace beehive::detail
