// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "beehive/errc.hpp"
#include "beehive/message.hpp"

namespace beehive::detail {

class endpoint;

/// The one request/reply mechanism of a context, shared by every context type.
///
/// A request id is registered before its request leaves, by one of:
/// - a `waiter`, a caller of this process (`send_sync`: one id; `send_to_group_sync`: one id
///   per member, so a reply is attributed by its parent id alone and `missing` is exact);
/// - `expect_remote`, a requester in another process whose request arrived over a connection:
///   the reply goes back over that connection.
///
/// `deliver` hands a reply to its waiter or forwards it; anything else is an orphan, counted.
/// Why a reply and a timeout cannot both win: a waiter that gives up closes itself under its
/// own lock, and `deliver` stores a reply only under that lock while the waiter is open. So a
/// reply is either in the caller's hands or counted as an orphan, never "ok" and lost.
///
/// Every waiting call ends with a reason: a reply, `timed_out`, or the reason given to `fail`,
/// `fail_target` (channel_closed, not_connected) or `cancel_all` (cancelled). Thread-safe.
///
/// Per `send_sync`: one shard lock to register, one to deliver, one to withdraw; one waiter
/// lock to store and one to close; allocations: the map node and its key.
class reply_table {
 public:
  using clock = std::chrono::steady_clock;

  /// One waiting call, on the caller's stack. Its destructor withdraws every id it registered.
  class waiter {
   public:
    /// A wait for `members` replies (1 for `send_sync`).
    waiter(reply_table& table, std::size_t members);
    ~waiter();
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;

    /// Registers `request_id` as member `member`'s request, sent to `target` (used by
    /// `fail_target`; may be null). `cancelled` once the table is cancelled.
    [[nodiscard]] expected<void> expect(std::string_view request_id, std::size_t member,
                                        const endpoint* target);
    /// Member `member`'s request was not delivered: it is settled with `why`.
    void settle(std::size_t member, std::error_code why);
    /// Waits until every member is settled or `deadline`, then closes: a reply arriving
    /// later is an orphan.
    void wait_until(clock::time_point deadline);
    /// After `wait_until`: member `member`'s reply, or why there is none (`timed_out` when
    /// nothing came).
    [[nodiscard]] expected<message> take(std::size_t member);
    /// After `wait_until`: members in the order their replies or errors came.
    [[nodiscard]] std::vector<std::size_t> arrival_order() const;

   private:
    friend class reply_table;
    struct member_state {
      std::optional<message> reply;
      std::error_code error;
      bool settled = false;
    };
    // Called with mu_ held; false if the member was already settled or the waiter closed.
    bool settle_locked(std::size_t member, std::optional<message>& reply, std::error_code why);
    [[nodiscard]] member_state& member(std::size_t i) noexcept {
      return i == 0 ? first_ : more_[i - 1];
    }

    reply_table& table_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool sleeping_ = false;
    bool closed_ = false;
    const std::size_t count_;
    std::size_t remaining_;
    std::atomic<bool> done_{false};
    // Why the first member and its id are stored inline: a `send_sync` (one member) then
    // allocates nothing here; only groups use the vectors.
    member_state first_;
    std::vector<member_state> more_;
    std::size_t first_order_ = 0;
    std::vector<std::size_t> order_;
    // Registered ids, withdrawn by the destructor. The first one inline when it fits (a UUID
    // does not fit std::string's inline buffer).
    std::array<char, 48> first_id_buf_{};
    std::size_t first_id_len_ = 0;
    std::string first_id_long_;
    bool has_first_id_ = false;
    std::vector<std::string> more_ids_;
    [[nodiscard]] std::string_view first_id() const noexcept {
      return first_id_len_ > 0 ? std::string_view(first_id_buf_.data(), first_id_len_)
                               : std::string_view(first_id_long_);
    }
  };

  reply_table();
  ~reply_table();
  reply_table(const reply_table&) = delete;
  reply_table& operator=(const reply_table&) = delete;

  /// Hands `resp` to the waiter of `resp.header.parent_id`, or forwards it to the remote
  /// requester. `orphan_response` (counted) when nobody waits; `resp` is then left to the
  /// caller, whose destructor runs outside every lock.
  [[nodiscard]] expected<void> deliver(message&& resp);
  /// A sync request that arrived from another process over `origin`: its reply goes back there.
  /// At most `remote_limit` such requests are remembered; the oldest is forgotten (counted).
  void expect_remote(std::string_view request_id, std::weak_ptr<endpoint> origin);
  /// The request `request` was dropped before it was handled (cleanup with close_mode::drop):
  /// its waiter is settled with `why`; a remote requester gets an error message.
  void fail(const message& request, std::error_code why);
  /// Every waiting request sent to `target` is settled with `why` (its peer went away).
  void fail_target(const endpoint* target, std::error_code why);
  /// Forgets every remote requester reached over `origin` (its connection ended).
  void forget_origin(const endpoint* origin);
  /// Settles every waiter with `cancelled`; later `expect` calls fail with `cancelled`.
  void cancel_all();
  /// True when someone here or remote waits for replies to `request_id`.
  [[nodiscard]] bool waiting(std::string_view request_id) const;
  /// Replies that found nobody waiting.
  [[nodiscard]] std::uint64_t orphans() const noexcept;
  /// Remote requests forgotten because more than `remote_limit` were outstanding.
  [[nodiscard]] std::uint64_t remote_evictions() const noexcept;

  static constexpr std::size_t remote_limit = 65536;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace beehive::detail
