// SPDX-License-Identifier: Apache-2.0
// The beehive nats type's side of nats_bench (nats_bench.hpp): the same work as raw nats.c,
// on the same servers, through contexts with the nats type registered (each one a "process").
//
// Records: a module's message whose body is a 250-byte string starting with its sequence
// number; a receiver checks the order (going back counts as an error), `lost` = sent -
// received once nothing more arrives (2 s quiet).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/nats.hpp"
#include "nats_bench.hpp"

namespace beehive::bench {
namespace {

using namespace std::chrono_literals;

struct process {
  // `window` 0: the configuration's default (flow.window).
  explicit process(const std::string& url, std::size_t window = 0)
      : ctx(std::make_unique<context>()) {
    nats_config cfg;
    cfg.servers = {url};
    cfg.name_space = "bench";
    if (window != 0) cfg.flow_window = window;
    cfg.presence_interval = 500ms;
    std::string why;
    auto r = register_nats_context(*ctx, cfg, &why);
    if (!r) throw std::runtime_error("register_nats_context: " + why);
    nats = *r;
  }
  void add(const std::string& name, std::size_t capacity = 1024) {
    module_info info{.name = name, .type = "nats", .remote = false, .inbox = {}};
    info.inbox.capacity = capacity;
    if (!ctx->add_module(info)) throw std::runtime_error("add_module " + name);
  }
  void wait_peer(const std::string& name) const {
    if (!nats->wait_peer(name, 20s)) throw std::runtime_error("no peer " + name);
  }
  std::unique_ptr<context> ctx;
  std::shared_ptr<nats_context> nats;
};

std::string body(std::size_t bytes, std::uint64_t seq) {
  std::string b = std::to_string(seq);
  b.resize(std::max<std::size_t>(bytes, b.size() + 1), ' ');
  return b;
}

// The record's sequence number, read where it is: a received body is the verbatim JSON string
// `"<seq>   ..."` (the raw side reads its 8 bytes in place too; decoding the 250-byte string
// into a new one would add a copy per record that is the bench's, not the type's).
std::uint64_t seq_of(const message& m) {
  const std::string_view raw = m.content.raw_json();
  if (raw.size() > 1 && raw.front() == '"') return std::strtoull(raw.data() + 1, nullptr, 10);
  auto s = m.content.to_string();
  return s ? std::strtoull(s->c_str(), nullptr, 10) : ~0ULL;
}

// Receives `module` until `expected` records came or nothing came for 2 s; spins `work_ns`
// per record.
struct counting_receiver {
  counting_receiver(context& ctx, std::string module, std::uint64_t expected, std::uint64_t work_ns)
      : thread([this, &ctx, module, expected, work_ns] {
          std::uint64_t next = 0;
          while (received < expected) {
            auto m = ctx.receive_for(module, 2s);
            if (!m) break;
            const auto seq = seq_of(*m);
            if (seq < next) ++out_of_order;
            next = seq + 1;
            if (work_ns != 0) {
              const auto until = clock::now() + std::chrono::nanoseconds(work_ns);
              while (clock::now() < until) {
              }
            }
            ++received;
            last = clock::now();
          }
        }) {}
  ~counting_receiver() {
    if (thread.joinable()) thread.join();
  }
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
  clock::time_point last{};
  std::thread thread;
};

json send_scenario(test::nats_servers& servers, const nats_bench_params& p, std::size_t fan) {
  process sender(servers.url(0));
  std::vector<std::unique_ptr<process>> rx;
  for (std::size_t i = 0; i < fan; ++i) {
    rx.push_back(std::make_unique<process>(servers.url(0)));
    const std::string name = "sink" + std::to_string(i);
    rx.back()->add(name);
    if (fan > 1) (void)rx.back()->ctx->add_module_group(name, "fan");
    sender.wait_peer(name);
  }
  if (fan > 1) {
    const auto until = clock::now() + 20s;
    while (sender.ctx->groups()["fan"].size() < fan && clock::now() < until) {
      std::this_thread::yield();
    }
  }
  std::vector<std::unique_ptr<counting_receiver>> counters;
  for (std::size_t i = 0; i < fan; ++i) {
    counters.push_back(std::make_unique<counting_receiver>(*rx[i]->ctx, "sink" + std::to_string(i),
                                                           p.messages, 0));
  }
  std::uint64_t errors = 0;
  const double cpu0 = cpu_seconds();
  const auto t0 = clock::now();
  for (std::uint64_t i = 0; i < p.messages; ++i) {
    auto m = new_message().fill_body(body(p.record_bytes, i));
    if (fan == 1) {
      if (!sender.ctx->send("sink0", std::move(m))) ++errors;
    } else {
      auto r = sender.ctx->send_to_group("fan", std::move(m));
      if (!r || !r->failed.empty()) ++errors;
    }
  }
  std::uint64_t received = 0;
  double secs = 0;
  for (auto& c : counters) {
    c->thread.join();
    received += c->received;
    errors += c->out_of_order;
    secs = std::max(secs, std::chrono::duration<double>(c->last - t0).count());
  }
  const double cpu = cpu_seconds() - cpu0;
  const std::uint64_t sent = p.messages * fan;
  json out;
  out[fan == 1 ? "msgs_per_s" : "deliveries_per_s"] =
      round_to(static_cast<double>(received) / secs, 0);
  out["lost"] = sent - received;
  std::uint64_t dropped = 0;
  for (auto& r : rx) dropped += r->nats->stats().nats_dropped;
  out["dropped"] = dropped;
  out["credit_waits"] = sender.nats->stats().credit_waits;
  {
    // Records per NATS message the sender published (batches: docs/architecture.md).
    const auto s = sender.nats->stats();
    out["batches"] = s.batches;
    out["records_per_batch"] =
        s.batches == 0
            ? 1.0
            : round_to(static_cast<double>(s.published) / static_cast<double>(s.batches), 1);
  }
  out["errors"] = errors;
  out["cpu_ns_per_msg"] = round_to(cpu * 1e9 / static_cast<double>(sent), 1);
  return out;
}

json send_sync_rtt(test::nats_servers& servers, const nats_bench_params& p) {
  process requester(servers.url(0));
  process responder(servers.url(0));
  responder.add("echo");
  requester.wait_peer("echo");
  std::thread answering([&] {
    for (;;) {
      auto m = responder.ctx->receive("echo");
      if (!m) return;
      (void)responder.ctx->send_resp(new_resp_by_message(*m, m->content));
    }
  });
  std::vector<std::uint64_t> ns;
  ns.reserve(p.messages);
  std::uint64_t errors = 0;
  std::uint64_t timeouts = 0;
  const std::string b = body(p.record_bytes, 0);
  for (std::uint64_t i = 0; i < p.warmup + p.messages; ++i) {
    const auto s = clock::now();
    auto r = requester.ctx->send_sync("echo", new_message().fill_body(b), 1s);
    const auto e = clock::now();
    if (!r) {
      ++errors;
      if (r.error() == errc::timed_out) ++timeouts;
    }
    if (i >= p.warmup) {
      ns.push_back(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(e - s).count()));
    }
  }
  (void)responder.ctx->cleanup("echo");
  answering.join();
  json out;
  add_percentiles(out, ns);
  out["errors"] = errors;
  out["timeouts"] = timeouts;
  return out;
}

json cluster_send(test::nats_servers& servers, const nats_bench_params& p) {
  process sender(servers.url(0), p.credit_window);
  process receiver(servers.url(2), p.credit_window);
  receiver.add("sink");
  sender.wait_peer("sink");
  counting_receiver c(*receiver.ctx, "sink", p.messages, p.consumer_work_ns);
  std::uint64_t errors = 0;
  const auto t0 = clock::now();
  for (std::uint64_t i = 0; i < p.messages; ++i) {
    if (!sender.ctx->send("sink", new_message().fill_body(body(p.record_bytes, i)))) ++errors;
  }
  c.thread.join();
  const double secs = std::chrono::duration<double>(c.last - t0).count();
  const auto s = sender.nats->stats();
  json out;
  out["msgs_per_s"] = round_to(static_cast<double>(c.received) / secs, 0);
  out["lost"] = p.messages - c.received;
  out["dropped"] = receiver.nats->stats().nats_dropped;
  out["credit_waits"] = s.credit_waits;
  out["batches"] = s.batches;
  out["resent"] = s.resent;
  out["duplicates"] = receiver.nats->stats().duplicates;
  out["errors"] = errors + c.out_of_order;
  return out;
}

json failover(test::nats_servers& servers, bool hang) {
  process responder(servers.url(2));
  process requester(servers.url(0));
  responder.add("echo");
  requester.wait_peer("echo");
  std::thread answering([&] {
    for (;;) {
      auto m = responder.ctx->receive("echo");
      if (!m) return;
      (void)responder.ctx->send_resp(new_resp_by_message(*m, std::string("pong")));
    }
  });
  std::uint64_t failed = 0;
  double failover_ms = -1;
  clock::time_point t_fault{};
  // Bounded by time, not by a number of calls: while the peer is known to be gone, calls fail
  // at once (not_connected) instead of waiting out their timeout.
  const auto give_up = clock::now() + 30s;
  for (int i = 0; clock::now() < give_up; ++i) {
    if (i == 200) {
      t_fault = clock::now();
      if (hang) {
        servers.hang(0);
      } else {
        servers.kill(0);
      }
    }
    auto r = requester.ctx->send_sync("echo", new_message().fill_body("ping"), 250ms);
    if (!r) {
      ++failed;
      if (r.error() != errc::timed_out) std::this_thread::sleep_for(1ms);
      continue;
    }
    if (i >= 200) {
      failover_ms = std::chrono::duration<double, std::milli>(clock::now() - t_fault).count();
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  if (hang) servers.resume(0);
  (void)responder.ctx->cleanup("echo");
  answering.join();
  json out;
  out["failover_ms"] = round_to(failover_ms, 1);
  out["failed_calls"] = failed;
  out["errors"] = failover_ms < 0 ? 1 : 0;
  return out;
}

}  // namespace

nats_bench_ours make_nats_bench_ours() {
  nats_bench_ours o;
  o.send = [](test::nats_servers& s, const nats_bench_params& p) { return send_scenario(s, p, 1); };
  o.send_sync_rtt = send_sync_rtt;
  o.fan_out_8 = [](test::nats_servers& s, const nats_bench_params& p) {
    return send_scenario(s, p, p.receivers);
  };
  o.cluster_send = cluster_send;
  o.failover_kill = [](test::nats_servers& s, const nats_bench_params&) {
    return failover(s, false);
  };
  o.failover_hang = [](test::nats_servers& s, const nats_bench_params&) {
    return failover(s, true);
  };
  return o;
}

}  // namespace beehive::bench
