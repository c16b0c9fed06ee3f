// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a fake *remote* context type, a complete third type behind the type interface
// (type/context_type.hpp, type/endpoint.hpp) without any transport. Its endpoints stand for
// links to modules in other processes:
// - by default a link takes every push at once (recorded in `pushes`) and answers sync
//   requests at once through the context's reply table, as a peer in another process would;
// - `slow_link`: a link carries nothing until the test pumps it (`pump`); meanwhile pushes
//   wait in its bounded queue (`link_capacity`); a full queue answers a relay push with
//   `would_block` (and fires `when_writable` once pumping made room) and any other push with
//   `queue_full`;
// - `slow_connect`: `make_endpoint` returns at once an endpoint in state `connecting`; pushes
//   wait in its bounded queue (or fail with `queue_full` when it is full, or with
//   `not_connected` under `refuse_while_connecting`) until the test calls `finish_connect`;
// - peers come and go in batches (`announce`, `withdraw`: one `update_peers` call each);
// - every presence batch is recorded (`presence_events`, `presence_batches`), and a second
//   thread entering `presence` while one is inside is counted (`presence_overlaps`); its own
//   modules' joins and removals are also kept apart (`grouped`, `removed`).
// It knows nothing of the context beyond its `type_host`; the core has no special case for it.

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/reply_table.hpp"
#include "type/context_type.hpp"
#include "type/endpoint.hpp"

