#include "core/log.hpp"

#include "core/time.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <chrono>

namespace vibe::core {

namespace {

// The names --log-level takes ("warn", not spdlog's "warning").
std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// One JSON object per line; nlohmann escapes whatever the message holds.
class JsonFormatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
    const std::string_view text{msg.payload.data(), msg.payload.size()};
    nlohmann::json line{
        {"time", format_rfc3339(micros)},
        {"level", level_name(msg.level)},
        {"logger", std::string_view{msg.logger_name.data(), msg.logger_name.size()}},
    };
    if (const auto event = log_event_name(text); !event.empty()) {
      line["event"] = event;
    }
    line["msg"] = text;
    const std::string out = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(out.data(), out.data() + out.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

Logging::Logging(spdlog::level::level_enum level, LogFormat format)
    : m_sink(std::make_shared<spdlog::sinks::stderr_color_sink_mt>()), m_level(level) {
  if (format == LogFormat::json) {
    m_sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    m_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v",
                                                                     spdlog::pattern_time_type::utc));
  }
}

std::shared_ptr<spdlog::logger> Logging::get(std::string name) const {
  auto logger = std::make_shared<spdlog::logger>(std::move(name), m_sink);
  logger->set_level(m_level);
  return logger;
}

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view text) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> k_levels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"off", spdlog::level::off},
  };
  for (const auto& [name, level] : k_levels) {
    if (text == name) {
      return level;
    }
  }
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") {
    return LogFormat::text;
  }
  if (text == "json") {
    return LogFormat::json;
  }
  return std::nullopt;
}

std::string_view log_event_name(std::string_view message) {
  const std::string_view word = message.substr(0, message.find(' '));
  bool dot = false;
  bool letter_before = false;
  for (const char c : word) {
    if (c == '.') {
      if (!letter_before) {
        return {};
      }
      dot = true;
      letter_before = false;
    } else if ((c >= 'a' && c <= 'z') || c == '_') {
      letter_before = true;
    } else {
      return {};
    }
  }
  return dot && letter_before ? word : std::string_view{};
}

}  // namespace vibe::core
