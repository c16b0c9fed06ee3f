// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include "beehive/context.hpp"
#include "core/registry.hpp"
#include "core/reply_table.hpp"
#include "core/sync_latency.hpp"
#include "core/tap.hpp"
#include "type/context_type.hpp"

namespace beehive::detail {

/// The state of a context: the one registry, the one reply table, the cancellation, and the
/// hosts given to context types. Private to the library; reached by `context_state_of`.
struct context_state {
  context_state();

  /// What one installed context type may do to the context (see type_host).
  class host final : public detail::type_host {
   public:
    host(context_state& owner, std::string type) : owner_(owner), type_(std::move(type)) {}
    [[nodiscard]] detail::reply_table& replies() noexcept override { return owner_.replies; }
    [[nodiscard]] expected<void> deliver(std::string_view module, message&& msg,
                                         detail::delivery how) override;
    [[nodiscard]] expected<void> add_peer(std::string_view module,
                                          std::shared_ptr<detail::endpoint> ep,
                                          const std::vector<std::string>& groups) override;
    void remove_peer(std::string_view module, const detail::endpoint& ep) override;
    void cleanup(std::string_view module, const detail::endpoint& ep) override;
    [[nodiscard]] std::vector<std::error_code> update_peers(
        std::span<const detail::peer_update> batch) override;
    [[nodiscard]] bool when_writable(std::string_view module, std::function<void()> fn) override;
    [[nodiscard]] detail::membership members() const override { return owner_.reg.members(); }
    [[nodiscard]] bool cancelled() const noexcept override { return owner_.stop.stop_requested(); }

   private:
    context_state& owner_;
    const std::string type_;
  };

  /// Wakes the waiters of dropped sync requests with `why`, then lets the messages go (their
  /// destructors run here, outside every lock).
  void settle_dropped(std::vector<message>& dropped, errc why);

  detail::registry reg;
  detail::reply_table replies;
  std::stop_source stop;
  // Observation (the admin API): off until attached; one relaxed load each when off.
  detail::tap_hub tap;
  detail::sync_latency sync_latency;

  std::mutex hosts_mu;
  std::map<std::string, std::unique_ptr<host>, std::less<>> hosts;

  // Module threads (run by a core) that use this context; the destructor waits for them.
  std::mutex leases_mu;
  std::condition_variable leases_cv;
  std::map<std::string, int, std::less<>> leases;
  // Cores that may still shut down on this context; the destructor refuses to run under one.
  int core_leases = 0;
};

}  // namespace beehive::detail
