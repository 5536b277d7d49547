#include "core/sinks/command.hpp"

#include "core/config.hpp"
#include "core/duration.hpp"
#include "core/process.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <sys/wait.h>
#include <unistd.h>

namespace vibe::core::command_sink {

const OptionSpec k_options[7] = {
    {"command", OptionType::string, k_required, "shell command (/bin/sh -c) that reads the records as NDJSON on stdin"},
    {"cwd", OptionType::path, ".", "directory the command runs in (relative to the config file)"},
    {"timeout", OptionType::duration, "30s", "kill the command after this long (a failed attempt)"},
    VIBE_SINK_OPTION_ROWS("100"),
};

std::optional<std::string> check(const OptionValues& options) {
  if (options.get("command").empty()) {
    return "command: must not be empty";
  }
  if (options.integer("batch") < 1 || options.integer("batch") > 100'000) {
    return "batch: want 1 to 100000 records";
  }
  return std::nullopt;
}

namespace {

// The last line of a command's stderr, for the attempt's error.
std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  const auto newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

}  // namespace

Result<void> deliver(const SinkSpec& spec, std::span<const SinkRecord> records, const std::atomic<bool>* cancel) {
  // The records go to the command's stdin from an unlinked temporary file:
  // no pipe to keep fed while the command runs, and nothing left behind.
  const char* tmpdir = std::getenv("TMPDIR");
  std::string path = fmt::format("{}/vibe-sink-XXXXXX", tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp");
  const int fd = ::mkstemp(path.data());
  if (fd < 0) {
    return fail(Errc::storage, fmt::format("cannot create a temporary file for the records: {}", std::strerror(errno)));
  }
  if (auto written = write_all(fd, records_ndjson(records)); !written) {
    ::close(fd);
    ::unlink(path.c_str());
    return fail(Errc::storage, fmt::format("cannot write the records for the command: {}", written.error().message));
  }
  ::close(fd);
  // The key is [a-z0-9-]: safe in the shell unquoted.
  const std::string command = fmt::format("VIBE_IDEMPOTENCY_KEY={}; export VIBE_IDEMPOTENCY_KEY; {}",
                                          idempotency_key(spec.pipeline_id, spec.index, records),
                                          spec.options.get("command"));
  auto child = ChildProcess::start_shell(command, spec.options.get("cwd"), path);
  ::unlink(path.c_str());  // the child has it open already (or never will)
  if (!child) {
    return tl::unexpected(child.error());
  }
  const Millis timeout = spec.options.duration("timeout");
  std::string out;
  switch (child->finish(out, std::chrono::steady_clock::now() + timeout, cancel, 1 << 20)) {
    case ChildProcess::Finish::exited:
      break;
    case ChildProcess::Finish::too_much_output:
      return fail(Errc::unavailable, "the command printed more than 1 MiB on stdout (killed)");
    case ChildProcess::Finish::timed_out:
      return fail(Errc::unavailable, fmt::format("the command timed out after {}", format_duration(timeout)));
    case ChildProcess::Finish::cancelled:
      return fail(Errc::cancelled, "cancelled (shutting down)");
  }
  const int status = child->status();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string err = last_line(child->stderr_tail());
    return fail(Errc::unavailable,
                fmt::format("the command failed ({}){}{}", child->describe_status(), err.empty() ? "" : ": ", err));
  }
  return {};
}

}  // namespace vibe::core::command_sink
