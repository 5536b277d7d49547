#include "core/process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

extern char** environ;

namespace vibe::core {

namespace {
constexpr std::size_t k_stderr_tail = 4096;
}  // namespace

void init_child_spawn_attributes(posix_spawnattr_t& attr) {
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigdefault(&attr, &defaults);
}

Result<void> write_all(int fd, std::string_view data) {
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return fail(Errc::storage, std::strerror(n < 0 ? errno : EIO));
    }
    written += static_cast<std::size_t>(n);
  }
  return {};
}

Result<ChildProcess> ChildProcess::start_shell(const std::string& command, const std::string& cwd,
                                               const std::string& stdin_path) {
  int out[2];
  int err[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    return fail(Errc::unavailable, fmt::format("pipe: {}", std::strerror(errno)));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return fail(Errc::unavailable, fmt::format("pipe: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  if (!cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  }
  posix_spawnattr_t attr;
  init_child_spawn_attributes(attr);
  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::string text = command;
  char* argv[] = {sh.data(), dash_c.data(), text.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(err[1]);
  if (spawned != 0) {
    close(out[0]);
    close(err[0]);
    return fail(Errc::unavailable, fmt::format("cannot run /bin/sh{}: {}", cwd.empty() ? "" : " in " + cwd,
                                               std::strerror(spawned)));
  }
  ChildProcess child;
  child.m_pid = pid;
  child.m_out = out[0];
  child.m_err = err[0];
  fcntl(child.m_err, F_SETFL, O_NONBLOCK);
  return child;
}

ChildProcess::Finish ChildProcess::finish(std::string& out, std::chrono::steady_clock::time_point deadline,
                                          const std::atomic<bool>* cancel, std::size_t max_output) {
  while (read_some(out, std::chrono::milliseconds{100})) {
    if (out.size() > max_output) {
      terminate();
      return Finish::too_much_output;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      terminate();
      return Finish::timed_out;
    }
    if (cancel != nullptr && cancel->load()) {
      terminate();
      return Finish::cancelled;
    }
  }
  // stdout closed: wait for the exit, within the deadline.
  while (!exited()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      terminate();
      return Finish::timed_out;
    }
    std::string ignored;
    read_some(ignored, std::chrono::milliseconds{10});
  }
  return Finish::exited;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : m_pid(std::exchange(other.m_pid, -1)),
      m_out(std::exchange(other.m_out, -1)),
      m_err(std::exchange(other.m_err, -1)),
      m_exited(other.m_exited),
      m_status(other.m_status),
      m_err_tail(std::move(other.m_err_tail)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    terminate();
    close_fds();
    m_pid = std::exchange(other.m_pid, -1);
    m_out = std::exchange(other.m_out, -1);
    m_err = std::exchange(other.m_err, -1);
    m_exited = other.m_exited;
    m_status = other.m_status;
    m_err_tail = std::move(other.m_err_tail);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  terminate();
  close_fds();
}

void ChildProcess::close_fds() {
  if (m_out >= 0) {
    close(m_out);
    m_out = -1;
  }
  if (m_err >= 0) {
    close(m_err);
    m_err = -1;
  }
}

void ChildProcess::drain_stderr() {
  if (m_err < 0) {
    return;
  }
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(m_err, buffer, sizeof buffer);
    if (n > 0) {
      m_err_tail.append(buffer, static_cast<std::size_t>(n));
      if (m_err_tail.size() > 2 * k_stderr_tail) {
        m_err_tail.erase(0, m_err_tail.size() - k_stderr_tail);
      }
      continue;
    }
    if (n == 0) {
      close(m_err);
      m_err = -1;
    }
    return;  // EAGAIN: nothing more now
  }
}

bool ChildProcess::read_some(std::string& out, std::chrono::milliseconds timeout) {
  if (m_out < 0) {
    // stdout is closed: wait on stderr (or just wait), so callers that loop
    // until the child exits do not spin.
    if (m_err >= 0) {
      pollfd fd{m_err, POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(timeout.count())) > 0) {
        drain_stderr();
      }
    } else {
      std::this_thread::sleep_for(timeout);
    }
    return false;
  }
  pollfd fds[2] = {{m_out, POLLIN, 0}, {m_err, POLLIN, 0}};
  const int ready = ::poll(fds, m_err >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (ready <= 0) {
    return true;
  }
  if (m_err >= 0 && (fds[1].revents & (POLLIN | POLLHUP)) != 0) {
    drain_stderr();
  }
  if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    char buffer[65536];
    const ssize_t n = read(m_out, buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      close(m_out);
      m_out = -1;
      drain_stderr();
      return false;
    }
  }
  return true;
}

bool ChildProcess::exited() {
  if (m_exited || m_pid < 0) {
    return true;
  }
  int status = 0;
  if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
    m_exited = true;
    m_status = status;
    drain_stderr();
  }
  return m_exited;
}

std::string ChildProcess::describe_status() const {
  if (WIFEXITED(m_status)) {
    return fmt::format("exit status {}", WEXITSTATUS(m_status));
  }
  if (WIFSIGNALED(m_status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(m_status), strsignal(WTERMSIG(m_status)));
  }
  return fmt::format("status {}", m_status);
}

void ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (m_pid < 0 || exited()) {
    return;
  }
  kill(-m_pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!exited()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(-m_pid, SIGKILL);
      int status = 0;
      waitpid(m_pid, &status, 0);
      m_exited = true;
      m_status = status;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

}  // namespace vibe::core
