// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_connection.hpp"

#include <condition_variable>
#include <mutex>
#include <vector>

#include "core/log.hpp"

namespace beehive::detail {

struct nats_connection::shared {
  nats_connection::events ev;
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  bool abandoned = false;  // the owner gave up waiting: the callback frees the block
};

namespace {

void on_disconnected(natsConnection* /*nc*/, void* closure) {
  auto* s = static_cast<nats_connection::shared*>(closure);
  if (s->ev.disconnected) s->ev.disconnected();
}

void on_reconnected(natsConnection* /*nc*/, void* closure) {
  auto* s = static_cast<nats_connection::shared*>(closure);
  if (s->ev.reconnected) s->ev.reconnected();
}

void on_error(natsConnection* /*nc*/, natsSubscription* sub, natsStatus err, void* closure) {
  auto* s = static_cast<nats_connection::shared*>(closure);
  if (s->ev.async_error) s->ev.async_error(sub, err);
}

void on_closed(natsConnection* /*nc*/, void* closure) {
  auto* s = static_cast<nats_connection::shared*>(closure);
  bool free_it = false;
  {
    std::lock_guard lk(s->mu);
    s->closed = true;
    free_it = s->abandoned;
    s->cv.notify_all();
  }
  if (free_it) delete s;
}

std::string last_error_text(natsStatus s) {
  natsStatus st = s;
  const char* text = nats_GetLastError(&st);
  std::string out = natsStatus_GetText(s);
  if (text != nullptr && *text != '\0') out += std::string(" (") + text + ")";
  return out;
}

}  // namespace

natsStatus connect_with_nkey_retries(natsConnection** nc, natsOptions* opts, bool nkey) {
  natsStatus st = natsConnection_Connect(nc, opts);
  for (int attempt = 1; nkey && st == NATS_CONNECTION_AUTH_FAILED && attempt < nkey_attempts;
       ++attempt) {
    st = natsConnection_Connect(nc, opts);
  }
  return st;
}

std::error_code to_error(natsStatus s) noexcept {
  switch (s) {
    case NATS_OK:
      return {};
    case NATS_MAX_PAYLOAD:
      return make_error_code(errc::message_too_large);
    case NATS_TIMEOUT:
      return make_error_code(errc::timed_out);
    case NATS_NO_RESPONDERS:
      return make_error_code(errc::module_not_found);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
      return make_error_code(errc::invalid_argument);
    default:
      return make_error_code(errc::not_connected);
  }
}

expected<std::unique_ptr<nats_connection>> nats_connection::open(const nats_config& cfg,
                                                                 const std::string& name,
                                                                 bool send_asap, events ev,
                                                                 std::string* why) {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) return unexpected(errc::not_connected);
  auto* s = new shared{};
  s->ev = std::move(ev);
  std::vector<const char*> urls;
  for (const auto& u : cfg.servers) urls.push_back(u.c_str());
  natsStatus st = NATS_OK;
  std::string step;
  auto set = [&](natsStatus r, const char* what) {
    if (st == NATS_OK && r != NATS_OK) {
      st = r;
      step = what;
    }
  };
  set(natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size())), "servers");
  set(natsOptions_SetName(opts, name.c_str()), "name");
  set(natsOptions_SetTimeout(opts, cfg.connect_timeout.count()), "timeouts.connect");
  set(natsOptions_SetPingInterval(opts, cfg.ping_interval.count()), "timeouts.ping_interval");
  set(natsOptions_SetMaxPingsOut(opts, cfg.max_pings_out), "timeouts.max_pings_out");
  set(natsOptions_SetWriteDeadline(opts, cfg.write_deadline.count()), "timeouts.write_deadline");
  set(natsOptions_SetFailRequestsOnDisconnect(opts, true), "fail requests on disconnect");
  set(natsOptions_SetReconnectBufSize(opts, static_cast<int>(cfg.reconnect_buffer)),
      "flow.reconnect_buffer");
  set(natsOptions_SetMaxReconnect(opts, -1), "max reconnect");
  set(natsOptions_SetReconnectWait(opts, cfg.reconnect_wait.count()), "timeouts.reconnect_wait");
  set(natsOptions_SetSendAsap(opts, send_asap), "send asap");
  // Bounded by our credit windows; a large limit so that NATS never drops what we allowed.
  set(natsOptions_SetMaxPendingMsgs(opts, 1 << 20), "max pending");
  set(natsOptions_SetDisconnectedCB(opts, on_disconnected, s), "disconnected callback");
  set(natsOptions_SetReconnectedCB(opts, on_reconnected, s), "reconnected callback");
  set(natsOptions_SetClosedCB(opts, on_closed, s), "closed callback");
  set(natsOptions_SetErrorHandler(opts, on_error, s), "error handler");
  if (!cfg.user.empty()) {
    set(natsOptions_SetUserInfo(opts, cfg.user.c_str(), cfg.password.c_str()), "credentials.user");
  }
  if (!cfg.token.empty()) set(natsOptions_SetToken(opts, cfg.token.c_str()), "credentials.token");
  if (!cfg.creds_file.empty()) {
    set(natsOptions_SetUserCredentialsFromFiles(opts, cfg.creds_file.c_str(), nullptr),
        "credentials.creds");
  }
  if (!cfg.nkey_file.empty()) {
    set(natsOptions_SetNKeyFromSeed(opts, cfg.nkey_public.c_str(), cfg.nkey_file.c_str()),
        "credentials.nkey");
  }
  if (!cfg.tls_ca.empty() || !cfg.tls_cert.empty()) set(natsOptions_SetSecure(opts, true), "tls");
  if (!cfg.tls_ca.empty()) {
    set(natsOptions_LoadCATrustedCertificates(opts, cfg.tls_ca.c_str()), "tls.ca");
  }
  if (!cfg.tls_cert.empty()) {
    set(natsOptions_LoadCertificatesChain(opts, cfg.tls_cert.c_str(), cfg.tls_key.c_str()),
        "tls.cert");
  }
  std::string text;
  natsConnection* nc = nullptr;
  if (st != NATS_OK) {
    text = fmt::format("option '{}' refused: {}", step, last_error_text(st));
  } else {
    st = connect_with_nkey_retries(&nc, opts, !cfg.nkey_file.empty());
    if (st != NATS_OK) text = fmt::format("cannot connect: {}", last_error_text(st));
  }
  if (st != NATS_OK) {
    log().error("nats: {} (servers {})", text, fmt::join(cfg.servers, ", "));
    if (why != nullptr) *why = text;
    // Never connected: no closed callback comes.
    natsOptions_Destroy(opts);
    delete s;
    return unexpected(errc::not_connected);
  }
  return std::unique_ptr<nats_connection>(new nats_connection(nc, opts, s));
}

