// SPDX-License-Identifier: Apache-2.0
#include "admin/guarded_server.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__SANITIZE_THREAD__)
#define BEEHIVE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BEEHIVE_TSAN 1
#endif
#endif

#ifdef BEEHIVE_TSAN
// ThreadSanitizer and Debian's cpp-httplib: the library is a shared object built without TSan,
// so TSan sees none of its own synchronization (a function-local static's guard, read inline)
// but still sees the memcmp and memcpy it calls. Two of its worker threads then look racy on
// state the library built once (a lazily built static, e.g. a std::regex), and under
// `halt_on_error=1` (the tsan preset) that false report killed the serving process: every
// client (the `beehive tap` of a test) then found the admin API unreachable (exit 3).
// `called_from_lib` ignores only the interceptors called from inside that library; our own
// code, handlers included, stays fully checked. Weak: a program's own suppressions win.
extern "C" __attribute__((weak)) const char* __tsan_default_suppressions() {
  return "called_from_lib:libcpp-httplib.so\n";
}
#endif

namespace beehive::detail {

namespace {

// Waits until `fd` is ready for `events`; false on timeout or error.
bool wait_fd(int fd, short events, time_t sec, time_t usec) {
  pollfd p{fd, events, 0};
  const auto ms = static_cast<int>(sec * 1000 + usec / 1000);
  for (;;) {
    const int r = ::poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0 && (p.revents & (events | POLLHUP)) != 0;
  }
}

// A connection's socket as cpp-httplib's Stream: reads buffered (the request parser reads a
// line at a time), each read and write bounded by the server's timeouts.
class fd_stream final : public httplib::Stream {
 public:
  fd_stream(int fd, time_t rsec, time_t rusec, time_t wsec, time_t wusec)
      : fd_(fd), rsec_(rsec), rusec_(rusec), wsec_(wsec), wusec_(wusec) {}

  bool is_readable() const override { return begin_ < end_ || wait_fd(fd_, POLLIN, rsec_, rusec_); }
  bool is_writable() const override { return wait_fd(fd_, POLLOUT, wsec_, wusec_); }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      if (!wait_fd(fd_, POLLIN, rsec_, rusec_)) return -1;
      ssize_t n;
      do {
        n = ::recv(fd_, buf_, sizeof buf_, 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<std::size_t>(n);
    }
    const std::size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buf_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(::getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

  // Idle keep-alive: waits for the next request in short slices, so that a stopping server
  // does not wait for idle connections; false once `keep_alive_sec` passed or `stopping()`.
  template <class Stopping>
  bool next_request(time_t keep_alive_sec, Stopping stopping) {
    if (begin_ < end_) return true;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(keep_alive_sec);
    while (!stopping()) {
      if (wait_fd(fd_, POLLIN, 0, 100000)) return true;
      if (std::chrono::steady_clock::now() >= until) return false;
    }
    return false;
  }

 private:
  template <class Fn>
  void address_of(Fn fn, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ip.clear();
    port = 0;
    if (fn(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
      port = ntohs(a->sin6_port);
    } else {
      std::strcpy(text, "unix");
    }
    ip = text;
  }

  int fd_;
  time_t rsec_, rusec_, wsec_, wusec_;
  char buf_[4096];
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

void refuse(int fd) {
  // The request is read first (headers, then up to 64 KiB of body, each read bounded), so that
  // neither end resets the connection before the peer reads the answer.
  char sink[4096];
  std::string head;
  std::size_t end = std::string::npos;
  while ((end = head.find("\r\n\r\n")) == std::string::npos && head.size() < 16384 &&
         wait_fd(fd, POLLIN, 1, 0)) {
    const ssize_t n = ::recv(fd, sink, sizeof sink, 0);
    if (n <= 0) break;
    head.append(sink, static_cast<std::size_t>(n));
  }
  if (end != std::string::npos) {
    std::string lower = head.substr(0, end);
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::size_t body_len = 0;
    if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
      body_len = std::strtoul(lower.c_str() + at + 17, nullptr, 10);
    }
    std::size_t have = head.size() - end - 4;
    body_len = std::min<std::size_t>(body_len, 65536);
    while (have < body_len && wait_fd(fd, POLLIN, 1, 0)) {
      const ssize_t n = ::recv(fd, sink, sizeof sink, 0);
      if (n <= 0) break;
      have += static_cast<std::size_t>(n);
    }
  }
  static constexpr std::string_view body =
      R"({"error":"permission_denied","errc":0,"message":"the admin socket serves its owner only"})";
  const std::string answer =
      "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  (void)::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
}

}  // namespace

bool peer_is_same_user(int fd) noexcept {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == ::geteuid();
}

bool guarded_server::process_and_close_socket(socket_t sock) {
  bool ret = false;
  if (admit_ && !admit_(sock)) {
    refuse(sock);
  } else {
    fd_stream strm(sock, read_timeout_sec_, read_timeout_usec_, write_timeout_sec_,
                   write_timeout_usec_);
    // The keep-alive loop of cpp-httplib's own process_server_socket.
    for (std::size_t left = keep_alive_max_count_; left > 0; --left) {
      if (!strm.next_request(keep_alive_timeout_sec_,
                             [this] { return svr_sock_ == INVALID_SOCKET; })) {
        break;
      }
      bool closed = false;
      ret = process_request(strm, left == 1, closed, nullptr);
      if (!ret || closed) break;
    }
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace beehive::detail
