// SPDX-License-Identifier: Apache-2.0
// g++ 12 warns (-Wtsan) that the fences in asio's headers are invisible to ThreadSanitizer.
// Only asio's synchronous open/bind/connect run here (its scheduler never does), so the
// warning does not apply; without this, -Werror stops the tsan build.
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include "socket/transport.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <cerrno>
#include <cstring>

#include "log.hpp"

namespace beehive::detail {
namespace {

// Upper bound of the memory a reader keeps for one recvmmsg batch.
constexpr std::size_t read_batch_bytes = 4 << 20;  // virtual: a slot touches only what it holds
constexpr std::size_t max_read_slots = 64;
constexpr std::size_t max_write_batch = 64;
constexpr std::size_t stream_read_chunk = 64 * 1024;
// A combining writer lets others queue this many records before they wait for room.
constexpr std::size_t max_write_queue = 4096;
// Sends closer together than this, several in a row, are a burst and get queued.
constexpr auto burst_gap = std::chrono::microseconds(10);
constexpr unsigned burst_streak = 4;
// A burst is written when it reaches this many records, or when it is this old.
constexpr std::size_t flush_batch = 64;
constexpr auto flush_delay = std::chrono::microseconds(50);

asio::io_context& io() {
  // Only synchronous operations are used (open, bind, connect): the io_context never runs.
  static asio::io_context ctx;
  return ctx;
}

}  // namespace

expected<socket_kind> socket_kind_of(std::string_view socket_type) {
  if (socket_type == "unixpacket") return socket_kind::seqpacket;
  if (socket_type == "unix") return socket_kind::stream;
  return unexpected(errc::invalid_argument);
}

transport::transport(int fd, socket_kind kind, std::size_t buffer_size)
    : fd_(fd), kind_(kind), buffer_size_(buffer_size), frames_(buffer_size) {
  // Why a large send buffer: a connected unix socket's records in flight are bounded only by
  // the sender's SO_SNDBUF (about 200 small records by default), and a sender that blocks
  // every 200 records pays a wakeup each time. Best effort: capped by net.core.wmem_max.
  const int sndbuf = 4 << 20;
  (void)::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (kind_ == socket_kind::seqpacket) {
    rslots_ = std::clamp<std::size_t>(read_batch_bytes / std::max<std::size_t>(buffer_size_, 1), 1,
                                      max_read_slots);
    rbuf_.resize(rslots_ * buffer_size_);
  } else {
    rbuf_.resize(stream_read_chunk);
  }
}

transport::~transport() {
  shutdown();
  if (flusher_.joinable()) flusher_.join();
  ::close(fd_);
}

void transport::shutdown() noexcept {
  if (!shut_.exchange(true)) ::shutdown(fd_, SHUT_RDWR);
  {
    std::lock_guard lock(wmu_);
    broken_ = true;
  }
  wcv_.notify_all();
  flush_cv_.notify_all();
}

bool transport::is_shut_down() const noexcept { return shut_.load(); }

void transport::set_receive_timeout(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

expected<void> transport::send(std::string record) {
  std::vector<std::string> one;
  one.push_back(std::move(record));
  return send_batch(one);
}

expected<void> transport::send_batch(std::vector<std::string>& records) {
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(wmu_);
  if (broken_) return unexpected(errc::not_connected);
  // A burst: several sends each within `burst_gap` of the previous one. A request/reply
  // exchange never looks like one (a round trip takes longer than the gap).
  streak_ = now - last_send_ < burst_gap ? streak_ + 1 : 0;
  last_send_ = now;
  const bool idle = !writing_ && wqueue_.empty() && streak_ < burst_streak;
  if (!idle) {
    wcv_.wait(lock, [&] { return broken_ || wqueue_.size() < max_write_queue; });
    if (broken_) return unexpected(errc::not_connected);
    const bool first = wqueue_.empty();
    if (first) batch_start_ = now;
    for (auto& r : records) wqueue_.push_back(std::move(r));
    records.clear();
    if (wqueue_.size() < flush_batch || writing_) {
      if (!flusher_.joinable()) flusher_ = std::thread([this] { flush_loop(); });
      if (first) flush_cv_.notify_one();
      return {};
    }
    // A full batch: this sender writes it (and what others queue meanwhile).
    records.swap(wqueue_);
  }
  writing_ = true;
  lock.unlock();
  auto r = write_all(records);
  records.clear();
  lock.lock();
  writing_ = false;
  if (!r && r.error() != make_error_code(errc::message_too_large)) {
    broken_ = true;
    wqueue_.clear();
  }
  if (!wqueue_.empty()) flush_cv_.notify_one();
  wcv_.notify_all();
  return r;
}

void transport::flush_loop() {
  std::vector<std::string> batch;
  std::unique_lock lock(wmu_);
  for (;;) {
    flush_cv_.wait(lock, [&] { return broken_ || !wqueue_.empty(); });
    if (broken_) return;
    // Give the sender the chance to fill the batch itself; write what is left after that.
    const auto due = batch_start_ + flush_delay;
    flush_cv_.wait_until(lock, due, [&] { return broken_; });
    if (broken_) return;
    if (wqueue_.empty() || writing_ ||
        std::chrono::steady_clock::now() < batch_start_ + flush_delay) {
      continue;
    }
    writing_ = true;
    batch.swap(wqueue_);
    lock.unlock();
    wcv_.notify_all();
    auto r = write_all(batch);
    batch.clear();
    lock.lock();
    writing_ = false;
    if (!r && r.error() != make_error_code(errc::message_too_large)) {
      broken_ = true;
      wqueue_.clear();
      wcv_.notify_all();
      return;
    }
    wcv_.notify_all();
  }
}

expected<void> transport::write_all(std::vector<std::string>& batch) {
  if (kind_ == socket_kind::seqpacket) {
    std::array<mmsghdr, max_write_batch> msgs{};
    std::array<iovec, max_write_batch> iovs{};
    std::size_t done = 0;
    bool too_large = false;
    while (done < batch.size()) {
      const std::size_t n = std::min(max_write_batch, batch.size() - done);
      for (std::size_t i = 0; i < n; ++i) {
        auto& rec = batch[done + i];
        if (rec.empty() || rec.back() != '\n') rec.push_back('\n');
        iovs[i].iov_base = rec.data();
        iovs[i].iov_len = rec.size();
        msgs[i] = mmsghdr{};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int sent = ::sendmmsg(fd_, msgs.data(), static_cast<unsigned>(n), MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EMSGSIZE) {
          // One record exceeds the socket's packet limit: skip it, keep the connection.
          log().warn("socket: record of {} bytes exceeds the socket limit, not sent",
                     batch[done].size());
          too_large = true;
          ++done;
          continue;
        }
        return unexpected(errc::not_connected);
      }
      done += static_cast<std::size_t>(sent);
    }
    if (too_large) return unexpected(errc::message_too_large);
    return {};
  }
  // Stream: frames back to back, written with writev.
  std::vector<std::array<char, package_header_size>> headers(batch.size());
  std::vector<iovec> iov;
  iov.reserve(batch.size() * 2);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& rec = batch[i];
    if (!rec.empty() && rec.back() == '\n') rec.pop_back();
    write_package_header(static_cast<std::uint32_t>(rec.size()), headers[i].data());
    iov.push_back({headers[i].data(), package_header_size});
    iov.push_back({rec.data(), rec.size()});
  }
  std::size_t idx = 0;
  while (idx < iov.size()) {
    const int cnt = static_cast<int>(std::min<std::size_t>(iov.size() - idx, IOV_MAX));
    msghdr mh{};
    mh.msg_iov = &iov[idx];
    mh.msg_iovlen = static_cast<std::size_t>(cnt);
    const ssize_t w = ::sendmsg(fd_, &mh, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return unexpected(errc::not_connected);
    }
    auto left = static_cast<std::size_t>(w);
    while (idx < iov.size() && left >= iov[idx].iov_len) {
      left -= iov[idx].iov_len;
      ++idx;
    }
    if (left > 0) {
      iov[idx].iov_base = static_cast<char*>(iov[idx].iov_base) + left;
      iov[idx].iov_len -= left;
    }
  }
  return {};
}

read_status transport::read(std::vector<read_item>& out) {
  out.clear();
  return kind_ == socket_kind::seqpacket ? read_seqpacket(out) : read_stream(out);
}

read_status transport::read_seqpacket(std::vector<read_item>& out) {
  std::array<mmsghdr, max_read_slots> msgs{};
  std::array<iovec, max_read_slots> iovs{};
  for (std::size_t i = 0; i < rslots_; ++i) {
    iovs[i].iov_base = rbuf_.data() + i * buffer_size_;
    iovs[i].iov_len = buffer_size_;
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int n = -1;
  for (;;) {
    if (n >= 0) break;
    n = ::recvmmsg(fd_, msgs.data(), static_cast<unsigned>(rslots_), MSG_WAITFORONE, nullptr);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return shut_.load() ? read_status::closed : read_status::timed_out;
    }
    return shut_.load() ? read_status::closed : read_status::error;
  }
  for (int i = 0; i < n; ++i) {
    const auto& m = msgs[static_cast<std::size_t>(i)];
    if ((m.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
      out.push_back({{}, std::max<std::size_t>(m.msg_len, buffer_size_ + 1)});
      continue;
    }
    if (m.msg_len == 0) {
      // A zero-length read is the peer's orderly close (beehive never sends empty records).
      return out.empty() ? read_status::closed : read_status::ok;
    }
    std::string_view rec(static_cast<const char*>(iovs[static_cast<std::size_t>(i)].iov_base),
                         m.msg_len);
    if (rec.back() == '\n') rec.remove_suffix(1);
    out.push_back({rec, 0});
  }
  if (n == 0) return read_status::closed;
  return read_status::ok;
}

read_status transport::read_stream(std::vector<read_item>& out) {
  for (;;) {
    // Hand out what is already buffered before reading again.
    for (;;) {
      auto next = frames_.next();
      // Records before a bad frame were accepted: hand them out first; the decoder keeps
      // answering the error, so the next read reports it.
      if (!next) return out.empty() ? read_status::bad_frame : read_status::ok;
      if (!next->has_value()) break;
      out.push_back({**next, 0});
    }
    if (!out.empty()) return read_status::ok;
    const ssize_t r = ::recv(fd_, rbuf_.data(), rbuf_.size(), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return shut_.load() ? read_status::closed : read_status::timed_out;
      }
      return shut_.load() ? read_status::closed : read_status::error;
    }
    if (r == 0) return frames_.buffered() > 0 ? read_status::truncated : read_status::closed;
    frames_.append(std::string_view(rbuf_.data(), static_cast<std::size_t>(r)));
  }
}

expected<int> listen_unix(const std::string& path, socket_kind kind) {
  sockaddr_un probe{};
  if (path.empty() || path.size() >= sizeof(probe.sun_path)) {
    log().error("socket: address '{}' is not a usable unix socket path", path);
    return unexpected(errc::invalid_argument);
  }
  // Remove a stale socket file (left by a crashed server); never remove anything else.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      log().error("socket: '{}' exists and is not a socket; not removing it", path);
      return unexpected(errc::invalid_argument);
    }
    ::unlink(path.c_str());
  }
  asio::error_code ec;
  const asio::local::stream_protocol::endpoint local_ep(path);
  int fd = -1;
  if (kind == socket_kind::seqpacket) {
    const asio::generic::seq_packet_protocol::endpoint ep(local_ep);
    asio::basic_socket_acceptor<asio::generic::seq_packet_protocol> acc(io());
    acc.open(ep.protocol(), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) fd = acc.release(ec);
  } else {
    asio::local::stream_protocol::acceptor acc(io());
    acc.open(local_ep.protocol(), ec);
    if (!ec) acc.bind(local_ep, ec);
    if (!ec) fd = acc.release(ec);
  }
  if (ec || fd < 0) {
    log().error("socket: cannot bind '{}': {}", path, ec.message());
    return unexpected(errc::not_connected);
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  // Only the owner may connect (Go sets 0600 too).
  ::chmod(path.c_str(), S_IRUSR | S_IWUSR);
  if (::listen(fd, SOMAXCONN) != 0) {
    log().error("socket: cannot listen on '{}': {}", path, std::strerror(errno));
    ::close(fd);
    return unexpected(errc::not_connected);
  }
  return fd;
}

expected<int> accept_unix(int listen_fd) {
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return fd;
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      log().error("socket: accept: {}", std::strerror(errno));
      return unexpected(errc::queue_full);
    }
    return unexpected(errc::not_connected);
  }
}

expected<int> connect_unix(const std::string& path, socket_kind kind) {
  sockaddr_un probe{};
  if (path.empty() || path.size() >= sizeof(probe.sun_path))
    return unexpected(errc::invalid_argument);
  asio::error_code ec;
  const asio::local::stream_protocol::endpoint local_ep(path);
  int fd = -1;
  if (kind == socket_kind::seqpacket) {
    const asio::generic::seq_packet_protocol::endpoint ep(local_ep);
    asio::generic::seq_packet_protocol::socket s(io());
    s.connect(ep, ec);
    if (!ec) fd = s.release(ec);
  } else {
    asio::local::stream_protocol::socket s(io());
    s.connect(local_ep, ec);
    if (!ec) fd = s.release(ec);
  }
  if (ec || fd < 0) return unexpected(errc::not_connected);
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

}  // namespace beehive::detail
