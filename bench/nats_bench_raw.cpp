// SPDX-License-Identifier: Apache-2.0
// The raw side of the NATS benchmarks (nats_bench_raw.hpp): nats.c doing each scenario's work
// by hand, with the options of tests/support/nats_client.hpp. Records carry a sequence number
// in their first 8 bytes; a receiver counts records that come out of order (going back) as
// errors, and `lost` = sent - received once nothing more arrives (2 s quiet).
#include "nats_bench_raw.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "support/nats_client.hpp"
#include "support/nats_servers.hpp"

namespace beehive::bench {
namespace {

using namespace std::chrono_literals;
using beehive::test::nats_client;
using beehive::test::nats_servers;

std::unique_ptr<nats_client> connect(const std::string& url, bool send_asap = false) {
  beehive::test::nats_client_options o;
  o.urls = url;
  o.send_asap = send_asap;
  o.name = "nats-bench";
  natsStatus s = NATS_OK;
  std::string error;
  auto c = nats_client::connect(o, &s, &error);
  if (!c) throw std::runtime_error("connect " + url + ": " + error);
  return c;
}

std::string record(std::size_t bytes) { return std::string(std::max<std::size_t>(bytes, 8), 'r'); }

void put_seq(std::string& r, std::uint64_t seq) { std::memcpy(r.data(), &seq, sizeof seq); }

std::uint64_t get_seq(natsMsg* m) {
  std::uint64_t seq = 0;
  if (natsMsg_GetDataLength(m) >= 8) std::memcpy(&seq, natsMsg_GetData(m), sizeof seq);
  return seq;
}

// A receiver: counts records, checks their order, optionally works on each, and grants credit.
struct receiver {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> out_of_order{0};
  std::uint64_t next = 0;  // only the subscription's delivery thread touches it
  std::uint64_t expected = 0;
  std::uint64_t work_ns = 0;
  // Credit: every `credit_every` records, publish the count received on `credit_subject`.
  natsConnection* credit_nc = nullptr;
  std::string credit_subject;
  std::uint64_t credit_every = 0;
  std::atomic<clock::time_point::rep> last_at{0};
  beehive::bench::done_flag done;
  natsSubscription* sub = nullptr;

  static void on_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* self = static_cast<receiver*>(closure);
    // A gap is a loss (counted by `lost`); going back is a reordering or a duplicate.
    const std::uint64_t seq = get_seq(m);
    if (seq < self->next) ++self->out_of_order;
    self->next = seq + 1;
    natsMsg_Destroy(m);
    if (self->work_ns != 0) {
      const auto until = clock::now() + std::chrono::nanoseconds(self->work_ns);
      while (clock::now() < until) {
      }
    }
    const std::uint64_t n = self->received.fetch_add(1) + 1;
    if (self->credit_every != 0 && n % self->credit_every == 0) {
      const std::string count = std::to_string(n);
      natsConnection_PublishString(self->credit_nc, self->credit_subject.c_str(), count.c_str());
    }
    self->last_at = clock::now().time_since_epoch().count();
    if (n == self->expected) self->done.set();
  }

  void subscribe(natsConnection* nc, const std::string& subject) {
    if (natsConnection_Subscribe(&sub, nc, subject.c_str(), on_msg, this) != NATS_OK) {
      throw std::runtime_error("subscribe " + subject);
    }
    // nats.c's default pending limits (65536 records, 64 MiB), as a user gets them: beyond
    // them nats.c drops, and dropped() counts it.
    natsConnection_Flush(nc);
  }
  // Records nats.c dropped for this slow consumer (natsSubscription_GetDropped).
  [[nodiscard]] std::uint64_t dropped() const {
    int64_t n = 0;
    if (sub != nullptr) natsSubscription_GetDropped(sub, &n);
    return static_cast<std::uint64_t>(n);
  }
  // Seconds from `started` to the last record received.
  [[nodiscard]] double seconds() const {
    const auto last = clock::time_point(clock::duration(last_at.load()));
    return std::chrono::duration<double>(last - started).count();
  }
  ~receiver() {
    if (sub != nullptr) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
  }
  // Waits until every record came, or nothing came for `quiet`; true if every record came.
  bool wait_all(std::chrono::milliseconds quiet = 2000ms) {
    for (;;) {
      if (done.wait_for(200ms)) return true;
      const auto last = clock::time_point(clock::duration(last_at.load()));
      if (last_at.load() != 0 && clock::now() - last > quiet) return false;
      if (last_at.load() == 0 && clock::now() - started > std::chrono::seconds(20)) return false;
    }
  }
  clock::time_point started = clock::now();
};

}  // namespace

// ---- raw scenarios ------------------------------------------------------------------------

