// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/codec.hpp"
#include "beehive/errc.hpp"
#include "beehive/module_options.hpp"
#include "beehive/socket_config.hpp"
#include "beehive/socket_context.hpp"
#include "socket/line_decoder.hpp"
#include "socket/outbound_queue.hpp"
#include "socket/package_frame.hpp"

namespace beehive::detail {

struct socket_counters;

/// How records travel on a connection.
enum class socket_kind {
  seqpacket,       ///< SOCK_SEQPACKET: one record (compact JSON + '\n') per packet
  stream,          ///< SOCK_STREAM: compact JSON + '\n' per record, back to back (Go's)
  stream_package,  ///< SOCK_STREAM: 12-byte package header + JSON payload per record
};

/// True for the SOCK_STREAM kinds.
[[nodiscard]] constexpr bool is_stream(socket_kind k) noexcept {
  return k != socket_kind::seqpacket;
}

/// `unixpacket` -> seqpacket, `unix` -> stream (newline-delimited); `invalid_argument` for
/// anything else.
[[nodiscard]] expected<socket_kind> socket_kind_of(std::string_view socket_type);
/// Whether `path` can name a unix socket: not empty, and short enough for `sun_path` with its
/// terminating NUL. The listener, the client and the socket type all check with this.
[[nodiscard]] bool fits_socket_path(std::string_view path) noexcept;
/// The kind of an entry: its socket type, and for `unix` its `framing` (else `options.framing`).
[[nodiscard]] expected<socket_kind> socket_kind_of(const socket_entry& entry,
                                                   const socket_options& options);

/// What one `read` call saw.
enum class read_status {
  ok,         ///< records (and/or oversized-record notices) were read
  closed,     ///< the peer closed cleanly (or `shutdown` was called)
  timed_out,  ///< the receive timeout expired before anything came
  truncated,  ///< stream: the peer closed in the middle of a record
  bad_frame,  ///< stream_package: wrong magic/version, or a length above the buffer size
  error,      ///< the socket failed
};

/// One item of a read batch, in the order the records arrived.
///
/// - A record: `record` is its text without the trailing '\n'. It may be empty (a zero-length
///   packet, an empty line): that is not a beehive record, the reader rejects it as malformed.
///   On SEQPACKET a zero-length packet reads exactly as the peer's close does (recv returns 0
///   for both; no flag or queue size tells them apart), so an empty packet the peer sent last
///   is ambiguous: when the peer has hung up by the time it is read, it is taken as the close
///   (no item: `read` returns the records before it with `ok`, else `closed`); when read before
///   the peer hangs up, it is an empty item, and the close comes with a later `read`.
/// - An oversized record (`oversized` != 0): it did not fit in the buffer size and was not
///   read; `oversized` is a lower bound of its size. The records before and after it are
///   intact, so after the handshake a reader counts it and goes on. Before the handshake a
///   server must close instead (the peer is unknown, and a stream peer may still be sending
///   it): the item comes as soon as the record is known to be too long, ahead of anything that
///   follows it.
struct read_item {
  std::string_view record;
  std::size_t oversized = 0;
  [[nodiscard]] bool is_oversized() const noexcept { return oversized != 0; }
};

/// A connected unix socket carrying beehive records: batched reads, and writes through a
/// bounded outbound queue.
///
/// Why raw recvmmsg/sendmmsg on the descriptor: asio opens, connects and accepts the sockets
/// (`socket_listener`, `socket_client`) and hand the connected descriptor over. But asio has no
/// batched datagram calls; one syscall per record caps a SEQPACKET link near 0.84M records/s
/// on the target machine, and batching is how to pass it.
///
/// Reading is for one thread (the connection's reader). Memory: a reader holds one buffer of
/// `buffer_size` bytes, allocated on first read and touched only where records land. A
/// SEQPACKET reader reads a batch of up to 64 records per syscall into a reserved (virtual)
/// area of 64 buffers; the pages a batch touched are given back once the reader has waited
/// idle for a while (or a read timed out), so an idle connection keeps about one buffer.
///
/// Writing (`send`) is thread-safe and never waits on the socket: see `outbound_queue`.
class transport final : private record_sink {
 public:
  /// Takes ownership of the connected descriptor `fd`. `outbound` bounds the queue of records
  /// waiting to be written; `counters` (optional, must outlive the transport) counts what is
  /// written, refused, dropped and never sent.
  transport(int fd, socket_kind kind, std::size_t buffer_size, inbox_options outbound = {},
            socket_counters* counters = nullptr);
  /// Shuts down, waits for the writer thread, closes the descriptor.
  ~transport() override;
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Sends one record (compact JSON, without '\n'; it must hold no raw newline): frames it for
  /// the socket kind and hands it to the outbound queue (see `admission`). Written at once when
  /// the link is idle; else queued. Errors: `not_connected` once shut down or broken,
  /// `message_too_large` for a packet above the socket's limit, and the queue's `queue_full`,
  /// `timed_out`. `meta`: the message the record was encoded from, for the queue's lanes and
  /// coalescing (see `outbound_queue::push`).
  [[nodiscard]] expected<void> send(std::string record, admission how = admission::wait,
                                    const message* meta = nullptr);

