// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/channel_context.hpp"
#include "beehive/message_context.hpp"

namespace beehive {

/// The global context (Go's `GlobalContext`): routes every call to the context type that owns
/// the module or group, and carries the cancellation that ends the modules' lives.
///
/// Routing: a module call goes to the module's type, a group call to every type that has
/// members of the group, `send_resp` to `resp.header.type` (empty means `channel`).
/// A `channel` type is always registered. Several contexts can live in one process; a
/// process-wide one is `default_context()`. Every member function is thread-safe.
///
/// @code
/// beehive::context ctx;
/// (void)ctx.add_module({.name = "hub"});
/// (void)ctx.add_module_group("hub", "hubs");
/// auto reply = ctx.send_sync("hub", beehive::new_message(), std::chrono::seconds(1));
/// @endcode
class context final : public module_context, public message_context {
 public:
  context();
  ~context() override;
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  /// Registers the context type `type` (Go's InitContext); `backend` implements both halves.
  /// `already_exists` if the type is taken.
  template <class Backend>
  [[nodiscard]] expected<void> register_type(std::string type, std::shared_ptr<Backend> backend) {
    std::shared_ptr<module_context> mc = backend;
    std::shared_ptr<message_context> msgc = backend;
    return register_type(std::move(type), std::move(mc), std::move(msgc));
  }
  [[nodiscard]] expected<void> register_type(std::string type,
                                             std::shared_ptr<module_context> modules,
                                             std::shared_ptr<message_context> messages);
  /// True when `type` is registered.
  [[nodiscard]] bool has_type(std::string_view type) const;

  /// The built-in `channel` type.
  [[nodiscard]] channel_context& channel() noexcept;
  /// The reply table every type shares (for context types implemented outside this class).
  [[nodiscard]] const std::shared_ptr<detail::reply_table>& replies() const noexcept;

  // Module bookkeeping, routed by `info.type` / the module's type. `unsupported_type` when the
  // type is not registered.
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

  /// The context type of a registered module.
  [[nodiscard]] std::optional<std::string> module_type(std::string_view module) const;
  /// Names of the registered (not cleaned-up) modules, sorted.
  [[nodiscard]] std::vector<std::string> modules() const;
  /// Groups and their members, sorted.
  [[nodiscard]] std::map<std::string, std::vector<std::string>> groups() const;

  /// Cancels the context (Go's Cancel): restart loops end, `stop_token()` is signalled.
  void cancel() noexcept;
  [[nodiscard]] bool cancelled() const noexcept;
  /// Signalled by `cancel()` (Go's Done()).
  [[nodiscard]] std::stop_token stop_token() const noexcept;

  /// Replies that nobody waited for, across all types.
  [[nodiscard]] std::uint64_t orphan_responses() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The process-wide context for Go-style use; created on first use, lives until exit.
[[nodiscard]] context& default_context();

}  // namespace beehive
