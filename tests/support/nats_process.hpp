// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: one "process" of a nats namespace: a context with the nats type registered,
// connected to given servers. Several of them in one test binary are as separate as separate
// processes (each has its own connections and process id).

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "beehive/context.hpp"
#include "beehive/message.hpp"
#include "beehive/nats.hpp"
#include "support/bounded_wait.hpp"

namespace beehive::test {

/// A config for `urls` (comma-separated) in namespace `ns`, with short presence and ping
/// intervals so that the tests see joins and deaths fast.
inline nats_config nats_test_config(const std::string& urls, std::string ns = "t") {
  nats_config cfg;
  cfg.servers.clear();
  std::size_t start = 0;
  while (start <= urls.size()) {
    const auto comma = urls.find(',', start);
    const auto end = comma == std::string::npos ? urls.size() : comma;
    if (end > start) cfg.servers.push_back(urls.substr(start, end - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  cfg.name_space = std::move(ns);
  cfg.presence_interval = std::chrono::milliseconds(200);
  cfg.ping_interval = std::chrono::milliseconds(500);
  cfg.max_pings_out = 2;
  cfg.write_deadline = std::chrono::milliseconds(1000);
  cfg.connect_timeout = std::chrono::milliseconds(1000);
  cfg.reconnect_wait = std::chrono::milliseconds(50);
  return cfg;
}

/// nats_test_config for a failover test: a presence interval (500 ms) well above the time a
/// failover takes, so that it does not look like a death, and a 256-record flow window.
inline nats_config failover_test_config(const std::string& url, const std::string& ns) {
  auto cfg = nats_test_config(url, ns);
  cfg.presence_interval = std::chrono::milliseconds(500);
  cfg.flow_window = 256;
  return cfg;
}

/// A record's numbered body, and the number back (-1 when it carries none).
inline content num(int i) { return nlohmann::json(i); }
inline int num_of(const message& m) { return m.content.get<int>().value_or(-1); }

/// Answers every request of `module` with "pong" until the module's inbox closes or the
/// context is cancelled; the caller joins the thread.
inline std::thread echo_requests(context& ctx, std::string module) {
  return std::thread([&ctx, module = std::move(module)] {
    for (;;) {
      auto req = ctx.receive(module);
      if (!req) return;
      (void)ctx.send_resp(new_resp_by_message(*req, std::string("pong")));
    }
  });
}

/// Receives `count` records of `module`, numbered 0, 1, ... in order (each within `watchdog`);
/// nothing is left queued.
inline void expect_in_order(context& ctx, const std::string& module, int count) {
  for (int i = 0; i < count; ++i) {
    auto m = ctx.receive_for(module, watchdog);
    ASSERT_TRUE(m) << module << " after " << i;
    ASSERT_EQ(num_of(*m), i) << module;
  }
  EXPECT_EQ(ctx.stats(module)->queued, 0U);
}

/// Registers the nats type with `cfg` on a fresh context, which must refuse it with
/// not_connected (a failed expectation otherwise); returns the reason it gave.
inline std::string refused_registration(const nats_config& cfg) {
  context ctx;
  std::string why;
  auto r = register_nats_context(ctx, cfg, &why);
  EXPECT_FALSE(r) << "registered";
  if (!r) {
    EXPECT_EQ(r.error(), errc::not_connected);
  }
  return why;
}

struct nats_process {
  explicit nats_process(const nats_config& cfg) : ctx(std::make_unique<context>()) {
    std::string why;
    auto r = register_nats_context(*ctx, cfg, &why);
    if (!r) throw std::runtime_error("register_nats_context: " + why);
    nats = *r;
  }
  /// Adds a module of the nats type.
  expected<void> add(const std::string& name, inbox_options inbox = {}) {
    return ctx->add_module({.name = name, .type = "nats", .remote = false, .inbox = inbox});
  }
  /// Adds a module of the nats type and waits (bounded) until `sender` has it as a peer.
  [[nodiscard]] bool host_for(const nats_process& sender, const std::string& name,
                              inbox_options inbox = {}) {
    return add(name, inbox) && sender.nats->wait_peer(name, std::chrono::seconds(20));
  }
  std::unique_ptr<context> ctx;
  std::shared_ptr<nats_context> nats;
};

}  // namespace beehive::test
