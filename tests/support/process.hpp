// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: real processes a test starts (the example system, the `beehive` command,
// promtool, prometheus, tmux, chromium). Every process is stopped and reaped by its owner's
// destructor, also after a failed assertion. Waits are bounded and event-driven (pidfd,
// inotify); none sleeps.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace beehive::test {

/// The content of a file ("" when missing).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A loopback TCP port free now (bound, read, closed: another process may take it later).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

/// Polls `pred` (yielding between polls) until it holds or `bound` passes.
template <class Pred>
bool eventually_within(std::chrono::milliseconds bound, Pred pred) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

/// Waits until file `path` contains `text`, woken by inotify on each change; false past `bound`.
inline bool wait_for_text(const std::string& path, const std::string& text,
                          std::chrono::milliseconds bound) {
  const int in = ::inotify_init1(IN_CLOEXEC);
  const int wd = ::inotify_add_watch(in, path.c_str(), IN_MODIFY | IN_CLOSE_WRITE);
  const auto until = std::chrono::steady_clock::now() + bound;
  bool found = false;
  for (;;) {
    if (read_text(path).find(text) != std::string::npos) {
      found = true;
      break;
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || wd < 0) break;
    pollfd p{in, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      char buf[4096];
      (void)::read(in, buf, sizeof buf);
    }
  }
  ::close(in);
  return found;
}

/// What to start.
struct process_spec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  ///< added to (or replacing in) this process's
  std::vector<std::string> unset;          ///< removed from the environment
  std::string stdin_file;                  ///< empty: /dev/null
  std::string stdout_file;                 ///< empty: /dev/null
  std::string stderr_file;                 ///< empty: /dev/null
  std::optional<uid_t> user;               ///< run as this uid (and gid) (needs root)
};

/// A started process; its destructor sends SIGTERM, waits a bounded time, then SIGKILL, and
/// reaps it.
class process {
 public:
  explicit process(const process_spec& spec) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv(*e);
      const std::string key = kv.substr(0, kv.find('='));
      if (spec.env.count(key) != 0 ||
          std::find(spec.unset.begin(), spec.unset.end(), key) != spec.unset.end()) {
        continue;
      }
      env.push_back(kv);
    }
    for (const auto& [k, v] : spec.env) env.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const auto open_or_null = [](const std::string& path, int flags) {
      return ::open(path.empty() ? "/dev/null" : path.c_str(), flags | O_CLOEXEC, 0644);
    };
    const int in = open_or_null(spec.stdin_file, O_RDONLY);
    const int out = open_or_null(spec.stdout_file, O_WRONLY | O_CREAT | O_TRUNC);
    const int err = open_or_null(spec.stderr_file, O_WRONLY | O_CREAT | O_TRUNC);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(err, 2);
      ::setpgid(0, 0);  // its own group: stop() reaches its children too
      if (spec.user && (::setgid(*spec.user) != 0 || ::setuid(*spec.user) != 0)) std::_Exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      std::_Exit(127);
    }
    ::close(in);
    ::close(out);
    ::close(err);
  }
  ~process() { stop(); }
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  /// Reaps the process if it exits within `bound`: its exit code (128 + signal when killed);
  /// nullopt while it still runs.
  std::optional<int> wait_for(std::chrono::milliseconds bound) {
    if (pid_ <= 0) return status_;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      int r;
      do {
        r = ::poll(&p, 1, static_cast<int>(bound.count()));
      } while (r < 0 && errno == EINTR);
      ::close(pidfd);
      if (r <= 0) return std::nullopt;
    }
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
    pid_ = -1;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }

  /// SIGTERM to its group, up to 10 s, then SIGKILL; reaps it. Idempotent.
  std::optional<int> stop() {
    if (pid_ <= 0) return status_;
    // Its group (its children too), or the process itself if it has not made its group yet;
    // once only: a second SIGTERM could reach a program after its handler is gone.
    send_to_group(SIGCONT);
    send_to_group(SIGTERM);
    if (auto s = wait_for(std::chrono::seconds(10))) return s;
    send_to_group(SIGKILL);
    return wait_for(std::chrono::seconds(30));
  }

 private:
  void send_to_group(int sig) const {
    if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);
  }

  pid_t pid_ = -1;
  std::optional<int> status_;
};

/// What a finished command printed.
struct run_result {
  int code = -1;  ///< exit code; -1 when it did not end within its bound (it was killed)
  std::string out;
  std::string err;
};

/// Runs a command to its end (bounded by `bound`; killed past it), capturing its output in
/// files under `dir`.
inline run_result run_command(process_spec spec, const std::string& dir,
                              std::chrono::milliseconds bound = std::chrono::seconds(60)) {
  static int n = 0;
  const std::string base = dir + "/cmd" + std::to_string(++n);
  spec.stdout_file = base + ".out";
  spec.stderr_file = base + ".err";
  run_result r;
  {
    process p(spec);
    auto code = p.wait_for(bound);
    r.code = code ? *code : -1;
  }
  r.out = read_text(base + ".out");
  r.err = read_text(base + ".err");
  return r;
}

}  // namespace beehive::test
