// SPDX-License-Identifier: Apache-2.0
#include "socket/transport.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>

#include "core/log.hpp"

namespace beehive::detail {
namespace {

// Reserved (virtual) per SEQPACKET reader for one recvmmsg batch; pages become resident only
// where records land, and are given back when the reader idles.
constexpr std::size_t read_batch_bytes = 4 << 20;
constexpr std::size_t max_read_slots = 64;
constexpr std::size_t max_write_batch = 64;  // packets per sendmmsg
constexpr std::size_t stream_read_chunk = 64 * 1024;
// A reader that has waited this long with nothing to read gives its batch memory back.
constexpr auto idle_release = std::chrono::milliseconds(200);
// The kernel refuses a unix datagram longer than the sender's sk_sndbuf - 32 (EMSGSIZE).
constexpr std::size_t packet_overhead = 32;

std::size_t page_size() noexcept {
  static const long p = ::sysconf(_SC_PAGESIZE);
  return p > 0 ? static_cast<std::size_t>(p) : 4096;
}

std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

}  // namespace

bool fits_socket_path(std::string_view path) noexcept {
  return !path.empty() && path.size() < sizeof(sockaddr_un::sun_path);
}

expected<socket_kind> socket_kind_of(std::string_view socket_type) {
  if (socket_type == socket_type_unixpacket) return socket_kind::seqpacket;
  if (socket_type == socket_type_unix) return socket_kind::stream;
  return unexpected(errc::invalid_argument);
}

expected<socket_kind> socket_kind_of(const socket_entry& entry, const socket_options& options) {
  auto kind = socket_kind_of(entry.socket_type);
  if (kind && *kind == socket_kind::stream &&
      entry.framing.value_or(options.framing) == stream_framing::package) {
    return socket_kind::stream_package;
  }
  return kind;
}

// ---- owned resources ------------------------------------------------------------------------

void transport::unique_fd::reset() noexcept {
  const int fd = fd_.exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) ::close(fd);
}

transport::reserved_area::~reserved_area() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

bool transport::reserved_area::reserve(std::size_t bytes) noexcept {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  data_ = static_cast<char*>(p);
  size_ = bytes;
  return true;
}

void transport::reserved_area::discard(std::size_t offset, std::size_t bytes) noexcept {
  if (data_ == nullptr || offset >= size_) return;
  bytes = std::min(bytes, size_ - offset);
  (void)::madvise(data_ + offset, bytes, MADV_DONTNEED);
}

// ---- transport ------------------------------------------------------------------------------

transport::transport(int fd, socket_kind kind, std::size_t buffer_size, inbox_options outbound,
                     socket_counters* counters)
    : fd_(fd),
      kind_(kind),
      buffer_size_(std::max<std::size_t>(buffer_size, 1)),
      lines_(buffer_size_),
      frames_(buffer_size_),
      queue_(*this, outbound, counters) {
  // Why a large send buffer: a connected unix socket's records in flight are bounded only by
  // the sender's SO_SNDBUF (about 200 small records by default), and a sender that blocks
  // every 200 records pays a wakeup each time. Best effort: capped by net.core.wmem_max.
  const int sndbuf = 4 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (kind_ == socket_kind::seqpacket) {
    int actual = 0;
    socklen_t len = sizeof actual;
    max_packet_ = ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &actual, &len) == 0 &&
                          static_cast<std::size_t>(actual) > packet_overhead
                      ? static_cast<std::size_t>(actual) - packet_overhead
                      : std::size_t{64 * 1024};
  }
}

transport::~transport() { shutdown(); }

void transport::shutdown() noexcept {
  {
    // Held across the syscall: `release` must not close (and the process reuse) the descriptor
    // between the check and the call.
    std::lock_guard lock(fd_mu_);
    if (!shut_.exchange(true)) ::shutdown(fd_.get(), SHUT_RDWR);
  }
  queue_.close();
}

void transport::release() noexcept {
  shutdown();
  // No writer, no sender's write uses the descriptor after this; the caller is its reader.
  queue_.close_and_join();
  std::lock_guard lock(fd_mu_);
  fd_.reset();
}

bool transport::is_shut_down() const noexcept { return shut_.load(); }

void transport::set_receive_timeout(std::chrono::milliseconds timeout) {
  user_timeout_ = timeout;
  apply_receive_timeout();
}

