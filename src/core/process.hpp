#pragma once

#include "core/error.hpp"

#include <spawn.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

namespace vibe::core {

// Writes all of `data` to `fd` (retrying short writes and EINTR). Errors:
// Errc::storage with strerror's text.
Result<void> write_all(int fd, std::string_view data);

// Initializes `attr` for a child of vibe: a process group of its own (so
// it can be killed whole), no blocked signals, every signal at its default.
// The caller destroys it (posix_spawnattr_destroy).
void init_child_spawn_attributes(posix_spawnattr_t& attr);

// A shell command run as a child in its own process group (posix_spawn:
// safe in a threaded process), stdin from a file (/dev/null by default), stdout and stderr into
// pipes. The destructor kills the group (SIGTERM, SIGKILL after a grace) and
// reaps the child.
class ChildProcess {
public:
  // Runs `command` with /bin/sh -c in `cwd` (the current directory when
  // empty), its stdin read from `stdin_path` (/dev/null when empty).
  static Result<ChildProcess> start_shell(const std::string& command, const std::string& cwd = {},
                                          const std::string& stdin_path = {});

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Waits up to `timeout` for output; appends stdout to `out` and keeps the
  // last 4 KiB of stderr. Returns false once stdout is closed (EOF); after
  // that each call still waits up to `timeout` (for stderr), so a loop that
  // waits for the exit does not spin.
  bool read_some(std::string& out, std::chrono::milliseconds timeout);

  // Whether the child has exited (reaps it); `status` as from waitpid.
  bool exited();
  int status() const { return m_status; }
  const std::string& stderr_tail() const { return m_err_tail; }
  std::string describe_status() const;  // "exit status 3", "killed by signal 9 (Killed)"

  // How finish() ended.
  enum class Finish { exited, timed_out, cancelled, too_much_output };

  // Reads stdout into `out` until the child closes it and exits. Past
  // `deadline`, when `cancel` (if set) turns true, or when `out` grows beyond
  // `max_output`, terminates the child and says which. After `exited`,
  // status() and stderr_tail() tell how it went.
  Finish finish(std::string& out, std::chrono::steady_clock::time_point deadline, const std::atomic<bool>* cancel,
                std::size_t max_output);

  // SIGTERM to the group, SIGKILL after `grace`, and waits for the child.
  void terminate(std::chrono::milliseconds grace = std::chrono::milliseconds{2000});

  pid_t pid() const { return m_pid; }

private:
  ChildProcess() = default;
  void drain_stderr();
  void close_fds();

  pid_t m_pid = -1;
  int m_out = -1;
  int m_err = -1;
  bool m_exited = false;
  int m_status = 0;
  std::string m_err_tail;
};

}  // namespace vibe::core
