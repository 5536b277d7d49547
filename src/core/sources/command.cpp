#include "core/sources/command.hpp"

#include "core/process.hpp"
#include "core/sources/http_common.hpp"

#include <fmt/format.h>
#include <sys/wait.h>

#include <map>
#include <mutex>

namespace vibe::core::command {

const OptionSpec k_options[12] = {
    {"command", OptionType::string, k_required, "the command, run with /bin/sh -c"},
    {"cwd", OptionType::path, ".", "the directory it runs in (relative to vibe.yaml's directory)"},
    {"mode", OptionType::string, "interval", "interval (run once per poll) or stream (keep running)"},
    {"format", OptionType::string, "lines", "stdout as lines (one event each), json (a document) or ndjson"},
    {"event_type", OptionType::string, "command_output", "the type of the events"},
    {"id", OptionType::string, "", "JSON Pointer to a record's id (json, ndjson); unset: a hash of the record"},
    {"time", OptionType::string, "", "JSON Pointer to a record's time (json, ndjson)"},
    VIBE_POLL_OPTION_ROWS("1m", "1s", "10m"),
    {"timeout", OptionType::duration, "30s", "mode: interval: kill the command after this long (a failed poll)"},
    {"max_output", OptionType::size, "16MiB", "most stdout read per poll"},
};

namespace {

// A stream-mode command that outlives one poll: by source id.
struct Running {
  ChildProcess child;
  std::string partial;     // a line not yet ended
  UnixMicros started_at;
  std::int64_t lines = 0;  // lines turned into events since it started
};

std::mutex g_mutex;
std::map<std::string, std::shared_ptr<Running>>& running() {
  static std::map<std::string, std::shared_ptr<Running>> map;
  return map;
}

std::string tail_text(const std::string& text) {
  std::string out = text.size() > 500 ? "…" + text.substr(text.size() - 500) : text;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

class CommandSource final : public Source {
public:
  explicit CommandSource(SourceSpec spec) : m_spec(std::move(spec)) {
    m_fields = {m_spec.options.get("event_type"), m_spec.options.get("id"), m_spec.options.get("time"), ""};
  }

  bool is_local() const override { return true; }

  Result<Poll> poll_local(PollContext&, UnixMicros now, const std::atomic<bool>* cancel) const override {
    return m_spec.options.get("mode") == "stream" ? poll_stream(now, cancel) : poll_once(now, cancel);
  }

private:
  // One line as an event; `key` is its dedup key when the format gives none.
  void add_line(Poll& poll, std::string_view line, std::string key, UnixMicros now) const {
    http_common::add_line(line, m_spec, m_fields, m_spec.options.get("format") == "ndjson", std::move(key), "", now,
                          poll);
  }

  Result<Poll> poll_once(UnixMicros now, const std::atomic<bool>* cancel) const {
    auto child = ChildProcess::start_shell(m_spec.options.get("command"), m_spec.options.get("cwd"));
    if (!child) {
      return fail(Errc::unavailable, fmt::format("source {}: {}", m_spec.id, child.error().message));
    }
    const auto deadline = std::chrono::steady_clock::now() + m_spec.options.duration("timeout");
    const std::size_t max_output = m_spec.options.size("max_output");
    std::string out;
    switch (child->finish(out, deadline, cancel, max_output)) {
      case ChildProcess::Finish::exited:
        break;
      case ChildProcess::Finish::too_much_output:
        return fail(Errc::parse, fmt::format("source {}: the command printed more than max_output ({} bytes)",
                                             m_spec.id, max_output));
      case ChildProcess::Finish::timed_out:
        return fail(Errc::unavailable, fmt::format("source {}: the command timed out after {}{}", m_spec.id,
                                                   format_duration(m_spec.options.duration("timeout")),
                                                   stderr_part(*child)));
      case ChildProcess::Finish::cancelled:
        return fail(Errc::cancelled, fmt::format("source {}: cancelled (shutting down)", m_spec.id));
    }
    const int status = child->status();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return fail(Errc::unavailable,
                  fmt::format("source {}: the command failed ({}){}", m_spec.id, child->describe_status(),
                              stderr_part(*child)));
    }
    Poll poll;
    const std::string& format = m_spec.options.get("format");
    if (format == "json") {
      auto document = nlohmann::json::parse(out, nullptr, false);
      if (document.is_discarded()) {
        return fail(Errc::parse, fmt::format("source {}: the command's output is not JSON", m_spec.id));
      }
      auto add = [&](const nlohmann::json& record) {
        poll.events.push_back(http_common::record_to_event(record, m_spec, m_fields, now, poll.warnings));
      };
      if (document.is_array()) {
        for (const auto& record : document) {
          add(record);
        }
      } else {
        add(document);
      }
      return poll;
    }
    std::size_t start = 0;
    while (start < out.size()) {
      auto end = out.find('\n', start);
      if (end == std::string::npos) {
        end = out.size();
      }
      add_line(poll, std::string_view{out}.substr(start, end - start), {}, now);
      start = end + 1;
    }
    return poll;
  }

  Result<Poll> poll_stream(UnixMicros now, const std::atomic<bool>* cancel) const {
    std::shared_ptr<Running> run;
    {
      std::lock_guard lock{g_mutex};
      auto& slot = running()[m_spec.id];
      if (!slot) {
        auto child = ChildProcess::start_shell(m_spec.options.get("command"), m_spec.options.get("cwd"));
        if (!child) {
          running().erase(m_spec.id);
          return fail(Errc::unavailable, fmt::format("source {}: {}", m_spec.id, child.error().message));
        }
        slot = std::make_shared<Running>(Running{std::move(*child), {}, now, 0});
      }
      run = slot;
    }
    // Collect what it prints: wait up to the poll interval for the first
    // line, then return once output pauses, so lines arrive as printed.
    Poll poll;
    const auto started = std::chrono::steady_clock::now();
    constexpr std::chrono::milliseconds k_longest{1000};
    std::string out;
    bool open = true;
    const std::size_t max_output = m_spec.options.size("max_output");
    for (;;) {
      if (cancel != nullptr && cancel->load()) {
        break;
      }
      const std::size_t before = out.size();
      const bool have_lines = out.find('\n') != std::string::npos || run->partial.find('\n') != std::string::npos;
      open = run->child.read_some(out, have_lines ? std::chrono::milliseconds{20} : std::chrono::milliseconds{50});
      if (!open || out.size() >= max_output) {
        break;
      }
      if (have_lines && out.size() == before) {
        break;  // the output paused: hand over what came
      }
      if (std::chrono::steady_clock::now() - started >= k_longest) {
        break;
      }
    }
    run->partial += out;
    std::size_t start = 0;
    for (;;) {
      const auto end = run->partial.find('\n', start);
      if (end == std::string::npos) {
        break;
      }
      ++run->lines;
      add_line(poll, std::string_view{run->partial}.substr(start, end - start),
               fmt::format("run:{}:{}", run->started_at, run->lines), now_micros());
      start = end + 1;
    }
    run->partial.erase(0, start);
    if (!open && run->child.exited()) {
      if (!run->partial.empty()) {
        ++run->lines;
        add_line(poll, run->partial, fmt::format("run:{}:{}", run->started_at, run->lines), now_micros());
        run->partial.clear();
      }
      std::lock_guard lock{g_mutex};
      running().erase(m_spec.id);
      const std::string why = fmt::format("source {}: the command exited ({}){}; it is started again at the next poll",
                                          m_spec.id, run->child.describe_status(), stderr_part(run->child));
      if (poll.events.empty()) {
        return fail(Errc::unavailable, why);
      }
      poll.warnings.push_back(why);
    }
    return poll;
  }

  static std::string stderr_part(const ChildProcess& child) {
    const std::string tail = tail_text(child.stderr_tail());
    return tail.empty() ? std::string{} : ": " + tail;
  }

  SourceSpec m_spec;
  http_common::RecordFields m_fields;
};

}  // namespace

std::optional<std::string> check(const OptionValues& options) {
  const std::string& mode = options.get("mode");
  if (mode != "interval" && mode != "stream") {
    return fmt::format("mode: '{}' is not interval or stream", mode);
  }
  const std::string& format = options.get("format");
  if (format != "lines" && format != "json" && format != "ndjson") {
    return fmt::format("format: '{}' is not one of lines, json, ndjson", format);
  }
  if (mode == "stream" && format == "json") {
    return "format: json needs mode: interval (a stream is read line by line: use ndjson)";
  }
  for (const char* pointer : {"id", "time"}) {
    if (auto problem = http_common::check_pointer(options, pointer)) {
      return problem;
    }
  }
  return std::nullopt;
}

void release(const std::string& id) {
  std::shared_ptr<Running> run;
  {
    std::lock_guard lock{g_mutex};
    auto it = running().find(id);
    if (it == running().end()) {
      return;
    }
    run = std::move(it->second);
    running().erase(it);
  }
  // Stopped outside the lock; a poll still reading holds its own reference.
  run->child.terminate();
}

std::unique_ptr<Source> make(const SourceSpec& spec) {
  return std::make_unique<CommandSource>(spec);
}

}  // namespace vibe::core::command
