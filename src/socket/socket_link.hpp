// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "beehive/message.hpp"
#include "beehive/socket_config.hpp"
#include "beehive/socket_context.hpp"
#include "socket/connection.hpp"
#include "socket/handshake.hpp"

namespace beehive::detail {

class hosted_endpoint;
class peer_endpoint;
struct socket_link;

/// Where a link stands. It only moves down this list.
enum class link_state {
  handshaking,  ///< connected; the handshake has not completed (records are read, not trusted)
  established,  ///< the handshake completed: the link's peers are live
  expired,      ///< the handshake deadline passed first: the link is being closed
  ended,        ///< the reader returned and the link's peers are forgotten
};

/// What one side (the server or the client) does with its links' handshakes and ends. Called
/// on the link's reader thread.
class link_handler {
 public:
  link_handler() = default;
  link_handler(const link_handler&) = delete;
  link_handler& operator=(const link_handler&) = delete;

  /// A handshake record: on the server side the link's first record, on the client side the
  /// answer to its request. True when the link is established; false closes it.
  [[nodiscard]] virtual bool on_handshake(const std::shared_ptr<socket_link>& link,
                                          const message& m) = 0;
  /// The link ended and its peers are forgotten; `was_established` says whether its handshake
  /// had completed.
  virtual void on_ended(const std::shared_ptr<socket_link>& link, bool was_established) = 0;
  /// A presence record (`is_presence_record`) came over an established link: a subscription
  /// (server side) or an update (client side). See handshake.hpp.
  virtual void on_presence(socket_link& /*link*/, const message& /*m*/) {}

 protected:
  ~link_handler() = default;
};

/// One connection as the socket type keeps it: the connection itself, the thread that reads
/// it, where its handshake stands and which peer modules it carries. Made by the server (an
/// accepted connection) or the client (a module's connection); kept by the `peer_registry`.
///
/// Fields marked "registry's mutex" are guarded by the `peer_registry`'s mutex; the others
/// are set before the reader starts.
struct socket_link {
  socket_link(std::shared_ptr<connection> c, link_handler& h, std::string who)
      : conn(std::move(c)), handler(h), label(std::move(who)) {}
  socket_link(const socket_link&) = delete;
  socket_link& operator=(const socket_link&) = delete;

  [[nodiscard]] bool server_side() const noexcept { return conn->server_side; }

  const std::shared_ptr<connection> conn;
  link_handler& handler;
  /// For the log: the module on our side (client) or where it came in (server).
  const std::string label;

  // Client side: the module that opened the link and its life the attempt belongs to.
  std::string owner;
  std::weak_ptr<hosted_endpoint> owner_ep;
  std::uint64_t generation = 0;
  std::string handshake_id;  ///< id of our handshake request

  // Registry's mutex.
  link_state state = link_state::handshaking;
  /// Modules of the other side reached over this link (registered with the host). Written
  /// under the mutex by the link's reader only, so that reader reads it without the mutex.
  std::vector<std::shared_ptr<peer_endpoint>> peers;
  /// Where replies to sync requests that came over this link go (not registered).
  std::shared_ptr<peer_endpoint> origin;
  std::thread reader;
  /// Server side: the peer subscribed to presence updates.
  bool presence = false;

  // Server side, the server's presence mutex: the subscribed peer and the exchange last sent.
  std::string presence_peer;
  std::string presence_sent;

  // Client side, the link's reader only: the server's modules and groups as last learned.
  module_exchange known;
};

/// The kind of socket the links of `entry` use. `config_error` for an unknown socket type.
[[nodiscard]] expected<socket_kind> link_kind(const socket_entry& entry,
                                              const socket_options& options);

/// The connection of a new link of `entry` over the connected descriptor `fd`, which it owns
/// from now on. `outbound` bounds its outbound queue: the inbox options of the module of this
/// process the link belongs to (see `socket_options::outbound`).
[[nodiscard]] std::shared_ptr<connection> make_connection(
    int fd, socket_kind kind, const socket_entry& entry, const inbox_options& outbound,
    bool server_side, std::shared_ptr<socket_counters> counters);

}  // namespace beehive::detail
