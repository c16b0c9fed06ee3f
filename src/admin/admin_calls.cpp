// SPDX-License-Identifier: Apache-2.0
// The admin's writes into the context (`send`, `request`; only when the admin allows writes),
// and how the context's results and errors become HTTP replies.
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "admin/admin_impl.hpp"
#include "admin/json_api.hpp"
#include "beehive/codec.hpp"

namespace beehive {

namespace detail {

int status_of(const std::error_code& ec) {
  if (ec == errc::module_not_found || ec == errc::group_not_found) return 404;
  if (ec == errc::timed_out) return 504;
  if (ec == errc::invalid_argument) return 400;
  return 503;
}

void fail(httplib::Response& res, const std::error_code& ec) {
  res.status = status_of(ec);
  res.set_content(detail::error_json(detail::errc_name(ec), ec.value(), ec.message()), json_type);
}

std::string record_of(const message& m) {
  std::string out;
  if (encode_message(m, out)) return out;
  message shown = m;  // a C++ object without a JSON form: shown by name
  shown.content = content(std::string("<C++ object without a JSON form>"));
  out.clear();
  if (!encode_message(shown, out)) out = "null";
  return out;
}

}  // namespace detail

using detail::fail;
using detail::json_type;
using detail::record_of;
using detail::status_of;

bool admin::impl::writable(httplib::Response& res) {
  if (options.allow_writes) return true;
  count.refused_writes.fetch_add(1, std::memory_order_relaxed);
  res.status = 403;
  res.set_content(detail::error_json("writes_disabled", 0,
                                     "writes are not enabled on this admin API "
                                     "(admin_options::allow_writes, BEEHIVE_ADMIN_WRITES=1)"),
                  json_type);
  return false;
}

bool admin::impl::room_in(const std::string& module) {
  const auto full = [&] {
    auto st = ctx.stats(module);
    return st && st->queued >= st->capacity;
  };
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (full()) {
    if (stopping.load() || std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void admin::impl::send(const httplib::Request& req, httplib::Response& res) {
  if (!writable(res)) return;
  auto w = detail::parse_write_request(req.body);
  if (!w) {
    count.malformed.fetch_add(1, std::memory_order_relaxed);
    res.status = 400;
    const bool json = w.error() == detail::request_fault::malformed_json;
    res.set_content(detail::error_json(json ? "malformed_json" : "invalid_argument", 0,
                                       json ? "the body is not a JSON object"
                                            : "a field is missing or has the wrong type"),
                    json_type);
    return;
  }
  const std::string id(w->msg.header.id);
  if (!w->group.empty()) {
    auto r = ctx.send_to_group(w->group, std::move(w->msg));
    if (!r) return fail(res, r.error());
    nlohmann::json failed = nlohmann::json::array();
    for (const auto& [name, ec] : r->failed) {
      failed.push_back({{"module", name}, {"error", detail::errc_name(ec)}});
    }
    res.status = 202;
    res.set_content(
        nlohmann::json{{"id", id}, {"delivered", r->delivered}, {"failed", failed}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace),
        json_type);
    return;
  }
  // `repeat` copies (bench): each its own id; the first failure ends the run.
  std::uint32_t sent = 0;
  for (; sent < w->repeat; ++sent) {
    // The admin's threads never wait on a full inbox without bound (a stuck module would hold
    // them, and the admin's stop, for ever): a local inbox that stays full for 5 s (or while
    // the admin stops) is refused with queue_full.
    if (!room_in(w->module)) {
      const auto full = make_error_code(errc::queue_full);
      if (sent == 0) return fail(res, full);
      res.status = status_of(full);
      res.set_content(nlohmann::json{{"id", id},
                                     {"sent", sent},
                                     {"error", detail::errc_name(full)},
                                     {"errc", full.value()}}
                          .dump(),
                      json_type);
      return;
    }
    auto r = sent + 1 == w->repeat ? ctx.send(w->module, std::move(w->msg))
                                   : ctx.send(w->module, message(w->msg).update_id());
    if (!r) {
      if (sent == 0) return fail(res, r.error());
      res.status = status_of(r.error());
      res.set_content(nlohmann::json{{"id", id},
                                     {"sent", sent},
                                     {"error", detail::errc_name(r.error())},
                                     {"errc", r.error().value()}}
                          .dump(),
                      json_type);
      return;
    }
  }
  res.status = 202;
  res.set_content(nlohmann::json{{"id", id}, {"sent", sent}}.dump(), json_type);
}

void admin::impl::request(const httplib::Request& req, httplib::Response& res) {
  if (!writable(res)) return;
  auto w = detail::parse_write_request(req.body);
  if (!w || w->module.empty()) {
    count.malformed.fetch_add(1, std::memory_order_relaxed);
    res.status = 400;
    const bool json = !w && w.error() == detail::request_fault::malformed_json;
    res.set_content(
        detail::error_json(json ? "malformed_json" : "invalid_argument", 0,
                           json ? "the body is not a JSON object" : "a request needs a module"),
        json_type);
    return;
  }
  auto reply = ctx.send_sync(w->module, std::move(w->msg), w->timeout);
  if (!reply) return fail(res, reply.error());
  res.set_content(record_of(*reply), json_type);
}

}  // namespace beehive
