// SPDX-License-Identifier: Apache-2.0
#include "support/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace beehive::test {

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    std::size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    // Built with std::filesystem::path: g++ 12 -O2 warns falsely (-Wrestrict) on the string
    // operations that would do the same.
    const std::filesystem::path dir =
        end > begin ? std::filesystem::path(dirs.substr(begin, end - begin)) : ".";
    const std::string candidate = (dir / name).string();
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    begin = end + 1;
  }
  return {};
}

child_process child_process::start(const std::vector<std::string>& argv,
                                   const std::string& output_file) {
  if (argv.empty()) throw std::runtime_error("child_process: empty argv");
  // Everything the child needs is prepared before fork: after it, in a multi-threaded parent,
  // only async-signal-safe calls are allowed.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string out = output_file.empty() ? std::string("/dev/null") : output_file;
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("child_process: fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
    const int in = ::open("/dev/null", O_RDONLY);
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || fd < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close_range(3, ~0U, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  child_process c;
  c.pid_ = pid;
  return c;
}

child_process::~child_process() { kill(); }

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, -1)) {}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    kill();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, -1);
  }
  return *this;
}

void child_process::reap(int status) {
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
}

bool child_process::running() {
  if (pid_ < 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reap(status);
    return false;
  }
  return true;
}

int child_process::exit_status() {
  (void)running();
  return status_;
}

void child_process::kill() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reap(status);
}

void child_process::terminate(int grace_ms) {
  if (pid_ < 0) return;
  ::kill(pid_, SIGCONT);  // a stopped process cannot act on SIGTERM
  ::kill(pid_, SIGTERM);
  // A pidfd becomes readable when the process exits: a bounded wait without polling.
  const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pfd >= 0) {
    pollfd p{pfd, POLLIN, 0};
    while (::poll(&p, 1, grace_ms) < 0 && errno == EINTR) {
    }
    ::close(pfd);
  }
  kill();  // reaps it, or ends it if the grace period expired
}

void child_process::stop() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGSTOP);
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WUNTRACED);
    if (r < 0 && errno == EINTR) continue;
    if (r == pid_ && !WIFSTOPPED(status)) reap(status);
    return;
  }
}

void child_process::resume() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGCONT);
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WCONTINUED);
    if (r < 0 && errno == EINTR) continue;
    if (r == pid_ && !WIFCONTINUED(status)) reap(status);
    return;
  }
}

int child_process::wait() {
  if (pid_ < 0) return status_;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reap(status);
  return status_;
}

int run_program(const std::vector<std::string>& argv, const std::string& output_file) {
  return child_process::start(argv, output_file).wait();
}

}  // namespace beehive::test
