// SPDX-License-Identifier: Apache-2.0
#include "socket/link_reader.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "beehive/codec.hpp"
#include "core/log.hpp"
#include "core/reply_table.hpp"
#include "socket/handshake.hpp"
#include "socket/hosted_endpoint.hpp"
#include "socket/peer_endpoint.hpp"

namespace beehive::detail {
namespace {

void bump(std::atomic<std::uint64_t>& c) { socket_counters::bump(c); }

// A message field as a string_view (fields convert to one, whatever their own type).
template <class Field>
std::string_view sv(const Field& f) {
  return std::string_view(f);
}

}  // namespace

void link_reader::run(const std::shared_ptr<socket_link>& link) {
  transport& wire = link->conn->wire;
  const bool server = link->server_side();
  std::vector<read_item> items;
  std::string who = link->label;  // for the log: our module, or the peer once it is known
  handshake_step step = initial_handshake_step(server);
  for (;;) {
    const read_status st = wire.read(items);
    if (st != read_status::ok) {
      // A read that failed because we shut the link (its handshake deadline, a stop) is not
      // the peer's fault.
      const bool ours = wire.is_shut_down();
      if (st == read_status::bad_frame) {
        bump(counters_.bad_frames);
        log().warn("socket: bad frame from '{}'; closing the stream", who);
      } else if (st == read_status::truncated && !ours) {
        bump(counters_.truncated_frames);
        log().warn("socket: '{}' closed in the middle of a frame", who);
      }
      return;
    }
    for (auto& item : items) {
      // Before its handshake a server trusts nothing from the peer: a first record that is too
      // long or not a record at all closes the link (a stream peer may still be sending it).
      const bool untrusted = step == handshake_step::awaiting_request;
      if (item.is_oversized()) {
        bump(counters_.oversized_records);
        log().warn("socket: record larger than buffersize ({} bytes) from '{}' rejected",
                   wire.buffer_size(), who);
        if (untrusted) {
          bump(counters_.handshakes_rejected);
          return;
        }
        continue;
      }
      auto m = decode_message(item.record);
      if (!m) {
        bump(counters_.malformed_records);
        log().warn("socket: malformed record ({} bytes) from '{}' rejected", item.record.size(),
                   who);
        if (untrusted) {
          bump(counters_.handshakes_rejected);
          return;
        }
        continue;
      }
      bump(counters_.records_in);
      switch (classify_record(step, *m, link->handshake_id)) {
        case record_role::handshake_request:
        case record_role::handshake_response:
          if (!link->handler.on_handshake(link, *m)) return;
          if (server) who = std::string(sv(m->route.source));
          step = handshake_step::established;
          break;
        case record_role::ordinary:
          route(*link, std::move(*m));
          break;
      }
    }
  }
}

bool link_reader::wait_writable(const socket_link& link, endpoint* owner, std::string_view dest,
                                unsigned& unsignalled) {
  struct gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
  };
  auto g = std::make_shared<gate>();
  auto fn = [g] {
    {
      std::lock_guard lock(g->mu);
      g->open = true;
    }
    g->cv.notify_all();
  };
  const bool registered =
      owner != nullptr ? owner->when_writable(fn) : host_.when_writable(dest, fn);
  const transport& wire = link.conn->wire;
  std::unique_lock lock(g->mu);
  if (!registered) {
    // Room already (retry at once), or a host that cannot signal: then a short pause keeps
    // this from spinning.
    if (unsignalled++ > 0) g->cv.wait_for(lock, relay_pause);
    return !wire.is_shut_down();
  }
  unsignalled = 0;
  // Why a bounded wait in a loop: the link may be shut down meanwhile (a stop, a cleanup), and
  // the reader must then return without waiting for room that may never come.
  while (!g->cv.wait_for(lock, shutdown_check, [&] { return g->open; })) {
    if (wire.is_shut_down()) return false;
  }
  return true;
}

// Only the link's reader changes its `peers` and `origin`, so it reads them unlocked.
void link_reader::route(socket_link& link, message&& msg) {
  if (is_presence_record(msg)) {
    link.handler.on_presence(link, msg);
    return;
  }
  reply_table& replies = host_.replies();
  const bool waited =
      !sv(msg.header.parent_id).empty() && replies.waiting(sv(msg.header.parent_id));
  // A reply goes to the reply table (an orphan is counted there); any other record with a
  // parent id is a message for its destination, as Go delivers it (handshake.hpp).
  if (is_reply_record(msg, waited)) {
    // Counted before the waiter can wake and read the counters.
    if (waited) bump(counters_.replies_routed);
    const std::string parent(sv(msg.header.parent_id));
    auto r = replies.deliver(std::move(msg));
    if (r) {
      if (!waited) bump(counters_.replies_routed);
      return;
    }
    if (waited) counters_.replies_routed.fetch_sub(1, std::memory_order_relaxed);
    if (r.error() == make_error_code(errc::orphan_response)) {
      bump(counters_.orphan_replies);
      log().debug("socket: reply to {}: nobody waits for it", parent);
    } else {
      bump(counters_.undeliverable);
      log().warn("socket: reply to {} not forwarded: {}", parent, r.error().message());
    }
    return;
  }
  const std::string dest(sv(msg.route.destination));
  if (dest.empty()) {
    bump(counters_.unknown_destination);
    log().warn("socket: record {} has no destination; dropped", sv(msg.header.id));
    return;
  }
  const bool own_side = std::any_of(link.peers.begin(), link.peers.end(),
                                    [&](const auto& p) { return p->name() == dest; });
  if (!link.server_side() && own_side) {
    // A client never sends a record back over the link it came from: that would loop.
    bump(counters_.unknown_destination);
    log().warn("socket: record {} for '{}' came from the module's own side; dropped",
               sv(msg.header.id), dest);
    return;
  }
  const bool request = msg.header.sync;
  if (request) replies.expect_remote(sv(msg.header.id), link.origin);
  // The module that opened this link gets its records straight into its inbox: the server may
  // write to it before the context has published the module.
  std::shared_ptr<hosted_endpoint> owner;
  if (!link.server_side() && dest == link.owner) owner = link.owner_ep.lock();
  auto r = owner ? owner->push(std::move(msg), delivery::relay)
                 : host_.deliver(dest, std::move(msg), delivery::relay);
  // A full destination: this reader holds the message and reads nothing more from its link
  // (back-pressure on this one peer) until the destination has room again, or the link ends.
  unsigned unsignalled = 0;
  while (!r && r.error() == make_error_code(errc::would_block)) {
    if (!wait_writable(link, owner.get(), dest, unsignalled)) {
      r = unexpected(errc::not_connected);
      break;
    }
    r = owner ? owner->push(std::move(msg), delivery::relay)
              : host_.deliver(dest, std::move(msg), delivery::relay);
  }
  if (r) {
    bump(counters_.forwarded);
    return;
  }
  if (r.error() == make_error_code(errc::module_not_found)) {
    bump(counters_.unknown_destination);
  } else {
    bump(counters_.undeliverable);
  }
  log().warn("socket: record for '{}' not delivered: {}", dest, r.error().message());
  // The requester gets an error reply at once (the message was not moved from).
  if (request) replies.fail(msg, r.error());
}

}  // namespace beehive::detail