json raw_send(nats_servers& servers, const nats_bench_params& p, std::size_t fan) {
  auto pub = connect(servers.url(0));
  std::vector<std::unique_ptr<nats_client>> conns;
  std::vector<std::unique_ptr<receiver>> rx;
  const std::string subject = fan == 1 ? "bench.raw.send" : "bench.raw.fan";
  for (std::size_t i = 0; i < fan; ++i) {
    conns.push_back(connect(servers.url(0)));
    rx.push_back(std::make_unique<receiver>());
    rx.back()->expected = p.messages;
    rx.back()->subscribe(conns.back()->get(), subject);
  }
  std::string r = record(p.record_bytes);
  std::uint64_t errors = 0;
  const double cpu0 = beehive::bench::cpu_seconds();
  const auto t0 = clock::now();
  for (auto& x : rx) x->started = t0;
  for (std::uint64_t i = 0; i < p.messages; ++i) {
    put_seq(r, i);
    if (natsConnection_Publish(pub->get(), subject.c_str(), r.data(), static_cast<int>(r.size())) !=
        NATS_OK) {
      ++errors;
    }
  }
  if (natsConnection_FlushTimeout(pub->get(), 10000) != NATS_OK) ++errors;
  std::uint64_t received = 0, dropped = 0;
  double secs = 0;
  for (auto& x : rx) {
    (void)x->wait_all();
    received += x->received.load();
    dropped += x->dropped();
    errors += x->out_of_order.load();
    secs = std::max(secs, x->seconds());
  }
  const double cpu = beehive::bench::cpu_seconds() - cpu0;
  const std::uint64_t sent = p.messages * fan;
  json out;
  out[fan == 1 ? "raw_msgs_per_s" : "raw_deliveries_per_s"] =
      round_to(static_cast<double>(received) / secs, 0);
  out["raw_lost"] = sent - received;
  out["raw_dropped"] = dropped;
  out["raw_errors"] = errors;
  out["raw_cpu_ns_per_msg"] = round_to(cpu * 1e9 / static_cast<double>(sent), 1);
  return out;
}

namespace {

// Request/reply round trips; the latencies (ns) of the measured calls, errors and timeouts.
struct rtt_result {
  std::vector<std::uint64_t> ns;
  std::uint64_t errors = 0;
  std::uint64_t timeouts = 0;
};

rtt_result measure_rtt(nats_servers& servers, const nats_bench_params& p, bool send_asap) {
  auto responder = connect(servers.url(0), send_asap);
  auto requester = connect(servers.url(0));
  natsSubscription* sub = nullptr;
  const std::string body = record(p.record_bytes);
  auto reply = [](natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
    if (natsMsg_GetReply(m) != nullptr) {
      natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m), natsMsg_GetDataLength(m));
    }
    natsMsg_Destroy(m);
  };
  if (natsConnection_Subscribe(&sub, responder->get(), "bench.raw.rtt", reply, nullptr) !=
      NATS_OK) {
    throw std::runtime_error("subscribe");
  }
  natsConnection_Flush(responder->get());
  rtt_result r;
  r.ns.reserve(p.messages);
  for (std::uint64_t i = 0; i < p.warmup + p.messages; ++i) {
    natsMsg* m = nullptr;
    const auto s = clock::now();
    const natsStatus st = natsConnection_Request(&m, requester->get(), "bench.raw.rtt", body.data(),
                                                 static_cast<int>(body.size()), 1000);
    const auto e = clock::now();
    if (st != NATS_OK) {
      ++r.errors;
      if (st == NATS_TIMEOUT) ++r.timeouts;
    }
    natsMsg_Destroy(m);
    if (i >= p.warmup) {
      r.ns.push_back(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(e - s).count()));
    }
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  return r;
}

}  // namespace

json raw_send_sync_rtt(nats_servers& servers, const nats_bench_params& p) {
  // The responder's reply goes out at once (SetSendAsap). Without it, it waits for nats.c's
  // flusher: measured on 2k calls as raw_no_send_asap_p50_us, the reason for the option.
  rtt_result r = measure_rtt(servers, p, /*send_asap=*/true);
  json lat;
  beehive::bench::add_percentiles(lat, r.ns);
  json out;
  for (auto& [k, v] : lat.items()) out["raw_" + k] = v;
  out["raw_errors"] = r.errors;
  out["raw_timeouts"] = r.timeouts;
  nats_bench_params few = p;
  few.messages = 2'000;
  few.warmup = 100;
  rtt_result slow = measure_rtt(servers, few, /*send_asap=*/false);
  json slow_lat;
  beehive::bench::add_percentiles(slow_lat, slow.ns);
  out["raw_no_send_asap_p50_us"] = slow_lat["p50_us"];
  return out;
}

