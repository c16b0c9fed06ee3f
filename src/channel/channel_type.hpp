// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <stop_token>

#include "type/context_type.hpp"

namespace beehive::detail {

/// The `channel` context type: every module is an inbox in this process. Holds no state of its
/// own but the context's stop token: the registry records the modules, the endpoints are their
/// inboxes, and a cancel wakes their blocked senders.
class channel_type final : public context_type {
 public:
  /// `cancel`: the context's stop token, given to every inbox it makes.
  explicit channel_type(std::stop_token cancel = {}) : cancel_(std::move(cancel)) {}
  void attach(type_host& /*host*/) override {}
  [[nodiscard]] expected<std::shared_ptr<endpoint>> make_endpoint(const module_info& info) override;
  [[nodiscard]] bool is_remote() const noexcept override { return false; }
  void stop() override {}

 private:
  const std::stop_token cancel_;
};

}  // namespace beehive::detail
