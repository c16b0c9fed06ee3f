// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support for the socket context: short temporary directories, configs, a responder
// module, and a hand-driven raw peer.

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "beehive/beehive.hpp"
#include "beehive/socket.hpp"
#include "bounded_wait.hpp"
#include "socket/package_frame.hpp"
#include "temp_dir.hpp"

namespace beehive::test {

/// The YAML of a server `sockserver` at `address` and the listed client modules.
inline std::string socket_yaml(const std::string& address, const std::vector<std::string>& clients,
                               const std::string& sockettype = "unixpacket", int connmax = 8,
                               std::size_t buffersize = 65536) {
  std::string y = "- module: sockserver\n  server: true\n  address: " + address +
                  "\n  sockettype: " + sockettype + "\n  connmax: " + std::to_string(connmax) +
                  "\n  buffersize: " + std::to_string(buffersize) + "\n";
  for (const auto& c : clients) {
    y += "- module: " + c + "\n  server: false\n  address: " + address +
         "\n  sockettype: " + sockettype + "\n  buffersize: " + std::to_string(buffersize) + "\n";
  }
  return y;
}

inline socket_config socket_cfg(const std::string& address, const std::vector<std::string>& clients,
                                const std::string& sockettype = "unixpacket", int connmax = 8,
                                std::size_t buffersize = 65536) {
  auto cfg = parse_socket_config(socket_yaml(address, clients, sockettype, connmax, buffersize));
  return cfg ? *cfg : socket_config{};
}

inline module_info remote_info(std::string name) {
  module_info i;
  i.name = std::move(name);
  i.type = "unixpacket";
  i.remote = true;
  return i;
}

/// A module loop on its own thread: receives for `module`, records each message, and answers
/// sync requests with "pong:<content>" (or what `answer` returns). Stops at destruction.
class responder {
 public:
  responder(context& ctx, std::string module,
            std::function<std::string(const message&)> answer = nullptr)
      : ctx_(ctx), module_(std::move(module)), answer_(std::move(answer)) {
    thread_ = std::jthread([this](const std::stop_token& st) { run(st); });
  }
  ~responder() {
    thread_.request_stop();
    thread_.join();
  }
  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;

  /// Waits (bounded) until `n` messages arrived.
  bool wait_for_count(std::size_t n, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [&] { return received_.size() >= n; });
  }
  /// Waits (bounded) until `pred(received messages)` holds.
  bool wait_until(const std::function<bool(const std::vector<message>&)>& pred,
                  std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [&] { return pred(received_); });
  }
  std::vector<message> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void run(const std::stop_token& st) {
    while (!st.stop_requested()) {
      auto m = ctx_.receive_for(module_, std::chrono::milliseconds(20));
      if (!m) {
        if (m.error() == make_error_code(errc::timed_out)) continue;
        if (m.error() == make_error_code(errc::channel_closed) ||
            m.error() == make_error_code(errc::module_not_found)) {
          // The module may be re-added (reconnect); keep trying until stopped.
          std::this_thread::yield();
          continue;
        }
        continue;
      }
      if (m->header.sync) {
        std::string body = answer_ ? answer_(*m) : "pong:" + m->content.to_string().value_or("");
        auto resp = new_resp_by_message(*m, content(body));
        resp.route.source = module_;
        (void)ctx_.send_resp(std::move(resp));
      }
      {
        std::lock_guard lock(mu_);
        received_.push_back(std::move(*m));
      }
      cv_.notify_all();
    }
  }

  context& ctx_;
  std::string module_;
  std::function<std::string(const message&)> answer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<message> received_;
  std::jthread thread_;
};

