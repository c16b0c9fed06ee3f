// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "channel/inbox.hpp"
#include "type/endpoint.hpp"

namespace beehive::detail {

/// The endpoint of a module hosted in this process: its bounded inbox. Used by every context
/// type whose modules receive here (channel; the socket type's client modules).
///
/// A send through it: one virtual call, then the inbox's producer lock; the message is moved
/// once, into the inbox's ring.
class inbox_endpoint : public endpoint {
 public:
  explicit inbox_endpoint(const module_info& info) : endpoint(info.name), box_(info.inbox) {}

  [[nodiscard]] expected<void> push(message&& msg, delivery how) override {
    return how == delivery::group ? box_.push_group(std::move(msg)) : box_.push(std::move(msg));
  }
  [[nodiscard]] inbox* local() noexcept override { return &box_; }
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
