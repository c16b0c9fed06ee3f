// SPDX-License-Identifier: Apache-2.0
// g++ 12 warns (-Wtsan) that the fences in asio's headers are invisible to ThreadSanitizer;
// see socket_io.cpp for why that does not matter here.
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include "socket/socket_listener.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <utility>

#include "core/log.hpp"
#include "socket/asio_unix.hpp"

namespace beehive::detail {
namespace {

// After running out of descriptors, accepting resumes this much later rather than spin.
constexpr auto accept_pause = std::chrono::milliseconds(50);

bool out_of_descriptors(const asio::error_code& ec) {
  const int e = ec.value();
  return ec.category() == asio::error::get_system_category() &&
         (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM);
}

template <class Acceptor>
class acceptor_listener final : public socket_listener,
                                public std::enable_shared_from_this<acceptor_listener<Acceptor>> {
 public:
  acceptor_listener(asio::io_context& io, std::string path)
      : socket_listener(std::move(path)), acceptor_(io) {}

  expected<void> open() {
    using protocol_type = typename Acceptor::protocol_type;
    const auto ep = unix_asio::endpoint_at<protocol_type>(path());
    asio::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) (void)::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
    if (!ec) acceptor_.bind(ep, ec);
    bound_ = !ec;
    if (!ec) (void)::chmod(path().c_str(), S_IRUSR | S_IWUSR);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      log().error("socket: cannot listen on '{}': {}", path(), ec.message());
      close();
      return unexpected(errc::not_connected);
    }
    return {};
  }

  void start(std::function<void(int fd)> on_accepted) override {
    on_accepted_ = std::move(on_accepted);
    accept_next();
  }

  void close() override {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    asio::error_code ec;
    acceptor_.close(ec);
    // Only a file this listener made: a failed bind leaves whatever is there alone.
    if (bound_) ::unlink(path().c_str());
  }

 private:
  // The acceptor is used under `mu_`: by the loop, which accepts, and by whoever closes it.
  void accept_next() {
    std::lock_guard lock(mu_);
    if (closed_) return;
    acceptor_.async_accept(
        [self = this->shared_from_this()](const asio::error_code& ec, auto peer) {
          self->accepted(ec, peer);
        });
  }

  template <class Socket>
  void accepted(const asio::error_code& ec, Socket& peer) {
    if (ec == asio::error::operation_aborted) return;
    if (ec && out_of_descriptors(ec)) {
      log().error("socket: accept on '{}': {}; pausing", path(), ec.message());
      auto pause = std::make_shared<asio::steady_timer>(acceptor_.get_executor(), accept_pause);
      pause->async_wait([self = this->shared_from_this(), pause](const asio::error_code&) {
        self->accept_next();
      });
      return;
    }
    if (ec) {
      log().error("socket: accept on '{}': {}; no longer accepting", path(), ec.message());
      return;
    }
    asio::error_code rec;
    const int fd = unix_asio::release_descriptor(peer, rec);
    if (fd >= 0) on_accepted_(fd);
    accept_next();
  }

  std::mutex mu_;
  Acceptor acceptor_;
  bool bound_ = false;                    // guarded by mu_ once `open` returned
  bool closed_ = false;                   // guarded by mu_
  std::function<void(int)> on_accepted_;  // set by `start`, then read by the loop only
};

// Removes a stale socket file at `path`; see the class comment.
expected<void> clear_stale_socket(asio::io_context& io, const std::string& path, socket_kind kind) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    log().error("socket: '{}' exists and is not a socket; not removing it", path);
    return unexpected(errc::invalid_argument);
  }
  const asio::error_code ec = unix_asio::with_protocol(kind, [&](auto protocol) {
    using protocol_type = decltype(protocol);
    typename protocol_type::socket probe(io);
    asio::error_code e;
    probe.connect(unix_asio::endpoint_at<protocol_type>(path), e);
    return e;
  });
  if (ec == asio::error::connection_refused) {
    log().info("socket: removing the stale socket file '{}'", path);
    ::unlink(path.c_str());
    return {};
  }
  if (ec == std::errc::no_such_file_or_directory) return {};  // removed meanwhile
  log().error("socket: a server is live on '{}' ({}); not taking its address", path,
              ec ? ec.message() : std::string("it accepted a connection"));
  return unexpected(errc::already_exists);
}

template <class Acceptor>
expected<std::shared_ptr<socket_listener>> open_as(asio::io_context& io, const std::string& path) {
  auto l = std::make_shared<acceptor_listener<Acceptor>>(io, path);
  if (auto r = l->open(); !r) return unexpected(r.error());
  return std::shared_ptr<socket_listener>(std::move(l));
}

}  // namespace

expected<std::shared_ptr<socket_listener>> socket_listener::open(asio::io_context& io,
                                                                 const std::string& path,
                                                                 socket_kind kind) {
  if (!fits_socket_path(path)) {
    log().error("socket: address '{}' is not a usable unix socket path", path);
    return unexpected(errc::invalid_argument);
  }
  if (auto r = clear_stale_socket(io, path, kind); !r) return unexpected(r.error());
  if (kind == socket_kind::seqpacket) {
    return open_as<asio::basic_socket_acceptor<unix_asio::seqpacket>>(io, path);
  }
  return open_as<asio::basic_socket_acceptor<unix_asio::stream>>(io, path);
}

}  // namespace beehive::detail
