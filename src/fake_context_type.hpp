// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a context type that records every call, to check the global context's routing
// to a type other than `channel` without a socket.

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/message_context.hpp"

namespace beehive::testing {

class fake_context_type final : public module_context, public message_context {
 public:
  struct call {
    std::string op;
    std::string target;  // module or group; empty for send_resp
    message msg;
  };

  [[nodiscard]] std::vector<call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  [[nodiscard]] std::size_t count(std::string_view op) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& c : calls_) n += c.op == op ? 1 : 0;
    return n;
  }

  expected<void> add_module(const module_info& info) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"add_module", info.name, {}});
    modules_.insert(info.name);
    closed_.erase(info.name);
    return {};
  }
  expected<void> add_module_group(std::string_view module, std::string_view group) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"add_module_group", std::string(module), {}});
    if (modules_.count(std::string(module)) == 0) return unexpected(errc::module_not_found);
    groups_[std::string(group)].insert(std::string(module));
    return {};
  }
  expected<void> cleanup(std::string_view module) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"cleanup", std::string(module), {}});
    if (modules_.count(std::string(module)) == 0) return unexpected(errc::module_not_found);
    closed_.insert(std::string(module));
    return {};
  }

  expected<void> send(std::string_view module, message msg) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"send", std::string(module), msg});
    return check_locked(module);
  }
  expected<message> receive(std::string_view module) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"receive", std::string(module), {}});
    if (auto r = check_locked(module); !r) return unexpected(r.error());
    return new_message().fill_body("from fake");
  }
  expected<message> receive_for(std::string_view module, duration /*timeout*/) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"receive_for", std::string(module), {}});
    if (auto r = check_locked(module); !r) return unexpected(r.error());
    return new_message().fill_body("from fake");
  }
  expected<message> send_sync(std::string_view module, message msg, duration /*timeout*/) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"send_sync", std::string(module), msg});
    if (auto r = check_locked(module); !r) return unexpected(r.error());
    return new_resp_by_message(msg, "fake reply");
  }
  expected<void> send_resp(message resp) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"send_resp", {}, std::move(resp)});
    return {};
  }
  expected<group_delivery> send_to_group(std::string_view group, message msg) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"send_to_group", std::string(group), msg});
    auto it = groups_.find(std::string(group));
    if (it == groups_.end()) return unexpected(errc::group_not_found);
    group_delivery d;
    d.delivered = it->second.size();
    return d;
  }
  expected<group_replies> send_to_group_sync(std::string_view group, message msg,
                                             duration /*timeout*/) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"send_to_group_sync", std::string(group), msg});
    auto it = groups_.find(std::string(group));
    if (it == groups_.end()) return unexpected(errc::group_not_found);
    group_replies r;
    for (const auto& member : it->second) {
      auto reply = new_resp_by_message(msg, "fake reply");
      reply.route.source = member;
      r.replies.push_back(std::move(reply));
    }
    return r;
  }

 private:
  expected<void> check_locked(std::string_view module) const {
    if (modules_.count(std::string(module)) == 0) return unexpected(errc::module_not_found);
    if (closed_.count(std::string(module)) != 0) return unexpected(errc::channel_closed);
    return {};
  }

  mutable std::mutex mu_;
  std::vector<call> calls_;
  std::set<std::string> modules_;
  std::set<std::string> closed_;
  std::map<std::string, std::set<std::string>> groups_;
};

}  // namespace beehive::testing