void transport::apply_receive_timeout() noexcept {
  auto t = user_timeout_;
  if (idle_timer_ && t.count() == 0) t = idle_release;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

std::size_t transport::read_buffers_in_use() const noexcept {
  switch (kind_) {
    case socket_kind::seqpacket:
      return touched_.load(std::memory_order_relaxed);
    case socket_kind::stream:
      return lines_.allocated() != 0 ? 1 : 0;
    case socket_kind::stream_package:
      return chunk_ ? 1 : 0;
  }
  return 0;
}

// ---- writing --------------------------------------------------------------------------------

expected<void> transport::send(std::string record, admission how, const message* meta) {
  if (kind_ == socket_kind::stream_package) {
    if (!record.empty() && record.back() == '\n') record.pop_back();
    std::array<char, package_header_size> header{};
    write_package_header(static_cast<std::uint32_t>(record.size()), header.data());
    record.insert(0, header.data(), header.size());
  } else {
    if (record.empty() || record.back() != '\n') record.push_back('\n');
    if (kind_ == socket_kind::seqpacket && record.size() > max_packet_) {
      log().warn("socket: record of {} bytes exceeds the socket limit ({}), not sent",
                 record.size(), max_packet_);
      return unexpected(errc::message_too_large);
    }
  }
  return queue_.push(std::move(record), how, meta);
}

expected<write_progress> transport::write(std::span<std::string> records, std::size_t offset,
                                          bool wait) {
  const int flags = MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT);
  if (kind_ == socket_kind::seqpacket) return write_packets(records, flags);
  return write_stream(records, offset, flags);
}

expected<write_progress> transport::write_packets(std::span<std::string> records, int flags) {
  std::array<mmsghdr, max_write_batch> msgs;
  std::array<iovec, max_write_batch> iovs;
  std::size_t done = 0;
  while (done < records.size()) {
    const std::size_t n = std::min(max_write_batch, records.size() - done);
    for (std::size_t i = 0; i < n; ++i) {
      auto& rec = records[done + i];
      iovs[i].iov_base = rec.data();
      iovs[i].iov_len = rec.size();
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(n), flags);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return write_progress{done, 0};
      if (errno == EMSGSIZE) {
        // Checked by `send`; the limit can only have shrunk since. Skip it, keep the link.
        log().warn("socket: record of {} bytes exceeds the socket limit, not sent",
                   records[done].size());
        ++done;
        continue;
      }
      return unexpected(errc::not_connected);
    }
    done += static_cast<std::size_t>(sent);
  }
  return write_progress{done, 0};
}

expected<write_progress> transport::write_stream(std::span<std::string> records, std::size_t offset,
                                                 int flags) {
  std::size_t idx = 0;
  std::size_t off = offset;
  while (idx < records.size()) {
    iov_.clear();
    for (std::size_t i = idx; i < records.size() && iov_.size() < IOV_MAX; ++i) {
      const std::size_t skip = i == idx ? off : 0;
      iov_.push_back({records[i].data() + skip, records[i].size() - skip});
    }
    msghdr mh{};
    mh.msg_iov = iov_.data();
    mh.msg_iovlen = iov_.size();
    const ssize_t w = ::sendmsg(fd_.get(), &mh, flags);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return write_progress{idx, off};
      return unexpected(errc::not_connected);
    }
    auto left = static_cast<std::size_t>(w);
    while (left > 0 && idx < records.size()) {
      const std::size_t rest = records[idx].size() - off;
      if (left < rest) {
        off += left;
        break;
      }
      left -= rest;
      ++idx;
      off = 0;
    }
  }
  return write_progress{records.size(), 0};
}

// ---- reading --------------------------------------------------------------------------------

read_status transport::read(std::vector<read_item>& out) {
  out.clear();
  switch (kind_) {
    case socket_kind::seqpacket:
      return read_seqpacket(out);
    case socket_kind::stream:
      return read_lines(out);
    case socket_kind::stream_package:
      return read_frames(out);
  }
  return read_status::error;
}

read_status transport::read_failed(int err) {
  if (err == EAGAIN || err == EWOULDBLOCK) {
    release_idle_memory();
    return shut_.load() ? read_status::closed : read_status::timed_out;
  }
  return shut_.load() ? read_status::closed : read_status::error;
}

bool transport::peer_hung_up() const noexcept {
  pollfd p{fd_.get(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP)) != 0;
}

void transport::release_idle_memory() noexcept {
  if (const std::size_t used = touched_.load(std::memory_order_relaxed); used > 1) {
    rarea_.discard(slot_stride_, (used - 1) * slot_stride_);
    touched_.store(1, std::memory_order_relaxed);
  }
  if (kind_ == socket_kind::stream) lines_.release();
  if (idle_timer_) {
    idle_timer_ = false;
    apply_receive_timeout();
  }
}

void transport::note_touched(std::size_t slots) noexcept {
  if (slots > touched_.load(std::memory_order_relaxed)) {
    touched_.store(slots, std::memory_order_relaxed);
  }
}

