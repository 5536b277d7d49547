// The exec worker runs a command per job. The child is started with
// posix_spawn (safe in a threaded process) in its own process group, stdin
// and stdout from/to /dev/null and stderr into a pipe whose last 4 KiB are
// kept for the job's error. The worker polls the pipe and the child, and
// on timeout or stop kills the whole group: SIGTERM, then SIGKILL after a
// grace period.
#include "jobs/workers/builtin.hpp"

#include "core/process.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>

extern char** environ;

namespace vibe::jobs::exec {

namespace {

constexpr std::size_t k_stderr_tail = 4096;
constexpr auto k_kill_grace = std::chrono::seconds{2};

struct Command {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE, the whole environment
  std::string cwd;
  core::Millis timeout{0};
};

core::Result<Command> read_command(const std::string& text) {
  const auto args = nlohmann::json::parse(text, nullptr, false);
  if (!args.is_object()) {
    return core::fail(core::Errc::usage, "args is not a JSON object");
  }
  Command command;
  if (auto it = args.find("argv"); it != args.end()) {
    if (!it->is_array() || it->empty() ||
        !std::all_of(it->begin(), it->end(), [](const auto& a) { return a.is_string(); })) {
      return core::fail(core::Errc::usage, "argv must be a non-empty list of strings");
    }
    for (const auto& a : *it) {
      command.argv.push_back(a.get<std::string>());
    }
  } else if (auto shell = args.find("shell"); shell != args.end() && shell->is_string()) {
    command.argv = {"/bin/sh", "-c", shell->get<std::string>()};
  } else {
    return core::fail(core::Errc::usage, "args needs \"argv\" (a list) or \"shell\" (a string)");
  }
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry{*e};
    const auto eq = entry.find('=');
    env[entry.substr(0, eq)] = eq == std::string::npos ? "" : entry.substr(eq + 1);
  }
  if (auto it = args.find("env"); it != args.end()) {
    if (!it->is_object()) {
      return core::fail(core::Errc::usage, "env must be an object of strings");
    }
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) {
        return core::fail(core::Errc::usage, fmt::format("env.{} must be a string", key));
      }
      env[key] = value.get<std::string>();
    }
  }
  for (const auto& [key, value] : env) {
    command.env.push_back(key + "=" + value);
  }
  if (auto it = args.find("cwd"); it != args.end() && it->is_string()) {
    command.cwd = it->get<std::string>();
  }
  if (auto it = args.find("timeout"); it != args.end() && it->is_string()) {
    auto d = core::parse_duration(it->get<std::string>());
    if (!d) {
      return core::fail(core::Errc::usage, "timeout: " + d.error().message);
    }
    command.timeout = *d;
  }
  return command;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) {
    return fmt::format("exit status {}", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return fmt::format("status {}", status);
}

class ExecWorker final : public Worker {
public:
  WorkResult perform(const JobContext& context) override {
    auto command = read_command(context.job.args);
    if (!command) {
      return Discard{command.error().message};  // retrying cannot fix bad args
    }
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return Failed{fmt::format("pipe: {}", std::strerror(errno))};
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    if (!command->cwd.empty()) {
      posix_spawn_file_actions_addchdir_np(&actions, command->cwd.c_str());
    }
    posix_spawnattr_t attr;
    core::init_child_spawn_attributes(attr);
    auto argv = c_strings(command->argv);
    auto envp = c_strings(command->env);
    pid_t pid = 0;
    const int spawned = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(pipe_fds[1]);
    if (spawned != 0) {
      close(pipe_fds[0]);
      return Failed{fmt::format("cannot run {}: {}", command->argv[0], std::strerror(spawned))};
    }

    using clock = std::chrono::steady_clock;
    const auto started = clock::now();
    const auto deadline = command->timeout.count() > 0 ? started + command->timeout : clock::time_point::max();
    std::string tail;
    bool pipe_open = true;
    int status = 0;
    bool exited = false;
    std::optional<clock::time_point> killed_at;
    std::string stop_reason;
    while (!exited) {
      if (pipe_open) {
        pollfd fd{pipe_fds[0], POLLIN, 0};
        if (::poll(&fd, 1, 20) > 0) {
          char buffer[4096];
          const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
          if (n > 0) {
            tail.append(buffer, static_cast<std::size_t>(n));
            if (tail.size() > 2 * k_stderr_tail) {
              tail.erase(0, tail.size() - k_stderr_tail);
            }
          } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            pipe_open = false;
          }
        }
      } else {
        usleep(10'000);  // poll interval while waiting for the child after its stderr closed
      }
      const pid_t done = waitpid(pid, &status, WNOHANG);
      if (done == pid) {
        exited = true;
        break;
      }
      const auto now = clock::now();
      if (!killed_at && (now >= deadline || context.stop.stop_requested())) {
        stop_reason = now >= deadline ? fmt::format("timed out after {}", core::format_duration(command->timeout))
                                      : "stopped";
        kill(-pid, SIGTERM);
        killed_at = now;
      } else if (killed_at && now - *killed_at > k_kill_grace) {
        kill(-pid, SIGKILL);
      }
    }
    // Drain what is left of stderr without blocking on grandchildren that
    // still hold the pipe.
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    char buffer[4096];
    ssize_t n = 0;
    while (pipe_open && (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) {
      tail.append(buffer, static_cast<std::size_t>(n));
    }
    close(pipe_fds[0]);
    if (tail.size() > k_stderr_tail) {
      tail.erase(0, tail.size() - k_stderr_tail);
    }
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) {
      tail.pop_back();
    }
    if (!stop_reason.empty()) {
      return Failed{stop_reason + (tail.empty() ? "" : ": " + tail)};
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      return Done{};
    }
    return Failed{fmt::format("{} {}{}", command->argv[0] == "/bin/sh" ? "command" : command->argv[0],
                              describe_status(status), tail.empty() ? "" : ": " + tail)};
  }
};

}  // namespace

std::unique_ptr<Worker> make(const WorkerDeps&) {
  return std::make_unique<ExecWorker>();
}

}  // namespace vibe::jobs::exec