nats_connection::~nats_connection() {
  close();
  natsConnection_Destroy(nc_);
  natsOptions_Destroy(opts_);
}

void nats_connection::close(std::chrono::milliseconds bound) {
  if (closed_) return;
  closed_ = true;
  natsConnection_Close(nc_);
  std::unique_lock lk(shared_->mu);
  if (shared_->cv.wait_for(lk, bound, [&] { return shared_->closed; })) {
    lk.unlock();
    delete shared_;
  } else {
    // The callback will free the block when it finally runs.
    shared_->abandoned = true;
    log().error("nats: the closed callback did not come within {} ms", bound.count());
  }
  shared_ = nullptr;
}

expected<void> nats_connection::publish(const std::string& subject, std::string_view data,
                                        const std::string& reply) const {
  // nats.c checks max_payload itself (NATS_MAX_PAYLOAD, before anything is written), under the
  // lock it takes anyway.
  const natsStatus s =
      reply.empty()
          ? natsConnection_Publish(nc_, subject.c_str(), data.data(), static_cast<int>(data.size()))
          : natsConnection_PublishRequest(nc_, subject.c_str(), reply.c_str(), data.data(),
                                          static_cast<int>(data.size()));
  if (s == NATS_OK) return {};
  return unexpected(to_error(s));
}

std::int64_t nats_connection::max_payload() const noexcept {
  return natsConnection_GetMaxPayload(nc_);
}

bool nats_connection::connected() const noexcept {
  return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

std::string nats_connection::connected_url() const {
  char buf[256] = {};
  if (natsConnection_GetConnectedUrl(nc_, buf, sizeof(buf)) != NATS_OK) return {};
  return buf;
}

expected<void> nats_connection::flush(std::chrono::milliseconds bound) const {
  const natsStatus s = natsConnection_FlushTimeout(nc_, bound.count());
  if (s == NATS_OK) return {};
  return unexpected(to_error(s));
}

}  // namespace beehive::detail
