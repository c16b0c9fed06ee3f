// SPDX-License-Identifier: Apache-2.0
#include "support/nats_client.hpp"

#include <cstdio>
#include <functional>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define BEEHIVE_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BEEHIVE_TEST_LSAN 1
#endif
#endif
#ifdef BEEHIVE_TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace beehive::test {
namespace {

using anchor = std::shared_ptr<nats_client::state>;

void notify(const anchor& s, const std::function<void(nats_client::state&)>& change) {
  std::lock_guard lock(s->mutex);
  change(*s);
  s->cv.notify_all();  // under the lock: a waiter cannot return before this call is over
}

void on_disconnected(natsConnection*, void* closure) {
  notify(*static_cast<anchor*>(closure), [](auto& s) { ++s.disconnects; });
}

void on_reconnected(natsConnection*, void* closure) {
  notify(*static_cast<anchor*>(closure), [](auto& s) { ++s.reconnects; });
}

void on_error(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
  notify(*static_cast<anchor*>(closure), [err](auto& s) {
    ++s.async_errors;
    s.last_error = err;
  });
}

// nats.c's last callback for a connection: it owns the closure from here and frees it.
void on_closed(natsConnection*, void* closure) {
  auto* held = static_cast<anchor*>(closure);
  const anchor keep = *held;
  delete held;
  notify(keep, [](auto& s) { s.closed = true; });
}

}  // namespace

natsStatus make_nats_options(const nats_client_options& o, natsOptions** out) {
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  auto step = [&](natsStatus r) {
    if (s == NATS_OK) s = r;
  };
  if (s != NATS_OK) return s;
  std::vector<std::string> urls;
  std::vector<const char*> url_ptrs;
  for (std::size_t b = 0; b <= o.urls.size();) {
    std::size_t e = o.urls.find(',', b);
    if (e == std::string::npos) e = o.urls.size();
    if (e > b) urls.push_back(o.urls.substr(b, e - b));
    b = e + 1;
  }
  for (const auto& u : urls) url_ptrs.push_back(u.c_str());
  step(natsOptions_SetServers(opts, url_ptrs.data(), static_cast<int>(url_ptrs.size())));
  step(natsOptions_SetName(opts, o.name.c_str()));
  step(natsOptions_SetNoRandomize(opts, o.no_randomize));
  if (!o.user.empty()) step(natsOptions_SetUserInfo(opts, o.user.c_str(), o.password.c_str()));
  if (!o.token.empty()) step(natsOptions_SetToken(opts, o.token.c_str()));
  if (!o.nkey_public.empty()) {
    step(natsOptions_SetNKeyFromSeed(opts, o.nkey_public.c_str(), o.nkey_seed_file.c_str()));
  }
  if (o.secure || !o.ca_file.empty() || !o.cert_file.empty()) {
    step(natsOptions_SetSecure(opts, true));
  }
  if (!o.ca_file.empty()) step(natsOptions_LoadCATrustedCertificates(opts, o.ca_file.c_str()));
  if (!o.cert_file.empty()) {
    step(natsOptions_LoadCertificatesChain(opts, o.cert_file.c_str(), o.key_file.c_str()));
  }
  step(natsOptions_SetTimeout(opts, o.connect_timeout.count()));
  step(natsOptions_SetPingInterval(opts, o.ping_interval.count()));
  step(natsOptions_SetMaxPingsOut(opts, o.max_pings_out));
  step(natsOptions_SetWriteDeadline(opts, o.write_deadline.count()));
  step(natsOptions_SetAllowReconnect(opts, o.allow_reconnect));
  step(natsOptions_SetReconnectWait(opts, o.reconnect_wait.count()));
  step(natsOptions_SetMaxReconnect(opts, o.max_reconnect));
  step(natsOptions_SetReconnectBufSize(opts, o.reconnect_buf_size));
  step(natsOptions_SetSendAsap(opts, o.send_asap));
  step(natsOptions_SetFailRequestsOnDisconnect(opts, o.fail_requests_on_disconnect));
  step(natsOptions_SetMaxPendingMsgs(opts, o.max_pending_msgs));
  if (s != NATS_OK) {
    natsOptions_Destroy(opts);
    return s;
  }
  *out = opts;
  return NATS_OK;
}

std::unique_ptr<nats_client> nats_client::connect(const nats_client_options& o, natsStatus* status,
                                                  std::string* error) {
  std::unique_ptr<nats_client> c(new nats_client());
  natsOptions* opts = nullptr;
  natsStatus s = make_nats_options(o, &opts);
  auto* held = new anchor(c->state_);
  if (s == NATS_OK) {
    natsOptions_SetDisconnectedCB(opts, on_disconnected, held);
    natsOptions_SetReconnectedCB(opts, on_reconnected, held);
    natsOptions_SetErrorHandler(opts, on_error, held);
    natsOptions_SetClosedCB(opts, on_closed, held);
    s = natsConnection_Connect(&c->nc_, opts);
    // nats.c 3.4.1 sends an empty nonce signature when its first byte is 0: 1 connect in 256
    // with the right nkey is refused (src/nats/nats_connection.hpp, `nkey_attempts`). Each
    // try signs a new nonce; a wrong key is refused every time.
    for (int i = 1; !o.nkey_public.empty() && s == NATS_CONNECTION_AUTH_FAILED && i < 4; ++i) {
      s = natsConnection_Connect(&c->nc_, opts);
    }
  }
  if (opts != nullptr) natsOptions_Destroy(opts);
  if (status != nullptr) *status = s;
  if (s != NATS_OK) {
    if (error != nullptr) {
      const char* text = nats_GetLastError(nullptr);
      *error = text != nullptr ? text : natsStatus_GetText(s);
    }
    // A failed connect (without retry) never calls back: nats_servers_test proves it.
    delete held;
    return nullptr;
  }
  return c;
}

nats_client::~nats_client() {
  if (nc_ == nullptr) return;
  if (close()) {
    natsConnection_Destroy(nc_);
    return;
  }
  // Else the closed callback is late beyond any reason: leaking the connection is safer than
  // destroying what its thread still uses. Said on stderr; the leak is deliberate, so it is
  // not left for LeakSanitizer to fail the test on. Seen once, in a fresh-clone CI run, after
  // NatsServers.HungNodeIsDetectedByPingsAndCallsStayBounded (a client that had reconnected
  // away from a SIGSTOPped node); the cause in nats.c is not known.
  std::fputs("nats_client: no closed callback 10 s after natsConnection_Close: leaked\n", stderr);
#ifdef BEEHIVE_TEST_LSAN
  __lsan_ignore_object(nc_);
#endif
}

bool nats_client::close() {
  natsConnection_Close(nc_);
  std::unique_lock lock(state_->mutex);
  return state_->cv.wait_for(lock, std::chrono::seconds(10), [&] { return state_->closed; });
}

bool nats_client::closed() const {
  std::lock_guard lock(state_->mutex);
  return state_->closed;
}

bool nats_client::wait_reconnects(int n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  return state_->cv.wait_for(lock, timeout, [&] { return state_->reconnects.load() >= n; });
}

bool nats_client::wait_disconnects(int n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  return state_->cv.wait_for(lock, timeout, [&] { return state_->disconnects.load() >= n; });
}

}  // namespace beehive::test
