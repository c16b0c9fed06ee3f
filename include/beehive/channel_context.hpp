// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "beehive/message_context.hpp"

namespace beehive {

namespace detail {
class reply_table;
}

/// The `channel` context type: message passing between modules of one process.
///
/// Each module has a bounded inbox (capacity, overflow policy and close mode per module).
/// Every member function is thread-safe. The destructor closes every inbox and waits for no
/// one: callers blocked in it must be gone before it runs.
///
/// @code
/// beehive::channel_context ctx;
/// (void)ctx.add_module({.name = "dst"});
/// (void)ctx.send("dst", beehive::new_message().fill_body("hello"));
/// auto msg = ctx.receive("dst");   // expected<message>
/// @endcode
class channel_context final : public module_context, public message_context {
 public:
  /// A context with its own reply table.
  channel_context();
  /// A context that shares `replies` with other context types (the global context does this,
  /// so that a reply arriving through any type reaches its waiter).
  explicit channel_context(std::shared_ptr<detail::reply_table> replies);
  ~channel_context() override;
  channel_context(const channel_context&) = delete;
  channel_context& operator=(const channel_context&) = delete;

  [[nodiscard]] expected<void> add_module(const module_info& info) override;
  [[nodiscard]] expected<void> add_module_group(std::string_view module,
                                                std::string_view group) override;
  [[nodiscard]] expected<void> cleanup(std::string_view module) override;

  [[nodiscard]] expected<void> send(std::string_view module, message msg) override;
  [[nodiscard]] expected<message> receive(std::string_view module) override;
  [[nodiscard]] expected<message> receive_for(std::string_view module, duration timeout) override;
  [[nodiscard]] expected<message> send_sync(std::string_view module, message msg,
                                            duration timeout) override;
  [[nodiscard]] expected<void> send_resp(message resp) override;
  [[nodiscard]] expected<group_delivery> send_to_group(std::string_view group,
                                                       message msg) override;
  [[nodiscard]] expected<group_replies> send_to_group_sync(std::string_view group, message msg,
                                                           duration timeout) override;

  /// Counters of one module's inbox; `module_not_found` if unknown.
  [[nodiscard]] expected<inbox_stats> stats(std::string_view module) const;
  /// Replies handed to `send_resp` that nobody waited for.
  [[nodiscard]] std::uint64_t orphan_responses() const noexcept;
  /// True when `module` is registered and not cleaned up.
  [[nodiscard]] bool has_module(std::string_view module) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace beehive
