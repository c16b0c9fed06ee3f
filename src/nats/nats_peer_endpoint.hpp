// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nats/nats_link.hpp"
#include "nats/nats_presence.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {

/// A module hosted by another process of the namespace: a push publishes the record on the
/// module's subject (`<ns>.m.<module>.<this process>`).
///
/// Flow control: the endpoint holds credits, `flow.window` at first; each record sent takes
/// one; the receiving process grants them back (`grant`) as the module's inbox takes the
/// records. Without credits, the remote inbox's overflow policy (announced in its heartbeat)
/// applies here, as a local inbox would apply it: `block` waits (bounded by its block_timeout;
/// woken with `not_connected` when the module goes), `fail` gives `queue_full`, and a relayed
/// record (`delivery::relay`) gets `would_block` and `when_writable` fires on the next grant.
/// `drop_oldest` takes no credits: the receiver evicts, counted in its inbox statistics.
///
/// Per push: one lock (credits), one encode into a thread-local buffer, one nats.c publish.
/// Thread-safe.
class nats_peer_endpoint final : public endpoint {
 public:
  nats_peer_endpoint(std::string name, std::shared_ptr<nats_link> link,
                     const announced_module& info);

  [[nodiscard]] expected<void> push(message&& msg, delivery how) override;
  [[nodiscard]] endpoint_state state() const noexcept override;
  [[nodiscard]] bool when_writable(std::function<void()> fn) override;
  [[nodiscard]] std::size_t room() const noexcept override;
  void close(std::vector<message>& dropped) override;
  void discard(std::vector<message>& dropped) override { close(dropped); }

  /// The receiver granted `n` credits back.
  void grant(std::uint64_t n);
  /// After a failover: the records not acknowledged may be lost in the failed link; they are
  /// counted (`nats_stats::unacknowledged`) and the window starts again.
  void restart_window();
  /// The module went away (its process left or fell silent, or the type stops): waiting and
  /// later pushes fail with `not_connected`. What was not acknowledged is counted.
  void gone();
  /// The module's announced inbox settings changed.
  void update(const announced_module& info);

 private:
  const std::shared_ptr<nats_link> link_;
  const std::string subject_;
  const std::int64_t window_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t credits_;
  overflow_policy overflow_;
  std::chrono::milliseconds block_timeout_;
  bool closed_ = false;
  bool gone_ = false;
  std::function<void()> writable_;
};

/// Where the replies to a requesting process go: `<ns>.r.<requester>.<request id>`. The reply
/// table holds it (weakly) for each sync request that came from that process.
class nats_reply_endpoint final : public endpoint {
 public:
  nats_reply_endpoint(std::string reply_prefix, std::shared_ptr<nats_link> link)
      : endpoint(std::move(reply_prefix)), link_(std::move(link)) {}
  [[nodiscard]] expected<void> push(message&& msg, delivery how) override;
  void close(std::vector<message>& /*dropped*/) override {}
  void discard(std::vector<message>& /*dropped*/) override {}

 private:
  const std::shared_ptr<nats_link> link_;
};

}  // namespace beehive::detail
