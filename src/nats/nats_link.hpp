// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/message.hpp"
#include "beehive/nats_config.hpp"
#include "nats/nats_batcher.hpp"
#include "nats/nats_connection.hpp"
#include "nats/nats_counters.hpp"
#include "nats/nats_subject.hpp"
#include "nats/nats_subscription.hpp"

namespace beehive::detail {

class nats_group_outbox;

/// What the type's endpoints share: the config, the subjects, the counters and the two
/// connections. Owned by `shared_ptr` (the type and every endpoint), so that an endpoint a
/// routing snapshot keeps a little longer than the type still publishes safely: after `stop`
/// the connections are closed (a publish then fails with `not_connected`), and they are
/// destroyed only with the last owner.
///
/// Two connections, because nats.c's `SendAsap` is per connection:
/// - `data` (buffered, as raw nats.c's fastest publish): one-way messages and group copies;
///   the subscriptions of the hosted modules;
/// - `rpc` (`SendAsap`: every publish is written at once): sync requests, replies, credits
///   and presence, whose latency matters more than their rate.
struct nats_link {
  nats_link(nats_config c, std::string process)
      : cfg(std::move(c)), subj(cfg.name_space, std::move(process)) {}

  /// Encodes `msg` (Go beehive JSON) and publishes it on `conn`. `message_too_large` when the
  /// record is larger than the server's max_payload (nothing is sent), `not_serializable`,
  /// `not_connected` / `timed_out` from nats.c. Counts.
  /// Per call: one encode into a thread-local buffer (no allocation once warm; none at all for
  /// the 2nd..nth copy of a group send: the copies are equal, the last encoding is reused), one
  /// publish (nats.c: the connection's lock, a copy into its write buffer, a flusher kick).
  /// The thread keeps a reference to the last content it sent until it sends another.
  [[nodiscard]] expected<void> send(const nats_connection& conn, const std::string& subject,
                                    const message& msg, const std::string& reply = {});
  /// The record of `msg` (Go beehive JSON), in a thread-local buffer valid until this thread's
  /// next `encode` or `send`; the group-copy cache as in `send`.
  [[nodiscard]] expected<std::string_view> encode(const message& msg);
  /// Publishes `payload` (one record, or a batch of `records`) and counts it as `send` does.
  [[nodiscard]] expected<void> publish(const nats_connection& conn, const std::string& subject,
                                       std::string_view payload, const std::string& reply,
                                       std::size_t records = 1);

  const nats_config cfg;
  const subjects subj;
  nats_counters counters;
  std::unique_ptr<nats_connection> data;
  std::unique_ptr<nats_connection> rpc;
  std::atomic<bool> stopping{false};
  /// The data connection is connected (set by the type on connect, disconnect and
  /// reconnect): records are batched only then; while it is down each publish goes to nats.c at
  /// once, as before batches (its reconnect buffer, or an error for the caller).
  std::atomic<bool> data_up{false};
  /// The server's max_payload, read on connect and reconnect (0: unknown).
  std::atomic<std::int64_t> max_payload{0};
  /// The largest batch: `batch_bytes`, or the server's max_payload if smaller.
  [[nodiscard]] std::size_t batch_cap() const noexcept {
    const std::int64_t mp = max_payload.load(std::memory_order_relaxed);
    return mp > 0 && static_cast<std::size_t>(mp) < batch_bytes ? static_cast<std::size_t>(mp)
                                                                : batch_bytes;
  }
  /// Publishes the peer endpoints' batches (started by the type once connected; stopped, after
  /// a last flush, before the connections close).
  nats_batcher batcher{cfg.batch_linger};
  /// One-way records are batched (`cfg.batch_linger` > 0).
  [[nodiscard]] bool batching() const noexcept { return cfg.batch_linger.count() > 0; }
  /// The largest batch: records gather up to this many bytes (a larger record goes alone).
  static constexpr std::size_t batch_bytes = 64 * 1024;

  /// The outbox of `group`'s batches (made on first use, kept with the link).
  [[nodiscard]] std::shared_ptr<nats_group_outbox> group_outbox(std::string_view group);

  /// Every subscription ever made, kept until the link goes (after the connections are
  /// closed): nats.c may still enter a handler just after its subscription closed.
  void keep(std::shared_ptr<nats_subscription> s);
  [[nodiscard]] std::vector<std::shared_ptr<nats_subscription>> subscriptions() const;

 private:
  std::mutex outboxes_mu_;
  std::map<std::string, std::shared_ptr<nats_group_outbox>, std::less<>> outboxes_;
  mutable std::mutex keep_mu_;
  std::vector<std::shared_ptr<nats_subscription>> subs_;
};

}  // namespace beehive::detail
