// SPDX-License-Identifier: Apache-2.0
#pragma once

// What the two programs of scripts/example-cluster share: the phase they are in (read from
// the file BEEHIVE_CLUSTER_PHASE_FILE names), the tally of calls per phase and target, a
// responder for the module the program hosts, and the summary printed at SIGTERM.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"

namespace demo {

inline std::string phase() {
  const char* path = std::getenv("BEEHIVE_CLUSTER_PHASE_FILE");
  if (path == nullptr) return "run";
  std::ifstream in(path);
  std::string p;
  std::getline(in, p);
  return p.empty() ? "run" : p;
}

/// Calls that worked and failed, per phase and what was called, with the errors seen.
class tally {
 public:
  void count(const std::string& what, const beehive::expected<void>& r) {
    std::lock_guard lk(mu_);
    auto& t = rows_[{phase_order(), phase(), what}];
    if (r) {
      ++t.ok;
    } else {
      ++t.failed;
      ++t.errors[r.error().message()];
    }
  }
  void print(const std::string& who) {
    std::lock_guard lk(mu_);
    for (const auto& [key, t] : rows_) {
      std::string errs;
      for (const auto& [e, n] : t.errors) errs += " " + e + " x" + std::to_string(n);
      std::printf("summary: %s phase %-13s %-28s ok %5llu failed %5llu%s\n", who.c_str(),
                  std::get<1>(key).c_str(), std::get<2>(key).c_str(),
                  static_cast<unsigned long long>(t.ok), static_cast<unsigned long long>(t.failed),
                  errs.c_str());
    }
    std::fflush(stdout);
  }

 private:
  struct row {
    unsigned long long ok = 0;
    unsigned long long failed = 0;
    std::map<std::string, unsigned long long> errors;
  };
  // Phases in the order they came.
  int phase_order() {
    const auto p = phase();
    auto [it, inserted] = order_.try_emplace(p, static_cast<int>(order_.size()));
    return it->second;
  }
  std::mutex mu_;
  std::map<std::string, int> order_;
  std::map<std::tuple<int, std::string, std::string>, row> rows_;
};

/// Answers every sync request to `module` with "<module>: got <text>".
inline std::thread responder(beehive::context& ctx, std::string module) {
  return std::thread([&ctx, module] {
    for (;;) {
      auto m = ctx.receive(module);
      if (!m) return;  // cleaned up
      if (!m->header.sync) continue;
      const auto text = m->content.to_string().value_or("");
      (void)ctx.send_resp(beehive::new_resp_by_message(*m, module + ": got " + text));
    }
  });
}

/// One call, counted: a sync request to `module`.
inline void call(beehive::context& ctx, tally& t, const std::string& me,
                 const std::string& module) {
  auto r = ctx.send_sync(module, beehive::new_message().fill_body("hello from " + me),
                         std::chrono::milliseconds(500));
  t.count("send_sync " + module,
          r ? beehive::expected<void>{} : beehive::expected<void>(beehive::unexpected(r.error())));
}

/// One group call, counted: every member must answer.
inline void call_group(beehive::context& ctx, tally& t, const std::string& me,
                       const std::string& group) {
  auto r = ctx.send_to_group_sync(group, beehive::new_message().fill_body("hello from " + me),
                                  std::chrono::milliseconds(500));
  beehive::expected<void> ok{};
  if (!r) {
    ok = beehive::unexpected(r.error());
  } else if (!r->missing.empty() || !r->failed.empty()) {
    ok = beehive::unexpected(beehive::errc::timed_out);
  }
  t.count("send_to_group_sync " + group, ok);
}

/// Loads the config (BEEHIVE_NATS_CONFIG) and registers the nats type; exits 2 on failure.
inline std::shared_ptr<beehive::nats_context> join(beehive::context& ctx) {
  std::string why;
  auto cfg = beehive::load_nats_config_from_env(&why);
  if (!cfg) {
    std::fprintf(stderr, "config: %s\n", why.c_str());
    std::exit(2);
  }
  cfg->presence_interval = std::chrono::milliseconds(300);
  auto n = beehive::register_nats_context(ctx, *cfg, &why);
  if (!n) {
    std::fprintf(stderr, "nats: %s\n", why.c_str());
    std::exit(2);
  }
  return *n;
}

inline void print_stats(const std::string& who, const beehive::nats_stats& s) {
  std::printf(
      "summary: %s nats: published %llu, received %llu, replies in %llu / out %llu, "
      "reconnects %llu, peers joined %llu / left %llu / expired %llu, unacknowledged %llu, "
      "dropped by NATS %llu\n",
      who.c_str(), static_cast<unsigned long long>(s.published),
      static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.replies_in),
      static_cast<unsigned long long>(s.replies_out), static_cast<unsigned long long>(s.reconnects),
      static_cast<unsigned long long>(s.peers_joined),
      static_cast<unsigned long long>(s.peers_left),
      static_cast<unsigned long long>(s.peers_expired),
      static_cast<unsigned long long>(s.unacknowledged),
      static_cast<unsigned long long>(s.nats_dropped));
  std::fflush(stdout);
}

}  // namespace demo
