// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "beehive/codec.hpp"
#include "beehive/errc.hpp"

namespace beehive::detail {

/// How records travel on a connection.
enum class socket_kind {
  seqpacket,  ///< SOCK_SEQPACKET: one record (compact JSON + '\n') per packet
  stream,     ///< SOCK_STREAM: 12-byte package header + JSON payload per record
};

/// `unixpacket` -> seqpacket, `unix` -> stream; `invalid_argument` for anything else.
[[nodiscard]] expected<socket_kind> socket_kind_of(std::string_view socket_type);

/// What one `read` call saw.
enum class read_status {
  ok,         ///< records (and/or oversized-record notices) were read
  closed,     ///< the peer closed cleanly (or `shutdown` was called)
  timed_out,  ///< the receive timeout expired before anything came
  truncated,  ///< stream: the peer closed in the middle of a frame
  bad_frame,  ///< stream: wrong magic/version, or a length above the buffer size
  error,      ///< the socket failed
};

/// One item of a read batch.
struct read_item {
  std::string_view record;    ///< the record without its trailing '\n' (empty when oversized)
  std::size_t oversized = 0;  ///< seqpacket: size of a record that did not fit (rejected)
};

/// A connected unix socket carrying beehive records, with batched I/O.
///
/// Why raw recvmmsg/sendmmsg on the descriptor: asio opens, connects and accepts the sockets,
/// but has no batched datagram calls; one syscall per record caps a SEQPACKET link near 0.84M
/// records/s on the target machine, and batching is how to pass it.
///
/// Reading is for one thread (the connection's reader). `send` is thread-safe: concurrent
/// senders are combined, one of them writes everyone's records in one syscall.
class transport {
 public:
  /// Takes ownership of the connected descriptor `fd`.
  transport(int fd, socket_kind kind, std::size_t buffer_size);
  ~transport();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Sends one record (JSON text without '\n'). Blocks while the socket is full. Returns
  /// `not_connected` once the connection is shut down or broken, `message_too_large` for a
  /// record that exceeds the socket's limits.
  [[nodiscard]] expected<void> send(std::string record);
  /// Sends several records with as few syscalls as the socket allows.
  [[nodiscard]] expected<void> send_batch(std::vector<std::string>& records);

  /// Blocks until at least one record arrives (or the receive timeout, if set, expires), then
  /// returns every record already available. The views stay valid until the next `read`.
  [[nodiscard]] read_status read(std::vector<read_item>& out);
  /// Bounds the next reads (0 = no bound).
  void set_receive_timeout(std::chrono::milliseconds timeout);

  /// Shuts the socket down in both directions: a blocked reader returns `closed`, later sends
  /// fail with `not_connected`. Idempotent, thread-safe.
  void shutdown() noexcept;
  [[nodiscard]] bool is_shut_down() const noexcept;
  [[nodiscard]] int native_handle() const noexcept { return fd_; }
  [[nodiscard]] socket_kind kind() const noexcept { return kind_; }
  [[nodiscard]] std::size_t buffer_size() const noexcept { return buffer_size_; }

 private:
  [[nodiscard]] expected<void> write_all(std::vector<std::string>& batch);
  [[nodiscard]] read_status read_seqpacket(std::vector<read_item>& out);
  [[nodiscard]] read_status read_stream(std::vector<read_item>& out);

  int fd_;
  socket_kind kind_;
  std::size_t buffer_size_;

  // Reader state (one thread).
  std::vector<char> rbuf_;
  std::size_t rslots_ = 1;
  frame_decoder frames_;

  void flush_loop();

  // Writer state. A send that finds the link idle writes at once (the latency path). Sends
  // that follow each other closely (a burst) are queued; the sender that fills a batch writes
  // it in one syscall, and the flusher thread writes a partial batch once it is `flush_delay`
  // old, so that a single fast sender pays one syscall per batch and nothing waits long.
  std::mutex wmu_;
  std::condition_variable wcv_;       // room in the queue, writer done
  std::condition_variable flush_cv_;  // work for the flusher
  std::vector<std::string> wqueue_;
  bool writing_ = false;
  bool broken_ = false;
  std::chrono::steady_clock::time_point last_send_{};
  unsigned streak_ = 0;
  std::chrono::steady_clock::time_point batch_start_{};
  std::thread flusher_;
  std::atomic<bool> shut_{false};
};

/// Opens a listening unix socket at `path`: removes a stale socket file first, binds, sets
/// mode 0600, listens. Returns the descriptor (owned by the caller).
[[nodiscard]] expected<int> listen_unix(const std::string& path, socket_kind kind);
/// Accepts one connection; blocks. `not_connected` once the listener is shut down.
[[nodiscard]] expected<int> accept_unix(int listen_fd);
/// Connects to `path`. `not_connected` when nobody listens there.
[[nodiscard]] expected<int> connect_unix(const std::string& path, socket_kind kind);

}  // namespace beehive::detail