read_status transport::read_seqpacket(std::vector<read_item>& out) {
  if (slots_ == 0) {
    // Each slot starts on a page, so that the pages of slots 1.. can be given back alone.
    slot_stride_ = round_up(buffer_size_, page_size());
    slots_ = std::clamp<std::size_t>(read_batch_bytes / slot_stride_, 1, max_read_slots);
    if (!rarea_.reserve(slots_ * slot_stride_)) {
      slots_ = 1;
      if (!rarea_.reserve(slot_stride_)) {
        slots_ = 0;
        log().error("socket: cannot reserve a read buffer of {} bytes", slot_stride_);
        return read_status::error;
      }
    }
  }
  std::array<mmsghdr, max_read_slots> msgs;
  std::array<iovec, max_read_slots> iovs;
  for (std::size_t i = 0; i < slots_; ++i) {
    iovs[i].iov_base = rarea_.data() + i * slot_stride_;
    iovs[i].iov_len = buffer_size_;
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int n = -1;
  for (;;) {
    n = ::recvmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(slots_), MSG_WAITFORONE, nullptr);
    if (n >= 0) break;
    const int err = errno;
    if (err == EINTR) continue;
    if ((err == EAGAIN || err == EWOULDBLOCK) && idle_timer_ && user_timeout_.count() == 0 &&
        !shut_.load()) {
      // Idle for a while after a batch: give its pages back, then wait without a bound.
      release_idle_memory();
      continue;
    }
    return read_failed(err);
  }
  const auto count = static_cast<std::size_t>(n);
  // Why zero-length entries need care: recvmmsg reports the peer's orderly close as an entry
  // of length 0 (every slot after it too), exactly as it reports an empty record the peer
  // sent. An empty entry followed by data in the batch is a record; a trailing one is a record
  // unless the peer has hung up (then it may be the close: the batch ends there, and a
  // following read reports `closed`). So an empty record the peer sent last before closing is
  // taken as the close when the close is already there; nothing tells the two apart.
  std::size_t data_end = 0;  // one past the last entry with bytes
  for (std::size_t i = count; i > 0; --i) {
    if (msgs[i - 1].msg_len != 0 || (msgs[i - 1].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
      data_end = i;
      break;
    }
  }
  bool checked = false;
  for (std::size_t i = 0; i < count; ++i) {
    const auto& m = msgs[i];
    if ((m.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
      out.push_back({{}, std::max<std::size_t>(m.msg_len, buffer_size_ + 1)});
      continue;
    }
    if (m.msg_len == 0) {
      if (i >= data_end && !checked) {
        checked = true;
        if (shut_.load() || peer_hung_up()) {
          note_touched(data_end);
          return out.empty() ? read_status::closed : read_status::ok;
        }
      }
      out.push_back({{}, 0});  // an empty record: the reader rejects it as malformed
      continue;
    }
    std::string_view rec(static_cast<const char*>(iovs[i].iov_base), m.msg_len);
    if (rec.back() == '\n') rec.remove_suffix(1);
    out.push_back({rec, 0});
  }
  note_touched(count);
  if (touched_.load(std::memory_order_relaxed) > 1 && !idle_timer_) {
    idle_timer_ = true;
    apply_receive_timeout();
  }
  return read_status::ok;
}

read_status transport::read_lines(std::vector<read_item>& out) {
  for (;;) {
    while (auto item = lines_.next()) out.push_back({item->record, item->oversized});
    if (!out.empty()) {
      if (!idle_timer_) {
        idle_timer_ = true;
        apply_receive_timeout();
      }
      return read_status::ok;
    }
    const auto space = lines_.prepare();
    const ssize_t r = ::recv(fd_.get(), space.data(), space.size(), 0);
    if (r < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if ((err == EAGAIN || err == EWOULDBLOCK) && idle_timer_ && user_timeout_.count() == 0 &&
          !shut_.load()) {
        release_idle_memory();
        continue;
      }
      return read_failed(err);
    }
    if (r == 0) return lines_.buffered() > 0 ? read_status::truncated : read_status::closed;
    lines_.commit(static_cast<std::size_t>(r));
  }
}

read_status transport::read_frames(std::vector<read_item>& out) {
  // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): uninitialised on purpose
  if (!chunk_) chunk_.reset(new char[stream_read_chunk]);
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
    const ssize_t r = ::recv(fd_.get(), chunk_.get(), stream_read_chunk, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return read_failed(errno);
    }
    if (r == 0) return frames_.buffered() > 0 ? read_status::truncated : read_status::closed;
    frames_.append(std::string_view(chunk_.get(), static_cast<std::size_t>(r)));
  }
}

}  // namespace beehive::detail
