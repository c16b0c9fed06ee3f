// SPDX-License-Identifier: Apache-2.0
#include "channel/channel_type.hpp"

#include "channel/inbox_endpoint.hpp"

namespace beehive::detail {

expected<std::shared_ptr<endpoint>> channel_type::make_endpoint(const module_info& info) {
  if (info.name.empty() || !valid_inbox_options(info.inbox)) {
    return unexpected(errc::invalid_argument);
  }
  return std::make_shared<inbox_endpoint>(info, cancel_);
}

}  // namespace beehive::detail
