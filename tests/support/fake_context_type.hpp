// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a context type whose endpoints record what reaches them and answer sync
// requests at once through the context's reply table, as a peer in another process would.
// Checks routing to a type other than `channel` without a socket.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/reply_table.hpp"
#include "type/context_type.hpp"
#include "type/endpoint.hpp"

namespace beehive::test {

class fake_context_type final : public detail::context_type,
                                public std::enable_shared_from_this<fake_context_type> {
 public:
  struct push_record {
    std::string module;
    message msg;
    detail::delivery how;
  };

  class fake_endpoint final : public detail::endpoint {
   public:
    fake_endpoint(std::string name, fake_context_type& owner)
        : endpoint(std::move(name)), owner_(owner) {}
    expected<void> push(message&& msg, detail::delivery how) override {
      std::unique_lock lock(owner_.mu_);
      if (closed_) return unexpected(errc::channel_closed);
      owner_.pushes_.push_back({name(), msg, how});
      detail::type_host* host = owner_.host_;
      lock.unlock();
      // A sync request is answered at once, as a remote module would.
      if (msg.header.sync && host != nullptr && owner_.answer_sync_) {
        auto reply = new_resp_by_message(msg, "fake reply");
        reply.route.source = name();
        (void)host->replies().deliver(std::move(reply));
      }
      return {};
    }
    void close(std::vector<message>& /*dropped*/) override {
      std::lock_guard lock(owner_.mu_);
      closed_ = true;
      ++owner_.closes_;
    }
    void discard(std::vector<message>& dropped) override { close(dropped); }

   private:
    fake_context_type& owner_;
    bool closed_ = false;  // guarded by owner_.mu_
  };

  /// `remote` and `restarts_on_return`: what the type answers to `is_remote()` and
  /// `restarts_on_return()`.
  explicit fake_context_type(bool answer_sync = true, bool remote = true,
                             bool restarts_on_return = true)
      : answer_sync_(answer_sync), remote_(remote), restarts_on_return_(restarts_on_return) {}

  [[nodiscard]] bool is_remote() const noexcept override { return remote_; }
  [[nodiscard]] bool restarts_on_return() const noexcept override { return restarts_on_return_; }

  void attach(detail::type_host& host) override {
    std::lock_guard lock(mu_);
    host_ = &host;
  }
  expected<std::shared_ptr<detail::endpoint>> make_endpoint(const module_info& info) override {
    std::lock_guard lock(mu_);
    ++made_;
    made_for_.push_back(info);
    return std::make_shared<fake_endpoint>(info.name, *this);
  }
  void member_grouped(std::string_view module, std::string_view group) override {
    std::lock_guard lock(mu_);
    grouped_.emplace_back(std::string(module) + "@" + std::string(group));
  }
  void member_removed(std::string_view module) override {
    std::lock_guard lock(mu_);
    removed_.emplace_back(module);
  }
  void stop() override {
    std::lock_guard lock(mu_);
    host_ = nullptr;
    ++stops_;
  }

  [[nodiscard]] detail::type_host* host() {
    std::lock_guard lock(mu_);
    return host_;
  }
  [[nodiscard]] std::vector<push_record> pushes() const {
    std::lock_guard lock(mu_);
    return pushes_;
  }
  [[nodiscard]] std::size_t pushes_to(std::string_view module) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& p : pushes_) n += p.module == module ? 1 : 0;
    return n;
  }
  [[nodiscard]] int made() const {
    std::lock_guard lock(mu_);
    return made_;
  }
  /// The module_info of every make_endpoint call, in order.
  [[nodiscard]] std::vector<module_info> made_for() const {
    std::lock_guard lock(mu_);
    return made_for_;
  }
  [[nodiscard]] int closes() const {
    std::lock_guard lock(mu_);
    return closes_;
  }
  [[nodiscard]] int stops() const {
    std::lock_guard lock(mu_);
    return stops_;
  }
  [[nodiscard]] std::vector<std::string> grouped() const {
    std::lock_guard lock(mu_);
    return grouped_;
  }
  [[nodiscard]] std::vector<std::string> removed() const {
    std::lock_guard lock(mu_);
    return removed_;
  }

 private:
  const bool answer_sync_;
  const bool remote_;
  const bool restarts_on_return_;
  mutable std::mutex mu_;
  detail::type_host* host_ = nullptr;
  std::vector<push_record> pushes_;
  std::vector<std::string> grouped_;
  std::vector<std::string> removed_;
  int made_ = 0;
  std::vector<module_info> made_for_;
  int closes_ = 0;
  int stops_ = 0;
};

}  // namespace beehive::test
