// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <system_error>
#include <tl/expected.hpp>

namespace beehive {

/// Failures a caller of beehive should expect. Every call reports them as values.
///
/// Why values and not exceptions: a full inbox, a timeout or an unknown module are ordinary
/// outcomes of message passing between modules (CAF, SObjectizer); the caller decides.
enum class errc {
  module_not_found = 1,  ///< no module of that name is registered with the context
  group_not_found,       ///< no group of that name, or the group has no members
  queue_full,            ///< the inbox is full and its overflow policy is `fail`
  channel_closed,        ///< the module was cleaned up (or its connection is gone)
  timed_out,             ///< the bound given to a waiting call expired
  orphan_response,       ///< `send_resp` found nobody waiting for that parent id
  cancelled,             ///< the context was cancelled while the call waited
  already_exists,        ///< a module or type of that name is already registered
  invalid_argument,      ///< the call's arguments are unusable (empty name, bad option)
  type_mismatch,         ///< content does not hold the requested type
  not_serializable,      ///< content holds a C++ object that has no JSON form
  protocol_error,        ///< bytes from a peer do not form a valid beehive record or frame
  message_too_large,     ///< a record exceeds the configured buffer size
  not_connected,         ///< the peer of a remote module is not connected
  unsupported_type,      ///< no context of that type is registered
  config_error,          ///< configuration file missing or invalid
  would_block,           ///< the destination is full and the caller asked not to wait
                         ///< (a context type relaying a message); retry when writable
};

/// The error category of `errc` ("beehive").
const std::error_category& beehive_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), beehive_category()};
}

/// Result type of every fallible call: a value or a `std::error_code`.
template <class T>
using expected = tl::expected<T, std::error_code>;

/// Shorthand for returning a failure: `return unexpected(errc::timed_out);`.
inline tl::unexpected<std::error_code> unexpected(errc e) noexcept {
  return tl::unexpected<std::error_code>(make_error_code(e));
}
inline tl::unexpected<std::error_code> unexpected(std::error_code ec) noexcept {
  return tl::unexpected<std::error_code>(ec);
}

}  // namespace beehive

template <>
struct std::is_error_code_enum<beehive::errc> : std::true_type {};
