// SPDX-License-Identifier: Apache-2.0
// The admin API: cpp-httplib (Debian's libcpp-httplib) serves it on the admin's own threads.
// Every read builds one snapshot (admin/snapshot.hpp) and renders it; writes call the context
// (admin_calls.cpp). Here: the routes, the tap, start and stop.
#include "beehive/admin.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "admin/admin_address.hpp"
#include "admin/admin_impl.hpp"
#include "admin/dashboard_page.hpp"
#include "admin/guarded_server.hpp"
#include "admin/json_api.hpp"
#include "admin/metrics_text.hpp"
#include "admin/snapshot.hpp"
#include "beehive/codec.hpp"
#include "beehive/context.hpp"
#include "core/context_state.hpp"
#include "core/log.hpp"

namespace beehive {

using detail::admin_address;
using detail::fail;
using detail::json_type;
using detail::record_of;

void admin::impl::tap(const httplib::Request& req, httplib::Response& res) {
  detail::tap_filter filter;
  if (req.has_param("module")) {
    filter = {detail::tap_scope::module, req.get_param_value("module")};
  } else if (req.has_param("group")) {
    filter = {detail::tap_scope::group, req.get_param_value("group")};
  }
  if (taps.fetch_add(1) >= options.max_taps) {
    taps.fetch_sub(1);
    res.status = 503;
    res.set_content(detail::error_json("too_many_taps", 0, "every tap slot is in use"), json_type);
    return;
  }
  auto& hub = detail::context_state_of(ctx).tap;
  struct state {
    std::shared_ptr<detail::tap_subscription> sub;
    std::uint64_t dropped_shown = 0;
    std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
  };
  auto st = std::make_shared<state>();
  st->sub = hub.attach(filter, options.tap_queue);
  res.set_chunked_content_provider(
      "application/x-ndjson",
      [this, st](std::size_t, httplib::DataSink& sink) {
        if (stopping.load()) {
          sink.done();
          return true;
        }
        auto& batch = st->sub->take_for(std::chrono::milliseconds(200));
        std::string out;
        for (const auto& t : batch) {
          out += R"({"time_ms":)";
          out += std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(t.at.time_since_epoch())
                  .count());
          out += R"(,"target":)";
          out += nlohmann::json(std::string_view(t.target))
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
          out += t.to_group ? R"(,"group":true)" : R"(,"group":false)";
          if (t.reply) out += R"(,"reply":true)";
          out += R"(,"message":)";
          out += record_of(t.msg);
          out += "}\n";
        }
        if (const auto d = st->sub->dropped(); d != st->dropped_shown) {
          st->dropped_shown = d;
          out += R"({"dropped":)" + std::to_string(d) + "}\n";
        }
        const auto now = std::chrono::steady_clock::now();
        // An empty line each idle second: a reader that went away is noticed by the write.
        if (out.empty() && now - st->last_write >= std::chrono::seconds(1)) out = "\n";
        if (out.empty()) return true;
        st->last_write = now;
        return sink.write(out.data(), out.size());
      },
      [this, st, &hub](bool) {
        hub.detach(st->sub);
        taps.fetch_sub(1);
      });
}

void admin::impl::routes() {
  server.set_payload_max_length(options.max_request_bytes);
  server.set_read_timeout(5, 0);
  server.set_keep_alive_max_count(1000);
  server.set_write_timeout(5, 0);
  const std::size_t workers = options.max_taps + 4;
  server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server.set_pre_routing_handler([this](const httplib::Request&, httplib::Response&) {
    count.requests.fetch_add(1, std::memory_order_relaxed);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request&,
                                                                       httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413) {
      count.oversized.fetch_add(1, std::memory_order_relaxed);
      res.set_content(detail::error_json("too_large", 0, "the request is too large"), json_type);
    } else if (res.status == 404) {
      res.set_content(detail::error_json("not_found", 0, "no such path"), json_type);
    } else {
      count.malformed.fetch_add(1, std::memory_order_relaxed);
      res.set_content(detail::error_json("bad_request", 0, "the request is malformed"), json_type);
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(detail::dashboard_html()), "text/html; charset=utf-8");
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(detail::render_metrics(snapshot()), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/api/stats", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(detail::render_stats_json(snapshot()), json_type);
  });
  server.Get("/api/modules", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(detail::render_modules_json(snapshot()), json_type);
  });
  server.Get("/api/groups", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(detail::render_groups_json(snapshot()), json_type);
  });
  server.Get("/api/tap",
             [this](const httplib::Request& req, httplib::Response& res) { tap(req, res); });
  server.Post("/api/send",
              [this](const httplib::Request& req, httplib::Response& res) { send(req, res); });
  server.Post("/api/request",
              [this](const httplib::Request& req, httplib::Response& res) { request(req, res); });
}

