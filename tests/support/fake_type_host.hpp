// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a `type_host` without a context, for unit tests of a context type's parts. It
// has a real reply table, records what the type asks of it, and delivers into a list.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/reply_table.hpp"
#include "type/context_type.hpp"
#include "type/endpoint.hpp"

namespace beehive::test {

class fake_type_host final : public detail::type_host {
 public:
  struct peer_record {
    std::string module;
    std::shared_ptr<detail::endpoint> ep;
    std::vector<std::string> groups;
  };

  fake_type_host() = default;

  detail::reply_table& replies() noexcept override { return replies_; }

  expected<void> deliver(std::string_view module, message&& msg, detail::delivery) override {
    std::lock_guard lock(mu_);
    if (known_.count(std::string(module)) == 0) return unexpected(errc::module_not_found);
    delivered_.push_back({std::string(module), std::move(msg)});
    cv_.notify_all();
    return {};
  }

  expected<void> add_peer(std::string_view module, std::shared_ptr<detail::endpoint> ep,
                          const std::vector<std::string>& groups) override {
    std::lock_guard lock(mu_);
    if (known_.count(std::string(module)) != 0) return unexpected(errc::already_exists);
    peers_.push_back({std::string(module), std::move(ep), groups});
    cv_.notify_all();
    return {};
  }

  void remove_peer(std::string_view module, const detail::endpoint& ep) override {
    std::lock_guard lock(mu_);
    removed_.emplace_back(module);
    std::erase_if(peers_, [&](const peer_record& p) { return p.ep.get() == &ep; });
    cv_.notify_all();
  }

  // `deliver` never answers would_block here: there is always room.
  bool when_writable(std::string_view /*module*/, std::function<void()> /*fn*/) override {
    return false;
  }

  void cleanup(std::string_view module, const detail::endpoint& /*ep*/) override {
    std::lock_guard lock(mu_);
    cleaned_.emplace_back(module);
    cv_.notify_all();
  }

  // A batch applies entry by entry (as add_peer / remove_peer); join and leave are recorded.
  std::vector<std::error_code> update_peers(std::span<const detail::peer_update> batch) override {
    std::vector<std::error_code> out;
    for (const auto& u : batch) {
      if (u.module.empty() || !u.ep) {
        out.push_back(make_error_code(errc::invalid_argument));
      } else if (u.op == detail::peer_op::add) {
        auto r = add_peer(u.module, u.ep, u.groups);
        out.push_back(r ? std::error_code() : r.error());
      } else if (u.op == detail::peer_op::remove) {
        remove_peer(u.module, *u.ep);
        out.emplace_back();
      } else {
        std::lock_guard lock(mu_);
        for (const auto& g : u.groups) {
          joined_.push_back((u.op == detail::peer_op::join ? "+" : "-") + u.module + "@" + g);
        }
        out.emplace_back();
      }
    }
    return out;
  }

  detail::membership members() const override {
    std::lock_guard lock(mu_);
    return members_;
  }

  bool cancelled() const noexcept override { return false; }

  // ---- set up -----------------------------------------------------------------------------

  /// A module of this process: `deliver` reaches it, and `add_peer` of its name fails.
  void add_local(const std::string& module) {
    std::lock_guard lock(mu_);
    known_.insert(module);
    members_.modules.push_back({module, "channel", true});
  }

  // ---- what happened ----------------------------------------------------------------------

  struct delivery_record {
    std::string module;
    message msg;
  };

  [[nodiscard]] std::vector<delivery_record> delivered() const {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  [[nodiscard]] std::vector<peer_record> peers() const {
    std::lock_guard lock(mu_);
    return peers_;
  }
  [[nodiscard]] std::vector<std::string> removed() const {
    std::lock_guard lock(mu_);
    return removed_;
  }
  /// Joins ("+module@group") and leaves ("-module@group") asked through update_peers.
  [[nodiscard]] std::vector<std::string> joined() const {
    std::lock_guard lock(mu_);
    return joined_;
  }
  [[nodiscard]] std::vector<std::string> cleaned() const {
    std::lock_guard lock(mu_);
    return cleaned_;
  }
  /// Waits (bounded) until `n` messages were delivered.
  bool wait_delivered(std::size_t n, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [&] { return delivered_.size() >= n; });
  }
  /// Waits (bounded) until `module` was removed as a peer.
  bool wait_removed(const std::string& module,
                    std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [&] {
      return std::find(removed_.begin(), removed_.end(), module) != removed_.end();
    });
  }

 private:
  detail::reply_table replies_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> known_;
  detail::membership members_;
  std::vector<delivery_record> delivered_;
  std::vector<peer_record> peers_;
  std::vector<std::string> removed_;
  std::vector<std::string> cleaned_;
  std::vector<std::string> joined_;
};

}  // namespace beehive::test
