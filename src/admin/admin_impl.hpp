// SPDX-License-Identifier: Apache-2.0
// The admin's private state (admin::impl), shared by its files: admin.cpp (the server, its
// routes, the tap, start and stop) and admin_calls.cpp (the writes into the context, and how
// results and errors become HTTP replies).
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "admin/admin_address.hpp"
#include "admin/guarded_server.hpp"
#include "admin/snapshot.hpp"
#include "beehive/admin.hpp"
#include "beehive/context.hpp"

namespace beehive {

namespace detail {

inline constexpr const char* json_type = "application/json";

/// The HTTP status for an error of the context (404, 504, 400, else 503).
[[nodiscard]] int status_of(const std::error_code& ec);
/// An error reply: the status of `ec` and its JSON form.
void fail(httplib::Response& res, const std::error_code& ec);
/// A message as a Go beehive record (a C++ object without a JSON form is shown by name).
[[nodiscard]] std::string record_of(const message& m);

}  // namespace detail

struct admin::impl {
  impl(context& c, admin_options o, detail::admin_address a)
      : ctx(c),
        options(std::move(o)),
        where(std::move(a)),
        server(where.where == detail::admin_address::kind::unix_socket
                   ? std::function<bool(int)>([this](int fd) { return admit(fd); })
                   : std::function<bool(int)>()) {}

  // The unix socket serves its owner only; a refusal is counted.
  bool admit(int fd) {
    if (detail::peer_is_same_user(fd)) return true;
    count.refused_peer.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  context& ctx;
  const admin_options options;
  detail::admin_address where;
  std::string address_text;
  detail::guarded_server server;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> listen_ended{false};
  std::atomic<std::size_t> taps{0};
  std::once_flag stopped;

  mutable std::mutex sources_mu;
  detail::snapshot_sources sources;

  struct counters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> refused_peer{0};
    std::atomic<std::uint64_t> refused_writes{0};
    std::atomic<std::uint64_t> malformed{0};
    std::atomic<std::uint64_t> oversized{0};
  } count;

  [[nodiscard]] detail::system_snapshot snapshot() const {
    detail::admin_counters c;
    c.requests = count.requests.load(std::memory_order_relaxed);
    c.refused_peer = count.refused_peer.load(std::memory_order_relaxed);
    c.refused_writes = count.refused_writes.load(std::memory_order_relaxed);
    c.malformed = count.malformed.load(std::memory_order_relaxed);
    c.oversized = count.oversized.load(std::memory_order_relaxed);
    detail::snapshot_sources from;
    {
      std::lock_guard lock(sources_mu);
      from = sources;
    }
    return detail::take_snapshot(from, c);
  }

  void routes();
  void tap(const httplib::Request& req, httplib::Response& res);
  void send(const httplib::Request& req, httplib::Response& res);
  void request(const httplib::Request& req, httplib::Response& res);
  [[nodiscard]] bool writable(httplib::Response& res);
  [[nodiscard]] bool room_in(const std::string& module);
  void stop();
};

}  // namespace beehive
