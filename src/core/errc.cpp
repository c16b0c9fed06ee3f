// SPDX-License-Identifier: Apache-2.0
#include "beehive/errc.hpp"

namespace beehive {
namespace {

class category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "beehive"; }
  [[nodiscard]] std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::module_not_found:
        return "module not found";
      case errc::group_not_found:
        return "group not found";
      case errc::queue_full:
        return "inbox full";
      case errc::channel_closed:
        return "channel closed";
      case errc::timed_out:
        return "timed out";
      case errc::orphan_response:
        return "nobody waits for this response";
      case errc::cancelled:
        return "context cancelled";
      case errc::already_exists:
        return "already exists";
      case errc::invalid_argument:
        return "invalid argument";
      case errc::type_mismatch:
        return "content type mismatch";
      case errc::not_serializable:
        return "content has no JSON form";
      case errc::protocol_error:
        return "protocol error";
      case errc::message_too_large:
        return "message too large";
      case errc::not_connected:
        return "peer not connected";
      case errc::unsupported_type:
        return "unsupported context type";
      case errc::config_error:
        return "configuration error";
      case errc::would_block:
        return "destination full (would block)";
    }
    return "unknown beehive error";
  }
};

}  // namespace

const std::error_category& beehive_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace beehive
