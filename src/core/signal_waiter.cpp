// SPDX-License-Identifier: Apache-2.0
#include "beehive/signal_waiter.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "core/deadline.hpp"
#include "core/log.hpp"

// Why a self-pipe written by a sigaction handler, and not signalfd: signalfd sees a signal only
// while it is blocked in every thread of the process. Blocking it in the constructor covers the
// calling thread and the threads it starts later, but not the threads that already exist (a
// logger's, a test runner's, a user's); the kernel may deliver the signal to one of those, where
// its default action ends the process. A library cannot fix the masks of threads it does not own.
// A handler installed with sigaction runs in whichever thread takes the signal and writes one
// byte to a pipe (write is async-signal-safe), so it works whatever the threads' masks are.
// `stop()` uses a separate eventfd that is never drained: once written it keeps every current
// and later wait awake, and it cannot be confused with a signal queued in the pipe.

namespace beehive {

namespace {

using std::chrono::steady_clock;

constexpr std::array<int, 4> waited_signals{SIGINT, SIGHUP, SIGTERM, SIGQUIT};

static_assert(std::atomic<int>::is_always_lock_free, "used in a signal handler");
// The write end of the pipe of the newest live waiter; -1 when none.
std::atomic<int> signal_pipe_write{-1};
// Handlers between their load of `signal_pipe_write` and their write to it.
std::atomic<int> handlers_running{0};

// The live waiters and the handlers they replaced; guarded by `mu`.
struct waiter_registry {
  std::mutex mu;
  std::vector<int> write_fds;  // in construction order
  std::array<struct sigaction, waited_signals.size()> previous{};
};

waiter_registry& registry() {
  static waiter_registry r;
  return r;
}

extern "C" void on_termination_signal(int sig) {
  const int saved = errno;
  handlers_running.fetch_add(1);
  const int fd = signal_pipe_write.load();
  if (fd >= 0) {
    const auto byte = static_cast<unsigned char>(sig);
    // The pipe is non-blocking: a full pipe drops this signal rather than block the handler.
    [[maybe_unused]] const auto n = ::write(fd, &byte, 1);
  }
  handlers_running.fetch_sub(1);
  errno = saved;
}

// poll's timeout for `deadline`: -1 (no bound) for time_point::max(), "for ever".
int poll_timeout_ms(steady_clock::time_point deadline) {
  if (deadline == steady_clock::time_point::max()) return -1;
  const auto left = deadline - steady_clock::now();
  if (left <= steady_clock::duration::zero()) return 0;
  // Rounded up, so that a wait never ends before its deadline.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
}

constexpr int timed_out = -1;

}  // namespace

struct signal_waiter::state {
  int read_fd = -1;
  int write_fd = -1;
  int stop_fd = -1;

  [[nodiscard]] bool ready() const noexcept { return read_fd >= 0; }

  // A signal's number, 0 when stopped (or broken), `timed_out` when the deadline passed.
  int wait_until(steady_clock::time_point deadline) const {
    if (!ready()) return 0;
    for (;;) {
      const int ms = poll_timeout_ms(deadline);
      std::array<pollfd, 2> fds{{{stop_fd, POLLIN, 0}, {read_fd, POLLIN, 0}}};
      const int n = ::poll(fds.data(), fds.size(), ms);
      if (n < 0) {
        if (errno == EINTR) continue;  // the handler wrote first, so the next poll sees it
        detail::log().error("signal_waiter: poll failed: {}", std::strerror(errno));
        return 0;
      }
      if (fds[0].revents != 0) return 0;
      if (fds[1].revents != 0) {
        unsigned char byte = 0;
        const auto r = ::read(read_fd, &byte, 1);
        if (r == 1) return byte;
        // Another waiting call took the byte first; wait on.
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        detail::log().error("signal_waiter: read failed: {}", std::strerror(errno));
        return 0;
      }
      if (ms == 0) return timed_out;
    }
  }
};

signal_waiter::signal_waiter() : s_(std::make_unique<state>()) {
  std::array<int, 2> fds{-1, -1};
  if (::pipe2(fds.data(), O_CLOEXEC | O_NONBLOCK) != 0) {
    detail::log().error("signal_waiter: pipe2 failed: {}", std::strerror(errno));
    return;
  }
  const int stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    detail::log().error("signal_waiter: eventfd failed: {}", std::strerror(errno));
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  s_->read_fd = fds[0];
  s_->write_fd = fds[1];
  s_->stop_fd = stop_fd;

  auto& reg = registry();
  std::lock_guard lock(reg.mu);
  if (reg.write_fds.empty()) {
    struct sigaction sa {};
    sa.sa_handler = on_termination_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (std::size_t i = 0; i < waited_signals.size(); ++i) {
      ::sigaction(waited_signals[i], &sa, &reg.previous[i]);
    }
  }
  reg.write_fds.push_back(s_->write_fd);
  signal_pipe_write.store(s_->write_fd);
}

signal_waiter::~signal_waiter() {
  if (!s_->ready()) return;
  {
    auto& reg = registry();
    std::lock_guard lock(reg.mu);
    std::erase(reg.write_fds, s_->write_fd);
    signal_pipe_write.store(reg.write_fds.empty() ? -1 : reg.write_fds.back());
    if (reg.write_fds.empty()) {
      for (std::size_t i = 0; i < waited_signals.size(); ++i) {
        ::sigaction(waited_signals[i], &reg.previous[i], nullptr);
      }
    }
    // Why wait here: a handler that loaded our write end before the store above may still be
    // about to write to it; closing it first could let the number be reused by an unrelated
    // open() and the byte land there. Handlers are short and never block, so this ends at once.
    while (handlers_running.load() != 0) std::this_thread::yield();
  }
  ::close(s_->read_fd);
  ::close(s_->write_fd);
  ::close(s_->stop_fd);
}

int signal_waiter::wait() { return s_->wait_until(steady_clock::time_point::max()); }

expected<int> signal_waiter::wait_for(std::chrono::nanoseconds timeout) {
  const int r = s_->wait_until(detail::deadline_after(timeout));
  if (r == timed_out) return unexpected(errc::timed_out);
  if (r == 0) return unexpected(errc::cancelled);
  return r;
}

void signal_waiter::stop() noexcept {
  if (s_->stop_fd < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(s_->stop_fd, &one, sizeof one);
}

}  // namespace beehive
