// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>

#include "type/context_type.hpp"

namespace beehive::detail {

/// The `channel` context type: every module is an inbox in this process. Holds no state of its
/// own: the registry records the modules, the endpoints are their inboxes.
class channel_type final : public context_type {
 public:
  void attach(type_host& /*host*/) override {}
  [[nodiscard]] expected<std::shared_ptr<endpoint>> make_endpoint(const module_info& info) override;
  [[nodiscard]] bool is_remote() const noexcept override { return false; }
  void stop() override {}
};

}  // namespace beehive::detail
