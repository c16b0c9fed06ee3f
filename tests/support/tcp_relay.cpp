// SPDX-License-Identifier: Apache-2.0
#include "support/tcp_relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

namespace beehive::test {
namespace {

constexpr std::size_t chunk = 64 * 1024;

struct link {
  int a = -1;  // accepted (the connecting end)
  int b = -1;  // to the target
  std::string a_to_b;
  std::string b_to_a;
};

void close_link(link& l) {
  if (l.a >= 0) ::close(l.a);
  if (l.b >= 0) ::close(l.b);
  l.a = l.b = -1;
}

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Moves bytes from `from` into `buf` (when empty) and from `buf` to `to` (non-blocking); false
// when the link is over (end of file or an error). An error on `to` shows when the other
// direction reads from it.
bool pump(int from, short from_events, std::string& buf, int to) {
  if ((from_events & (POLLIN | POLLHUP | POLLERR)) != 0 && buf.empty()) {
    char tmp[chunk];
    const ssize_t n = ::recv(from, tmp, sizeof tmp, 0);
    if (n == 0) return false;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    if (n > 0) buf.assign(tmp, static_cast<std::size_t>(n));
  }
  if (!buf.empty()) {
    const ssize_t n = ::send(to, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    if (n > 0) buf.erase(0, static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

tcp_relay::tcp_relay(std::uint16_t target_port) : target_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || wake_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    throw std::runtime_error("tcp_relay: cannot listen on loopback");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

tcp_relay::~tcp_relay() {
  set_state(state::stopping);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void tcp_relay::cut(cut_mode mode) {
  set_state(mode == cut_mode::reset ? state::reset : state::silent);
}

void tcp_relay::restore() { set_state(state::forwarding); }

std::size_t tcp_relay::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

void tcp_relay::set_state(state s) {
  std::unique_lock lock(mutex_);
  state_ = s;
  const std::uint64_t ticket = ++requested_;
  const std::uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof one);
  if (s == state::stopping) return;  // the destructor joins
  applied_cv_.wait(lock, [&] { return applied_ >= ticket; });
}

void tcp_relay::run() {
  std::vector<link> links;
  std::vector<pollfd> fds;
  state current = state::forwarding;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      current = state_;
      if (current == state::reset) {
        for (auto& l : links) close_link(l);
        links.clear();
      }
      connections_ = links.size();
      applied_ = requested_;
    }
    applied_cv_.notify_all();
    if (current == state::stopping) break;

    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({current == state::silent ? -1 : listen_fd_, POLLIN, 0});
    for (const auto& l : links) {
      const bool on = current == state::forwarding;
      auto events = [&](const std::string& in_buf, const std::string& out_buf) {
        short e = 0;
        if (in_buf.empty()) e |= POLLIN;
        if (!out_buf.empty()) e |= POLLOUT;
        return e;
      };
      fds.push_back({on ? l.a : -1, events(l.a_to_b, l.b_to_a), 0});
      fds.push_back({on ? l.b : -1, events(l.b_to_a, l.a_to_b), 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
    if ((fds[0].revents & POLLIN) != 0) {
      std::uint64_t n = 0;
      (void)::read(wake_fd_, &n, sizeof n);
    }
    if ((fds[1].revents & POLLIN) != 0) {
      for (;;) {
        const int a = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (a < 0) break;
        const int b = current == state::forwarding ? connect_loopback(target_) : -1;
        if (b < 0) {
          ::close(a);  // cut (reset), or the target is down: the connecting end sees it closed
          continue;
        }
        const int one = 1;
        ::setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        links.push_back({a, b, {}, {}});
      }
    }
    if (current != state::forwarding) continue;
    // Links accepted in this round have no pollfd yet: only the first `polled` are checked.
    const std::size_t polled = (fds.size() - 2) / 2;
    for (std::size_t i = 0; i < polled; ++i) {
      link& l = links[i];
      const short ea = fds[2 + 2 * i].revents;
      const short eb = fds[3 + 2 * i].revents;
      if (ea == 0 && eb == 0) continue;
      if (!pump(l.a, ea, l.a_to_b, l.b) || !pump(l.b, eb, l.b_to_a, l.a)) close_link(l);
    }
    std::erase_if(links, [](const link& l) { return l.a < 0; });
  }
  for (auto& l : links) close_link(l);
}

}  // namespace beehive::test