void admin::impl::stop() {
  std::call_once(stopped, [&] {
    stopping.store(true);
    server.stop();
    if (thread.joinable()) thread.join();
    if (where.where == admin_address::kind::unix_socket) ::unlink(where.path.c_str());
  });
}

namespace {

// A unix socket path that is free to bind: nothing there, or a stale socket (its server is
// gone), which is removed.
expected<void> claim_unix_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode)) return unexpected(errc::invalid_argument);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected(errc::not_connected);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  const bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  if (live) return unexpected(errc::already_exists);
  ::unlink(path.c_str());
  return {};
}

}  // namespace

admin::admin(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

admin::~admin() { stop(); }

const std::string& admin::address() const noexcept { return impl_->address_text; }

void admin::watch(const core& c) {
  std::lock_guard lock(impl_->sources_mu);
  impl_->sources.cores.push_back(&c);
}

void admin::watch_socket(std::string name, std::function<socket_stats()> read) {
  std::lock_guard lock(impl_->sources_mu);
  impl_->sources.sockets.emplace_back(std::move(name), std::move(read));
}

std::string admin::metrics_text() const { return detail::render_metrics(impl_->snapshot()); }

std::string admin::stats_json() const { return detail::render_stats_json(impl_->snapshot()); }

void admin::stop() { impl_->stop(); }

std::optional<admin_options> admin_options_from_env() {
  const char* address = std::getenv("BEEHIVE_ADMIN");
  if (address == nullptr || *address == '\0') return std::nullopt;
  admin_options out;
  out.address = address;
  const char* writes = std::getenv("BEEHIVE_ADMIN_WRITES");
  out.allow_writes = writes != nullptr && std::string_view(writes) == "1";
  return out;
}

expected<std::unique_ptr<admin>> start_admin(context& ctx, admin_options options) {
  auto where = detail::parse_admin_address(options.address);
  if (!where) return unexpected(where.error());
  auto p = std::make_unique<admin::impl>(ctx, std::move(options), *where);
  p->sources.ctx = &ctx;
  p->routes();
  auto& w = p->where;
  if (w.where == admin_address::kind::unix_socket) {
    if (auto r = claim_unix_path(w.path); !r) return unexpected(r.error());
    p->server.set_address_family(AF_UNIX);
    if (!p->server.bind_to_port(w.path, 80)) return unexpected(errc::not_connected);
    // Owner only. A peer that connected before this chmod is still checked by its uid.
    ::chmod(w.path.c_str(), 0600);
  } else {
    if (w.host.find(':') != std::string::npos) p->server.set_address_family(AF_INET6);
    if (w.port == 0) {
      const int port = p->server.bind_to_any_port(w.host);
      if (port <= 0) return unexpected(errc::not_connected);
      w.port = port;
    } else if (!p->server.bind_to_port(w.host, w.port)) {
      return unexpected(errc::not_connected);
    }
  }
  p->address_text = w.to_string();
  auto& server = p->server;
  auto& ended = p->listen_ended;
  p->thread = std::thread([&server, &ended] {
    server.listen_after_bind();
    ended.store(true);
  });
  // stop() is a no-op until the server runs: wait for it, so that a stop cannot be lost.
  while (!server.is_running() && !ended.load()) std::this_thread::yield();
  detail::context_state_of(ctx).sync_latency.enable();
  detail::log().info("admin API on {}", p->address_text);
  return std::make_unique<admin>(std::move(p));
}

}  // namespace beehive
