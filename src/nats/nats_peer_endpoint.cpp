// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_peer_endpoint.hpp"

#include <utility>

#include "core/deadline.hpp"
#include "core/log.hpp"

namespace beehive::detail {

nats_peer_endpoint::nats_peer_endpoint(std::string name, std::shared_ptr<nats_link> link,
                                       const announced_module& info)
    : endpoint(name),
      link_(std::move(link)),
      subject_(link_->subj.module(name)),
      window_(static_cast<std::int64_t>(link_->cfg.flow_window)),
      credits_(window_),
      overflow_(info.overflow),
      block_timeout_(info.block_timeout) {}

expected<void> nats_peer_endpoint::push(message&& msg, delivery how) {
  bool took = false;
  {
    std::unique_lock lk(mu_);
    if (closed_) return unexpected(errc::channel_closed);
    if (gone_) return unexpected(errc::not_connected);
    if (overflow_ != overflow_policy::drop_oldest) {
      if (credits_ <= 0) {
        if (how == delivery::relay) return unexpected(errc::would_block);
        if (overflow_ == overflow_policy::fail) {
          nats_counters::bump(link_->counters.credit_refusals);
          return unexpected(errc::queue_full);
        }
        nats_counters::bump(link_->counters.credit_waits);
        const auto deadline = block_timeout_.count() > 0
                                  ? deadline_after(block_timeout_)
                                  : std::chrono::steady_clock::time_point::max();
        const bool ready =
            cv_.wait_until(lk, deadline, [&] { return credits_ > 0 || closed_ || gone_; });
        if (closed_) return unexpected(errc::channel_closed);
        if (gone_) return unexpected(errc::not_connected);
        if (!ready) {
          nats_counters::bump(link_->counters.credit_refusals);
          return unexpected(errc::timed_out);
        }
      }
      --credits_;
      took = true;
    }
  }
  const bool request = msg.header.sync;
  auto r = request ? link_->send(*link_->rpc, subject_, msg,
                                 link_->subj.reply_to(name(), std::string_view(msg.header.id)))
                   : link_->send(*link_->data, subject_, msg);
  if (!r && took) grant(1);
  return r;
}

endpoint_state nats_peer_endpoint::state() const noexcept {
  std::lock_guard lk(mu_);
  if (closed_ || gone_) return endpoint_state::closed;
  return link_->data->connected() ? endpoint_state::ready : endpoint_state::connecting;
}

bool nats_peer_endpoint::when_writable(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  if (credits_ > 0 || closed_ || gone_ || overflow_ == overflow_policy::drop_oldest) return false;
  writable_ = std::move(fn);
  return true;
}

std::size_t nats_peer_endpoint::room() const noexcept {
  std::lock_guard lk(mu_);
  if (overflow_ == overflow_policy::drop_oldest) return unbounded;
  return credits_ > 0 ? static_cast<std::size_t>(credits_) : 0;
}

void nats_peer_endpoint::close(std::vector<message>& /*dropped*/) {
  std::function<void()> fn;
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    fn = std::move(writable_);
  }
  cv_.notify_all();
  if (fn) fn();
}

void nats_peer_endpoint::grant(std::uint64_t n) {
  std::function<void()> fn;
  {
    std::lock_guard lk(mu_);
    credits_ = std::min(window_, credits_ + static_cast<std::int64_t>(n));
    fn = std::move(writable_);
  }
  cv_.notify_all();
  if (fn) fn();
}

void nats_peer_endpoint::restart_window() {
  std::function<void()> fn;
  {
    std::lock_guard lk(mu_);
    if (overflow_ != overflow_policy::drop_oldest && credits_ < window_) {
      nats_counters::bump(link_->counters.unacknowledged,
                          static_cast<std::uint64_t>(window_ - credits_));
    }
    credits_ = window_;
    fn = std::move(writable_);
  }
  cv_.notify_all();
  if (fn) fn();
}

void nats_peer_endpoint::gone() {
  std::function<void()> fn;
  {
    std::lock_guard lk(mu_);
    if (gone_) return;
    gone_ = true;
    if (overflow_ != overflow_policy::drop_oldest && credits_ < window_) {
      nats_counters::bump(link_->counters.unacknowledged,
                          static_cast<std::uint64_t>(window_ - credits_));
    }
    fn = std::move(writable_);
  }
  cv_.notify_all();
  if (fn) fn();
}

void nats_peer_endpoint::update(const announced_module& info) {
  std::lock_guard lk(mu_);
  overflow_ = info.overflow;
  block_timeout_ = info.block_timeout;
}

expected<void> nats_reply_endpoint::push(message&& msg, delivery /*how*/) {
  const std::string subject = name() + "." + encode_token(std::string_view(msg.header.parent_id));
  auto r = link_->send(*link_->rpc, subject, msg);
  if (r) nats_counters::bump(link_->counters.replies_out);
  return r;
}

}  // namespace beehive::detail