  /// Blocks until at least one record arrives (or the receive timeout, if set, expires), then
  /// returns every record already available, in order. The views stay valid until the next
  /// `read`.
  [[nodiscard]] read_status read(std::vector<read_item>& out);
  /// Bounds the next reads (0 = no bound). Reader thread only.
  void set_receive_timeout(std::chrono::milliseconds timeout);

  /// Shuts the socket down in both directions: a blocked reader returns `closed`, a blocked
  /// writer and blocked senders wake, later sends fail with `not_connected`; records not yet
  /// written are dropped (counted as unsent). Idempotent, thread-safe.
  void shutdown() noexcept;
  [[nodiscard]] bool is_shut_down() const noexcept;
  /// Shuts down (as `shutdown`), ends the writer (joined) and closes the descriptor now, rather
  /// than when the last reference to the transport goes (an endpoint kept in a thread's routing
  /// cache may hold it long after its link ended). Call once the transport is no longer read:
  /// from its reader after `read` returned, or after the reader was joined. Idempotent.
  void release() noexcept;
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  [[nodiscard]] socket_kind kind() const noexcept { return kind_; }
  [[nodiscard]] std::size_t buffer_size() const noexcept { return buffer_size_; }

  /// Records accepted by `send` and not yet written.
  [[nodiscard]] std::size_t outbound_pending() const { return queue_.pending(); }
  /// Senders waiting for room in the outbound queue (`block`); for tests and monitoring.
  [[nodiscard]] std::size_t outbound_waiting() const { return queue_.waiting_senders(); }
  /// Read buffers holding data since the reader last gave memory back (SEQPACKET: batch slots
  /// used, at least 1 once read; streams: 1 while the buffer is allocated). For tests.
  [[nodiscard]] std::size_t read_buffers_in_use() const noexcept;

 private:
  // An owned descriptor, closed last (after the writer thread is joined).
  class unique_fd {
   public:
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    ~unique_fd() { reset(); }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    [[nodiscard]] int get() const noexcept { return fd_.load(std::memory_order_acquire); }
    /// Closes the descriptor (once).
    void reset() noexcept;

   private:
    std::atomic<int> fd_;
  };
  // Anonymous memory reserved, not touched: pages become resident only where data is written.
  class reserved_area {
   public:
    reserved_area() = default;
    ~reserved_area();
    reserved_area(const reserved_area&) = delete;
    reserved_area& operator=(const reserved_area&) = delete;
    [[nodiscard]] bool reserve(std::size_t bytes) noexcept;
    /// Gives the pages of [offset, offset + bytes) back (they read as zero afterwards).
    void discard(std::size_t offset, std::size_t bytes) noexcept;
    [[nodiscard]] char* data() const noexcept { return data_; }

   private:
    char* data_ = nullptr;
    std::size_t size_ = 0;
  };

  [[nodiscard]] expected<write_progress> write(std::span<std::string> records, std::size_t offset,
                                               bool wait) override;
  [[nodiscard]] expected<write_progress> write_packets(std::span<std::string> records, int flags);
  [[nodiscard]] expected<write_progress> write_stream(std::span<std::string> records,
                                                      std::size_t offset, int flags);
  [[nodiscard]] read_status read_seqpacket(std::vector<read_item>& out);
  [[nodiscard]] read_status read_lines(std::vector<read_item>& out);
  [[nodiscard]] read_status read_frames(std::vector<read_item>& out);
  // A recv-side failure: what it means for the caller (`timed_out`, `closed`, `error`), after
  // giving idle memory back on a timeout.
  [[nodiscard]] read_status read_failed(int err);
  [[nodiscard]] bool peer_hung_up() const noexcept;
  void release_idle_memory() noexcept;
  void note_touched(std::size_t slots) noexcept;
  void apply_receive_timeout() noexcept;

  unique_fd fd_;
  const socket_kind kind_;
  const std::size_t buffer_size_;
  std::size_t max_packet_ = 0;  // SEQPACKET: the largest record the socket takes

  // Reader state (one thread).
  std::chrono::milliseconds user_timeout_{0};
  bool idle_timer_ = false;      // SO_RCVTIMEO is the idle period: memory to give back
  std::size_t slots_ = 0;        // SEQPACKET: records per batch (0 until the first read)
  std::size_t slot_stride_ = 0;  // bytes between slots (page-aligned)
  // Slots holding data since the last release; read by other threads (tests, monitoring).
  std::atomic<std::size_t> touched_{0};
  reserved_area rarea_;
  line_decoder lines_;
  frame_decoder frames_;
  std::unique_ptr<char[]> chunk_;  // stream_package: the recv buffer

  // Writer state: one write at a time (the queue's rule); the scratch iovecs of a stream write.
  std::vector<struct iovec> iov_;
  std::atomic<bool> shut_{false};
  std::mutex fd_mu_;  // orders `shutdown`'s syscall before `release` closes the descriptor

  outbound_queue queue_;  // last: destroyed (its writer joined) before the members it uses
};

}  // namespace beehive::detail
