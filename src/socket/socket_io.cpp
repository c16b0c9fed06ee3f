// SPDX-License-Identifier: Apache-2.0
// g++ 12 warns (-Wtsan) that the fences in asio's headers are invisible to ThreadSanitizer.
// They do not carry our synchronization: a handler passes from `post` (or a completed wait) to
// the loop's thread through the scheduler's mutex, which ThreadSanitizer does see. Without
// this, -Werror stops the tsan build.
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include "socket/socket_io.hpp"

#include <asio.hpp>
#include <optional>
#include <utility>

#include "core/log.hpp"

namespace beehive::detail {

struct socket_io::impl {
  asio::io_context io{1};  // one thread runs it
  // Keeps `run` from returning while nothing is queued.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
      asio::make_work_guard(io)};
};

socket_io::socket_io() : impl_(std::make_unique<impl>()) {}

socket_io::~socket_io() { stop(); }

asio::io_context& socket_io::context() noexcept { return impl_->io; }

bool socket_io::start() {
  std::lock_guard lock(mu_);
  if (stopped_) return false;
  if (thread_.joinable()) return true;
  thread_ = std::thread([this] {
    for (;;) {
      try {
        impl_->io.run();
        return;
      } catch (const std::exception& e) {
        // A handler threw (they should not): keep the loop alive for the others.
        log().error("socket: event loop handler failed: {}", e.what());
      }
    }
  });
  running_ = 1;
  return true;
}

bool socket_io::post(std::function<void()> fn) {
  if (!start()) return false;
  asio::post(impl_->io, std::move(fn));
  return true;
}

void socket_io::stop() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    t = std::move(thread_);
  }
  impl_->work.reset();
  impl_->io.stop();
  if (t.joinable()) t.join();
  std::lock_guard lock(mu_);
  running_ = 0;
}

bool socket_io::in_loop() const noexcept {
  return impl_->io.get_executor().running_in_this_thread();
}

std::size_t socket_io::thread_count() const {
  std::lock_guard lock(mu_);
  return running_;
}

}  // namespace beehive::detail