// Node 0 -> node 2; with a window, the publisher holds at most `credit_window` records not yet
// acknowledged by the consumer, which grants credit every half window.
json raw_cluster_send(nats_servers& servers, const nats_bench_params& p, bool window) {
  auto pub = connect(servers.url(0));
  auto sub_conn = connect(servers.url(2), /*send_asap=*/true);
  receiver rx;
  rx.expected = p.messages;
  rx.work_ns = p.consumer_work_ns;
  struct credit {
    std::mutex m;
    std::condition_variable cv;
    std::uint64_t acked = 0;
  } cr;
  natsSubscription* credit_sub = nullptr;
  if (window) {
    rx.credit_nc = sub_conn->get();
    rx.credit_subject = "bench.raw.credit";
    rx.credit_every = std::max<std::uint64_t>(p.credit_window / 2, 1);
    auto on_credit = [](natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
      auto* c = static_cast<credit*>(closure);
      const std::uint64_t n = std::strtoull(natsMsg_GetData(m), nullptr, 10);
      natsMsg_Destroy(m);
      {
        std::lock_guard lock(c->m);
        c->acked = std::max(c->acked, n);
      }
      c->cv.notify_one();
    };
    natsConnection_Subscribe(&credit_sub, pub->get(), "bench.raw.credit", on_credit, &cr);
    natsConnection_Flush(pub->get());
  }
  rx.subscribe(sub_conn->get(), "bench.raw.cluster");
  if (!servers.wait_interest(0, "bench.raw.cluster") ||
      (window && !servers.wait_interest(2, "bench.raw.credit"))) {
    throw std::runtime_error("interest did not propagate through the cluster");
  }
  std::string r = record(p.record_bytes);
  std::uint64_t errors = 0, stalls = 0;
  const auto t0 = clock::now();
  rx.started = t0;
  for (std::uint64_t i = 0; i < p.messages; ++i) {
    if (window && i % 256 == 0) {
      std::unique_lock lock(cr.m);
      if (i >= cr.acked + p.credit_window) {
        // Out of credit: flush what we hold, then wait (bounded: a lost credit ends the run).
        lock.unlock();
        natsConnection_Flush(pub->get());
        lock.lock();
        if (!cr.cv.wait_for(lock, 5s, [&] { return i < cr.acked + p.credit_window; })) {
          ++stalls;
          break;
        }
      }
    }
    put_seq(r, i);
    if (natsConnection_Publish(pub->get(), "bench.raw.cluster", r.data(),
                               static_cast<int>(r.size())) != NATS_OK) {
      ++errors;
    }
  }
  natsConnection_FlushTimeout(pub->get(), 10000);
  (void)rx.wait_all();
  const double secs = rx.seconds();
  if (credit_sub != nullptr) {
    natsSubscription_Unsubscribe(credit_sub);
    natsSubscription_Destroy(credit_sub);
  }
  json out;
  out["raw_msgs_per_s"] = round_to(static_cast<double>(rx.received.load()) / secs, 0);
  out["raw_lost"] = p.messages - rx.received.load();
  out["raw_dropped"] = rx.dropped();
  out["raw_errors"] = errors + rx.out_of_order.load() + stalls;
  return out;
}

// A requester on node 0 (listing every node, node 0 first) calls a responder on node 2 in a
// loop (250 ms timeout, about one call per ms); node 0 is killed or hung after 200 calls.
// failover_ms: from the kill (stop) to the first call that succeeds.
json raw_failover(nats_servers& servers, bool hang) {
  auto responder = connect(servers.url(2), /*send_asap=*/true);
  beehive::test::nats_client_options o;
  o.urls = servers.hub_urls();
  o.no_randomize = true;
  o.name = "nats-bench-failover";
  auto requester = nats_client::connect(o);
  if (!requester) throw std::runtime_error("connect requester");
  natsSubscription* sub = nullptr;
  auto reply = [](natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
    if (natsMsg_GetReply(m) != nullptr) natsConnection_PublishString(nc, natsMsg_GetReply(m), "");
    natsMsg_Destroy(m);
  };
  natsConnection_Subscribe(&sub, responder->get(), "bench.raw.failover", reply, nullptr);
  natsConnection_Flush(responder->get());
  if (!servers.wait_interest(0, "bench.raw.failover")) throw std::runtime_error("no interest");
  std::uint64_t failed = 0, errors = 0;
  double failover_ms = -1;
  clock::time_point t_fault{};
  for (int i = 0; i < 30'000; ++i) {
    if (i == 200) {
      t_fault = clock::now();
      if (hang) {
        servers.hang(0);
      } else {
        servers.kill(0);
      }
    }
    natsMsg* m = nullptr;
    const natsStatus st =
        natsConnection_RequestString(&m, requester->get(), "bench.raw.failover", "ping", 250);
    natsMsg_Destroy(m);
    if (st != NATS_OK) {
      if (i < 200) ++errors;
      ++failed;
    } else if (i >= 200) {
      failover_ms = std::chrono::duration<double, std::milli>(clock::now() - t_fault).count();
      break;
    }
    std::this_thread::sleep_for(1ms);  // the call rate of the scenario, not a wait
  }
  if (hang) servers.resume(0);
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  json out;
  out["raw_failover_ms"] = round_to(failover_ms, 1);
  out["raw_failed_calls"] = failed;
  out["raw_errors"] = errors + (failover_ms < 0 ? 1 : 0);
  return out;
}

}  // namespace beehive::bench
