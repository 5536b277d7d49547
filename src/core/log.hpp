#pragma once

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace vibe::core {

// Where logs go and how much of them. Created once by src/cli/main.cpp and
// asked for named loggers ("source.rss.hn", "store.writer"); library code
// never uses spdlog's default logger. Logs go to stderr, never stdout, so
// `--json` output stays clean. Thread-safe.
class Logging {
public:
  explicit Logging(spdlog::level::level_enum level);

  std::shared_ptr<spdlog::logger> get(std::string name) const;

private:
  spdlog::sink_ptr m_sink;
  spdlog::level::level_enum m_level;
};

// "trace", "debug", "info", "warn", "error", "off".
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view text);

}  // namespace vibe::core
