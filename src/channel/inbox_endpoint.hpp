// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "channel/inbox.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {

/// The endpoint of a module hosted in this process: its bounded inbox. Used by every context
/// type whose modules receive here (channel; the socket type's client modules).
///
/// A send through it: one virtual call, then the inbox (for a plain `block`/`fail` module: one
/// CAS, no lock); the message is moved once, into the inbox's ring. `delivery::relay` never
/// waits (`would_block`, message intact, not counted); `when_writable` and `room` are the
/// inbox's flow control.
class inbox_endpoint : public endpoint {
 public:
  /// `cancel`: the context's stop token; senders blocked on the full inbox wake with
  /// `cancelled` when it is signalled.
  explicit inbox_endpoint(const module_info& info, std::stop_token cancel = {})
      : endpoint(info.name), box_(info.inbox, std::move(cancel)) {}

  [[nodiscard]] expected<void> push(message&& msg, delivery how) override {
    if (how == delivery::direct) [[likely]]
      return box_.push(std::move(msg));
    if (how == delivery::relay) return box_.try_push(std::move(msg));
    return how == delivery::group ? box_.push_group(std::move(msg)) : box_.push(std::move(msg));
  }
  [[nodiscard]] inbox* local() noexcept override { return &box_; }
  [[nodiscard]] endpoint_state state() const noexcept override {
    return box_.closed() ? endpoint_state::closed : endpoint_state::ready;
  }
  [[nodiscard]] bool when_writable(std::function<void()> fn) override {
    return box_.when_writable(std::move(fn));
  }
  [[nodiscard]] std::size_t room() const noexcept override {
    try {
      return box_.room();
    } catch (...) {  // a mutex that cannot lock: say nothing is known
      return unbounded;
    }
  }
  void close(std::vector<message>& dropped) override { box_.close(dropped); }
  void discard(std::vector<message>& dropped) override { box_.discard(dropped); }
  [[nodiscard]] bool reopen(const module_info& info) override {
    box_.reopen(info.inbox);
    return true;
  }

 private:
  inbox box_;
};

}  // namespace beehive::detail
