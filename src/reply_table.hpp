// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"

namespace beehive::detail {

/// Where `send_sync` and `send_to_group_sync` wait for replies, keyed by request id; shared by
/// every context type so that a reply reaches its waiter whichever way it came.
///
/// Why register before sending and keep the reply in the slot: Go's anonymous channel is
/// unbuffered and its SendResp drops a reply that arrives before the waiter parks. Here the
/// slot exists before the request leaves and stores what arrives, so nothing is lost while the
/// waiter lives. Thread-safe.
class reply_table {
 public:
  using clock = std::chrono::steady_clock;

  /// A registered wait. Unregisters itself when destroyed.
  class pending {
   public:
    pending(const pending&) = delete;
    pending& operator=(const pending&) = delete;
    ~pending();
    /// Waits for the (first) reply until `deadline`; `timed_out` if none came.
    [[nodiscard]] expected<message> wait_one(clock::time_point deadline);
    /// Waits until every expected reply came or `deadline`; returns the replies that came and
    /// fills `missing` with the members not heard from (see `expect`).
    std::vector<message> wait_all(clock::time_point deadline, std::vector<std::string>& missing);
    /// Lowers the number of replies awaited (a member the request could not reach).
    void not_expecting(std::string_view member);

   private:
    friend class reply_table;
    struct slot;
    pending(reply_table& table, std::shared_ptr<slot> s);
    reply_table* table_;
    std::shared_ptr<slot> slot_;
  };

  reply_table();
  ~reply_table();
  reply_table(const reply_table&) = delete;
  reply_table& operator=(const reply_table&) = delete;

  /// Registers a wait for replies to `request_id`: one reply, or one from each of `members`.
  /// A reply is attributed to a member by its route source, else by the member the replying
  /// thread last received for (see `note_receiver`). A source equal to `requester` (the
  /// request's own source, which `new_resp_by_message` copies into every reply) says nothing
  /// about who replied and is not used for attribution.
  [[nodiscard]] std::unique_ptr<pending> expect(std::string request_id,
                                                std::vector<std::string> members = {},
                                                std::string requester = {});
  /// Hands a reply to the waiter of `resp.header.parent_id`; `orphan_response` (counted) if none.
  [[nodiscard]] expected<void> deliver(message&& resp);
  /// True when someone waits for replies to `request_id`.
  [[nodiscard]] bool waiting(std::string_view request_id) const;
  /// Replies that found nobody waiting.
  [[nodiscard]] std::uint64_t orphans() const noexcept;

  /// Records, for the calling thread, the module it last received a message for.
  static void note_receiver(std::string_view module);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace beehive::detail