namespace beehive::test {

class fake_context_type final : public detail::context_type,
                                public std::enable_shared_from_this<fake_context_type> {
 public:
  struct options {
    bool answer_sync = true;               ///< a sync request on the wire is answered at once
    bool slow_link = false;                ///< the link carries only what `pump` lets through
    bool slow_connect = false;             ///< endpoints start `connecting`
    bool refuse_while_connecting = false;  ///< a push while connecting fails (not_connected)
    std::size_t link_capacity = 4;         ///< bound of an endpoint's queue (slow link, connecting)
    bool remote = true;                    ///< what `is_remote()` answers
    bool restarts_on_return = true;        ///< what `restarts_on_return()` answers
  };

  struct push_record {
    std::string module;
    message msg;
    detail::delivery how;
  };
  /// What a member's endpoint heard of a `send_to_group` call (`endpoint::push_group`).
  struct group_call {
    std::string module;
    std::string group;
    std::uint64_t id = 0;
    std::size_t index = 0;
    std::size_t count = 0;
  };

  class fake_endpoint final : public detail::endpoint {
   public:
    fake_endpoint(std::string name, fake_context_type& owner)
        : endpoint(std::move(name)),
          owner_(owner),
          state_(owner.opts_.slow_connect ? detail::endpoint_state::connecting
                                          : detail::endpoint_state::ready) {}
    ~fake_endpoint() override { ++owner_.destroyed_; }

    expected<void> push(message&& msg, detail::delivery how) override {
      std::unique_lock lock(owner_.mu_);
      if (state_ == detail::endpoint_state::closed) return unexpected(errc::channel_closed);
      const bool connecting = state_ == detail::endpoint_state::connecting;
      if (connecting && owner_.opts_.refuse_while_connecting) {
        return unexpected(errc::not_connected);
      }
      if (!connecting && !owner_.opts_.slow_link) {
        lock.unlock();
        owner_.on_wire(name(), std::move(msg), how);
        return {};
      }
      if (queue_.size() >= owner_.opts_.link_capacity) {
        return unexpected(how == detail::delivery::relay ? errc::would_block : errc::queue_full);
      }
      queue_.push_back({name(), std::move(msg), how});
      return {};
    }
    expected<void> push_group(message&& msg, const detail::group_send& call) override {
      {
        std::lock_guard lock(owner_.mu_);
        owner_.group_calls_.push_back(
            {name(), std::string(call.group), call.id, call.index, call.count});
      }
      return push(std::move(msg), detail::delivery::group);
    }
    [[nodiscard]] detail::endpoint_state state() const noexcept override {
      std::lock_guard lock(owner_.mu_);
      return state_;
    }
    [[nodiscard]] bool when_writable(std::function<void()> fn) override {
      std::lock_guard lock(owner_.mu_);
      if (state_ == detail::endpoint_state::closed || queue_.size() < owner_.opts_.link_capacity) {
        return false;
      }
      writable_ = std::move(fn);
      return true;
    }
    [[nodiscard]] std::size_t room() const noexcept override {
      std::lock_guard lock(owner_.mu_);
      if (state_ == detail::endpoint_state::ready && !owner_.opts_.slow_link) return unbounded;
      return owner_.opts_.link_capacity - std::min(owner_.opts_.link_capacity, queue_.size());
    }
    void close(std::vector<message>& /*dropped*/) override { shut(nullptr); }
    void discard(std::vector<message>& dropped) override { shut(&dropped); }

    /// Carries up to `n` queued messages over the link (only once connected); fires a pending
    /// `when_writable` if that made room. Returns how many went.
    std::size_t pump(std::size_t n) {
      std::vector<push_record> out;
      std::function<void()> fn;
      {
        std::lock_guard lock(owner_.mu_);
        if (state_ != detail::endpoint_state::ready) return 0;
        while (n-- > 0 && !queue_.empty()) {
          out.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        if (!out.empty()) fn = std::move(writable_);
        writable_ = nullptr;
      }
      for (auto& r : out) owner_.on_wire(r.module, std::move(r.msg), r.how);
      if (fn) fn();
      return out.size();
    }
    /// The link is up: state `ready`; on a fast link what waited goes out at once.
    void finish_connect() {
      {
        std::lock_guard lock(owner_.mu_);
        if (state_ != detail::endpoint_state::connecting) return;
        state_ = detail::endpoint_state::ready;
      }
      if (!owner_.opts_.slow_link) pump(static_cast<std::size_t>(-1));
    }

   private:
    void shut(std::vector<message>* dropped) {
      std::function<void()> fn;
      {
        std::lock_guard lock(owner_.mu_);
        if (state_ != detail::endpoint_state::closed) ++owner_.closes_;
        if (dropped != nullptr) {
          ++owner_.discards_;
          for (auto& r : queue_) dropped->push_back(std::move(r.msg));
          queue_.clear();
        }
        state_ = detail::endpoint_state::closed;
        fn = std::move(writable_);
        writable_ = nullptr;
      }
      if (fn) fn();  // closed: the next push says so
    }

    fake_context_type& owner_;
    // Guarded by owner_.mu_:
    detail::endpoint_state state_;
    std::deque<push_record> queue_;
    std::function<void()> writable_;
  };

  explicit fake_context_type(bool answer_sync = true) : opts_{answer_sync} {}
  explicit fake_context_type(options o) : opts_(o) {}
  /// `remote` and `restarts_on_return`: what the type answers to `is_remote()` and
  /// `restarts_on_return()`.
  fake_context_type(bool answer_sync, bool remote, bool restarts_on_return = true)
      : opts_{.answer_sync = answer_sync,
              .remote = remote,
              .restarts_on_return = restarts_on_return} {}

  // ---- the type interface ------------------------------------------------------------------

  [[nodiscard]] bool is_remote() const noexcept override { return opts_.remote; }
  [[nodiscard]] bool restarts_on_return() const noexcept override {
    return opts_.restarts_on_return;
  }

  void attach(detail::type_host& host) override {
    std::lock_guard lock(mu_);
    host_ = &host;
    ++attaches_;
  }
  expected<std::shared_ptr<detail::endpoint>> make_endpoint(const module_info& info) override {
    auto ep = std::make_shared<fake_endpoint>(info.name, *this);
    std::lock_guard lock(mu_);
    ++made_;
    endpoints_[info.name] = ep;
    made_names_.insert(info.name);
    made_for_.push_back(info);
    return ep;
  }
  void presence(std::span<const detail::presence_event> events) override {
    if (inside_presence_.exchange(true)) ++presence_overlaps_;
    std::function<void(std::span<const detail::presence_event>)> hook;
    {
      std::lock_guard lock(mu_);
      ++presence_batches_;
      presence_.insert(presence_.end(), events.begin(), events.end());
      // Its own modules (made by make_endpoint, not peers) joining groups and cleaned up.
      for (const auto& e : events) {
        if (e.peer || made_names_.count(e.module) == 0) continue;
        if (e.kind == detail::presence_kind::grouped) grouped_.push_back(e.module + "@" + e.group);
        if (e.kind == detail::presence_kind::removed) removed_.push_back(e.module);
      }
      hook = on_presence_;
    }
    if (hook) hook(events);
    inside_presence_ = false;
  }
  void stop() override {
    std::lock_guard lock(mu_);
    host_ = nullptr;
    ++stops_;
  }

  // ---- what a remote type does on its own ----------------------------------------------------

  /// A remote host announces modules (one `update_peers` batch): each gets an endpoint of this
  /// type and joins `groups`. One code per name.
  std::vector<std::error_code> announce(const std::vector<std::string>& names,
                                        const std::vector<std::string>& groups = {}) {
    std::vector<detail::peer_update> batch;
    detail::type_host* host = nullptr;
    {
      std::lock_guard lock(mu_);
      host = host_;
      for (const auto& n : names) {
        auto ep = std::make_shared<fake_endpoint>(n, *this);
        endpoints_[n] = ep;
        batch.push_back({detail::peer_op::add, n, ep, groups});
      }
    }
    if (host == nullptr) return {};
    return host->update_peers(batch);
  }
  /// A remote host's modules went away (one batch): removed if their endpoint is still ours.
  std::vector<std::error_code> withdraw(const std::vector<std::string>& names) {
    std::vector<detail::peer_update> batch;
    detail::type_host* host = nullptr;
    {
      std::lock_guard lock(mu_);
      host = host_;
      for (const auto& n : names) {
        auto it = endpoints_.find(n);
        batch.push_back(
            {detail::peer_op::remove, n, it == endpoints_.end() ? nullptr : it->second.lock(), {}});
      }
    }
    if (host == nullptr) return {};
    return host->update_peers(batch);
  }
  /// The last endpoint made for `module` (by make_endpoint or announce), or null.
  [[nodiscard]] std::shared_ptr<fake_endpoint> endpoint_of(const std::string& module) const {
    std::lock_guard lock(mu_);
    auto it = endpoints_.find(module);
    return it == endpoints_.end() ? nullptr : it->second.lock();
  }
  /// Runs inside `presence`, after the batch is recorded (a type reacting to presence).
  void on_presence(std::function<void(std::span<const detail::presence_event>)> fn) {
    std::lock_guard lock(mu_);
    on_presence_ = std::move(fn);
  }

  // ---- what happened -----------------------------------------------------------------------

  [[nodiscard]] detail::type_host* host() {
    std::lock_guard lock(mu_);
    return host_;
  }
  [[nodiscard]] std::vector<push_record> pushes() const {
    std::lock_guard lock(mu_);
    return pushes_;
  }
  [[nodiscard]] std::vector<group_call> group_calls() const {
    std::lock_guard lock(mu_);
    return group_calls_;
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
  [[nodiscard]] int discards() const {
    std::lock_guard lock(mu_);
    return discards_;
  }
  [[nodiscard]] int stops() const {
    std::lock_guard lock(mu_);
    return stops_;
  }
  [[nodiscard]] int attaches() const {
    std::lock_guard lock(mu_);
    return attaches_;
  }
  /// Endpoints of this type destroyed so far.
  [[nodiscard]] int destroyed() const { return destroyed_.load(); }
  [[nodiscard]] std::vector<std::string> grouped() const {
    std::lock_guard lock(mu_);
    return grouped_;
  }
  [[nodiscard]] std::vector<std::string> removed() const {
    std::lock_guard lock(mu_);
    return removed_;
  }
  [[nodiscard]] std::vector<detail::presence_event> presence_events() const {
    std::lock_guard lock(mu_);
    return presence_;
  }
  [[nodiscard]] int presence_batches() const {
    std::lock_guard lock(mu_);
    return presence_batches_;
  }
  [[nodiscard]] int presence_overlaps() const { return presence_overlaps_.load(); }

 private:
  void on_wire(const std::string& module, message&& msg, detail::delivery how) {
    std::optional<message> reply;
    if (msg.header.sync && opts_.answer_sync) {
      reply = new_resp_by_message(msg, "fake reply");
      reply->route.source = module;
    }
    detail::type_host* host = nullptr;
    {
      std::lock_guard lock(mu_);
      pushes_.push_back({module, std::move(msg), how});
      host = host_;
    }
    // A sync request is answered at once, as a remote module would.
    if (reply && host != nullptr) (void)host->replies().deliver(std::move(*reply));
  }

  const options opts_;
  mutable std::mutex mu_;
  detail::type_host* host_ = nullptr;
  std::map<std::string, std::weak_ptr<fake_endpoint>> endpoints_;  // owned by the context
  std::vector<push_record> pushes_;
  std::vector<group_call> group_calls_;
  std::set<std::string> made_names_;
  std::vector<std::string> grouped_;  // of its own modules, from presence
  std::vector<std::string> removed_;  // of its own modules, from presence
  std::vector<detail::presence_event> presence_;
  std::function<void(std::span<const detail::presence_event>)> on_presence_;
  int presence_batches_ = 0;
  int made_ = 0;
  std::vector<module_info> made_for_;
  int closes_ = 0;
  int discards_ = 0;
  int stops_ = 0;
  int attaches_ = 0;
  std::atomic<int> destroyed_{0};
  std::atomic<bool> inside_presence_{false};
  std::atomic<int> presence_overlaps_{0};
};

}  // namespace beehive::test
