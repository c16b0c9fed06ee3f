// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "socket/link_reader.hpp"
#include "socket/socket_counters.hpp"
#include "socket/socket_io.hpp"
#include "socket/socket_link.hpp"
#include "type/context_type.hpp"

namespace beehive::detail {

/// The links of a socket type and the peer modules each carries.
///
/// - `start` adds a link and starts its reader thread. When the reader returns, the link is
///   torn down: its peers leave the host (`remove_peer`), callers waiting on them fail with
///   `not_connected` (`fail_target`), requests that came over it are forgotten
///   (`forget_origin`); then its handler hears of the end, and the event loop joins the thread.
/// - `add_peer` registers a peer module of a link with the host.
/// - `establish` and `expire` settle a link's handshake: whichever comes first wins.
///
/// Thread-safe. Calls the host outside its mutex.
class peer_registry {
 public:
  peer_registry(type_host& host, socket_counters& counters, socket_io& io);
  peer_registry(const peer_registry&) = delete;
  peer_registry& operator=(const peer_registry&) = delete;
  /// Joins what `stop` has not (nothing, once `stop` returned).
  ~peer_registry();

  /// Adds `link` and starts its reader. False once closed (the link is not kept).
  [[nodiscard]] bool start(const std::shared_ptr<socket_link>& link);
  /// A peer module to register, and the groups it joins.
  struct peer_entry {
    std::string module;
    std::vector<std::string> groups;
  };
  /// Registers `entries`, peers reached over `link`, with the host as one change
  /// (`type_host::update_peers`: a handshake's module exchange is one call). Called by the
  /// link's reader. One code per entry, in order: empty when registered, `already_exists` when
  /// a module of this process has the name.
  [[nodiscard]] std::vector<std::error_code> add_peers(socket_link& link,
                                                       const std::vector<peer_entry>& entries);
  /// Applies `batch`, changes of the peers of `link`, with the host as one change, and keeps
  /// the link's list of peers in step (an added peer's endpoint must be a `peer_endpoint` of
  /// the link). Called by the link's reader. One code per entry (`type_host::update_peers`).
  [[nodiscard]] std::vector<std::error_code> apply(socket_link& link,
                                                   const std::vector<peer_update>& batch);
  /// The link's peer subscribed to presence updates.
  void subscribe(socket_link& link);
  /// The established, subscribed links not ended.
  [[nodiscard]] std::vector<std::shared_ptr<socket_link>> presence_links() const;
  /// `add_peers` of one entry.
  [[nodiscard]] expected<void> add_peer(socket_link& link, const std::string& module,
                                        const std::vector<std::string>& groups);
  /// The handshake completed: `link` is established (a client link counts a connect). False
  /// when its deadline passed first.
  [[nodiscard]] bool establish(socket_link& link);
  /// The handshake deadline passed: a link still handshaking is `expired` (a server link
  /// counts a rejected handshake) and shut down; true for such a link, false when the
  /// handshake had settled.
  bool expire(socket_link& link);
  /// Waits until `link`'s handshake settled, at most `bound`; true when it is established.
  [[nodiscard]] bool wait_established(const socket_link& link, std::chrono::nanoseconds bound);
  /// Shuts down the server-side links other than `keep` that carry `module` (a peer that
  /// reconnected before its old link noticed the loss).
  void replace_older(const socket_link& keep, std::string_view module);

  /// Server-side links not ended (for `connmax`).
  [[nodiscard]] std::size_t server_links() const;
  /// Names of every link's peers (ended links excluded).
  [[nodiscard]] std::set<std::string, std::less<>> peer_names() const;

  [[nodiscard]] bool connected(std::string_view module) const;
  [[nodiscard]] bool wait_connected(std::string_view module, std::chrono::nanoseconds bound) const;
  [[nodiscard]] bool wait_disconnected(std::string_view module,
                                       std::chrono::nanoseconds bound) const;
  /// Names of the peers of established links, sorted.
  [[nodiscard]] std::vector<std::string> peers() const;

  /// Reader threads not yet joined.
  [[nodiscard]] std::size_t reader_threads() const;
  /// Waits until `reader_threads() <= at_most`, at most `bound`.
  [[nodiscard]] bool wait_reader_threads_for(std::size_t at_most,
                                             std::chrono::nanoseconds bound) const;

  /// From now on `start` fails. Wakes `wait_established`.
  void close();
  [[nodiscard]] bool closed() const;
  /// Closes, shuts every link down and joins every reader (each tears its link down first).
  /// Call after the event loop stopped. Idempotent.
  void stop();

 private:
  void run(const std::shared_ptr<socket_link>& link);
  void tear_down(const std::shared_ptr<socket_link>& link, bool was_established);
  void reap(const std::shared_ptr<socket_link>& link);
  [[nodiscard]] bool connected_locked(std::string_view module) const;
  [[nodiscard]] bool listed_locked(std::string_view module) const;

  type_host& host_;
  socket_counters& counters_;
  socket_io& io_;
  link_reader reader_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // link states, peers, joined readers, close
  std::vector<std::shared_ptr<socket_link>> links_;
  std::size_t readers_ = 0;  // reader threads started and not yet joined
  bool closed_ = false;
};

}  // namespace beehive::detail
