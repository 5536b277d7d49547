#pragma once

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace vibe::core {

enum class LogFormat { text, json };

// Where logs go and how much of them. Created once by src/cli/main.cpp and
// asked for named loggers ("source.rss.hn", "store.writer"); library code
// never uses spdlog's default logger. Logs go to stderr, never stdout, so
// `--json` output stays clean. Thread-safe.
//
// LogFormat::json writes one JSON object per line:
//   {"time":"2026-11-22T10:00:00.123Z","level":"info","logger":"serve",
//    "event":"stream.started","msg":"stream.started stream=news"}
// "event" is present when the message starts with a lifecycle event name
// (lowercase words joined by a dot, e.g. "stream.started"), so tools can
// match on it; the rest of the message is key=value pairs.
class Logging {
public:
  explicit Logging(spdlog::level::level_enum level, LogFormat format = LogFormat::text);

  std::shared_ptr<spdlog::logger> get(std::string name) const;

private:
  spdlog::sink_ptr m_sink;
  spdlog::level::level_enum m_level;
};

// "trace", "debug", "info", "warn", "error", "off".
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view text);

// "text" or "json".
std::optional<LogFormat> parse_log_format(std::string_view text);

// The lifecycle event name a log message starts with ("stream.started"),
// or "" when it starts with anything else.
std::string_view log_event_name(std::string_view message);

}  // namespace vibe::core
