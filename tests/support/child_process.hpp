// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a program a test starts (a nats-server, openssl), and ends. The child is
// SIGKILLed when its owner is destroyed, and also when the thread that started it dies, even by
// a crash of the test binary (prctl(PR_SET_PDEATHSIG) in the child, before exec): no process
// outlives the test that started it.
//
// Why PR_SET_PDEATHSIG and not only the destructor: a test binary that aborts (a failed
// watchdog, a sanitizer report, a segfault) runs no destructor. The signal is tied to the thread
// that forked, so start children from a thread that lives as long as they do (the test's main
// thread).

#include <sys/types.h>

#include <string>
#include <vector>

namespace beehive::test {

/// The path of `name` found in PATH (or `name` itself when it holds a '/'); empty if none.
[[nodiscard]] std::string find_program(const std::string& name);

/// A started program. Movable, not copyable; the destructor SIGKILLs it and reaps it.
class child_process {
 public:
  child_process() = default;
  /// Starts `argv[0]` (a path) with `argv`; stdin is /dev/null, stdout and stderr are appended
  /// to `output_file` (/dev/null when empty); descriptors above 2 are closed. Throws
  /// std::runtime_error if the process cannot be created; an exec failure shows as exit
  /// status 127.
  static child_process start(const std::vector<std::string>& argv,
                             const std::string& output_file = {});
  ~child_process();
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The process id; -1 when none is held (default-constructed, moved from, or reaped).
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// True while the process has not exited (a stopped process is running). Reaps it when it
  /// has exited.
  [[nodiscard]] bool running();
  /// The exit status once exited (128 + signal number when killed by a signal), else -1.
  [[nodiscard]] int exit_status();
  /// Waits for the process to exit by itself and reaps it; its exit status.
  int wait();
  /// SIGKILL, then reap. No effect when not running.
  void kill();
  /// SIGTERM, then reap; SIGKILL after `grace_ms` if it is still there.
  void terminate(int grace_ms = 5000);
  /// SIGSTOP, and returns once the process is stopped (hung: it neither reads nor writes).
  void stop();
  /// SIGCONT, and returns once the process runs again.
  void resume();

 private:
  void reap(int status);
  pid_t pid_ = -1;
  int status_ = -1;
};

/// Runs `argv` to completion (output appended to `output_file`); its exit status.
int run_program(const std::vector<std::string>& argv, const std::string& output_file = {});

}  // namespace beehive::test