/// A listening SOCK_SEQPACKET socket that is not a beehive server: the test accepts, reads and
/// answers by hand (to play a server that misbehaves, or to see a client's first bytes).
/// Closes and removes its socket file at destruction.
class raw_listener {
 public:
  explicit raw_listener(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ok_ =
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd_, 16) == 0;
  }
  ~raw_listener() { close(); }
  raw_listener(const raw_listener&) = delete;
  raw_listener& operator=(const raw_listener&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  /// Accepts the next connection within `limit`; -1 when none came.
  int accept_within(std::chrono::milliseconds limit) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return -1;
    return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }
  /// A connection and the bytes of its first record (a client's handshake, '\n' included).
  struct first_record {
    int fd = -1;  ///< the caller closes it; -1 when no connection came
    std::string bytes;
  };
  /// Accepts the next connection and reads its first record, each within `limit`.
  first_record accept_first_record(std::chrono::milliseconds limit) const {
    first_record out;
    out.fd = accept_within(limit);
    if (out.fd < 0) return out;
    pollfd p{out.fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return out;
    std::string buf(65536, '\0');
    const ssize_t n = ::recv(out.fd, buf.data(), buf.size(), 0);
    if (n > 0) out.bytes.assign(buf.data(), static_cast<std::size_t>(n));
    return out;
  }
  /// Stops listening and removes the socket file: connecting fails at once from now on.
  void close() {
    if (fd_ < 0) return;
    ::close(fd_);
    ::unlink(path_.c_str());
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
};

/// Writes `record` + '\n' as one packet on the SEQPACKET socket `fd`; true when all of it went.
inline bool write_packet(int fd, const std::string& record) {
  const std::string text = record + "\n";
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

/// A client module joining a server that the test plays by hand: the listener, the client's
/// context and socket type, the module being added on a thread (`add_module` returns at once:
/// the module connects and handshakes in the background), and the accepted connection with the
/// bytes of the handshake. The test answers on `fd`, then `join`s. Stops the type and joins at
/// destruction, also after a failed assertion.
class hand_served_client {
 public:
  hand_served_client(const std::string& path, module_info module, socket_options options = {})
      : listener(path) {
    auto c = register_socket_context(ctx, socket_cfg(path, {module.name}), options);
    if (c) type = *c;
    if (!listener.ok() || !type) return;
    adder_ = std::thread([this, m = std::move(module)] {
      auto r = ctx.add_module(m);
      std::lock_guard lock(mu_);
      added_ = r;
      added_cv_.notify_all();
    });
    auto first = listener.accept_first_record(watchdog);
    fd = first.fd;
    handshake = std::move(first.bytes);
  }
  ~hand_served_client() {
    if (type) type->stop();
    (void)join();
    if (fd >= 0) ::close(fd);
  }
  hand_served_client(const hand_served_client&) = delete;
  hand_served_client& operator=(const hand_served_client&) = delete;

  /// The answer of a server that hosts `srvmod` alone (Go's response, content the module
  /// exchange); nullopt when no handshake came or it does not decode.
  [[nodiscard]] std::optional<message> srvmod_answer() const {
    auto hs = decode_message(handshake);
    if (!hs) return std::nullopt;
    return new_resp_by_message(
        *hs, content::from_trusted_json_text(R"({"modules":["srvmod"],"groups":{}})"));
  }
  /// Waits for `add_module`; true when it succeeded.
  bool join() {
    if (adder_.joinable()) adder_.join();
    std::lock_guard lock(mu_);
    return added_ && *added_;
  }
  /// Waits at most `bound` for `add_module` to return; true when it returned and succeeded.
  bool added_within(std::chrono::milliseconds bound) {
    std::unique_lock lock(mu_);
    return added_cv_.wait_for(lock, bound, [&] { return added_.has_value(); }) && *added_;
  }

  raw_listener listener;
  context ctx;
  std::shared_ptr<socket_context> type;
  int fd = -1;            ///< the client's connection (-1 when none came)
  std::string handshake;  ///< its first record, '\n' included (empty when none came)

 private:
  std::mutex mu_;
  std::condition_variable added_cv_;
  std::optional<expected<void>> added_;
  std::thread adder_;
};

/// A hand-driven peer speaking raw bytes, to replay captures and send bad input.
class raw_peer {
 public:
  /// Connects to `path` with SOCK_SEQPACKET (`stream` false) or SOCK_STREAM. A stream carries
  /// newline-delimited records (Go's), or package frames when `package` is true.
  raw_peer(const std::string& path, bool stream = false, bool package = false)
      : stream_(stream), package_(stream && package) {
    fd_ = ::socket(AF_UNIX, (stream ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~raw_peer() { close(); }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  /// Writes raw bytes (one packet on seqpacket).
  bool write_raw(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  /// Writes one record: JSON + '\n' (one packet on seqpacket), or a package frame.
  bool write_record(const std::string& json) {
    if (!package_) return write_raw(json + "\n");
    std::string frame;
    detail::append_package(json, frame);
    return write_raw(frame);
  }
  /// Reads one record within `bound`; nullopt on timeout or EOF (see `eof()`).
  std::optional<std::string> read_record(
      std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    if (package_) return read_frame(bound);
    if (stream_) return read_line(bound);
    if (!wait_readable(bound)) return std::nullopt;
    std::string buf(1 << 20, '\0');
    const ssize_t r = ::recv(fd_, buf.data(), buf.size(), 0);
    if (r <= 0) {
      eof_ = true;
      return std::nullopt;
    }
    buf.resize(static_cast<std::size_t>(r));
    if (!buf.empty() && buf.back() == '\n') buf.pop_back();
    return buf;
  }
  /// True once a read saw the peer close.
  [[nodiscard]] bool eof() const { return eof_; }
  /// Waits (bounded) until the server closes the connection, skipping any records.
  bool wait_eof(std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!eof_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      if (!wait_readable(left)) return false;
      char buf[65536];
      const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
      if (r <= 0) eof_ = true;
    }
    return true;
  }
  /// The Go handshake record for `module`.
  bool handshake(const std::string& module) {
    message hs = new_message();
    hs.header.sync = true;
    hs.header.type = "unixpacket";
    hs.route.source = module;
    hs.route.operation = "add";
    hs.route.resource = "module";
    hs.content = content(std::string());
    auto text = encode_message(hs);
    if (!text || !write_record(*text)) return false;
    auto reply = read_record();
    return reply && reply->find("\"operation\":\"response\"") != std::string::npos;
  }

 private:
  bool wait_readable(std::chrono::milliseconds bound) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(bound.count())) > 0;
  }
  std::optional<std::string> read_line(std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
      if (const auto nl = pending_.find('\n'); nl != std::string::npos) {
        std::string out = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        return out;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !wait_readable(left)) return std::nullopt;
      char buf[65536];
      const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
      if (r <= 0) {
        eof_ = true;
        return std::nullopt;
      }
      pending_.append(buf, static_cast<std::size_t>(r));
    }
  }
  std::optional<std::string> read_frame(std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
      if (pending_.size() >= detail::package_header_size) {
        auto len = detail::read_package_header(
            std::string_view(pending_).substr(0, detail::package_header_size), 1 << 24);
        if (!len) return std::nullopt;
        if (pending_.size() >= detail::package_header_size + *len) {
          std::string out = pending_.substr(detail::package_header_size, *len);
          pending_.erase(0, detail::package_header_size + *len);
          return out;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !wait_readable(left)) return std::nullopt;
      char buf[65536];
      const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
      if (r <= 0) {
        eof_ = true;
        return std::nullopt;
      }
      pending_.append(buf, static_cast<std::size_t>(r));
    }
  }

  int fd_ = -1;
  bool stream_ = false;
  bool package_ = false;
  bool connected_ = false;
  bool eof_ = false;
  std::string pending_;
};

}  // namespace beehive::test
