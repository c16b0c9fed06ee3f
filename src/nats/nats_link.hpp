// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/message.hpp"
#include "beehive/nats_config.hpp"
#include "nats/nats_connection.hpp"
#include "nats/nats_counters.hpp"
#include "nats/nats_subject.hpp"
#include "nats/nats_subscription.hpp"

namespace beehive::detail {

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

  const nats_config cfg;
  const subjects subj;
  nats_counters counters;
  std::unique_ptr<nats_connection> data;
  std::unique_ptr<nats_connection> rpc;
  std::atomic<bool> stopping{false};

  /// Every subscription ever made, kept until the link goes (after the connections are
  /// closed): nats.c may still enter a handler just after its subscription closed.
  void keep(std::shared_ptr<nats_subscription> s);
  [[nodiscard]] std::vector<std::shared_ptr<nats_subscription>> subscriptions() const;

 private:
  mutable std::mutex keep_mu_;
  std::vector<std::shared_ptr<nats_subscription>> subs_;
};

}  // namespace beehive::detail
