#include "core/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace vibe::core {

Logging::Logging(spdlog::level::level_enum level)
    : m_sink(std::make_shared<spdlog::sinks::stderr_color_sink_mt>()), m_level(level) {
  m_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v",
                                                                   spdlog::pattern_time_type::utc));
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

}  // namespace vibe::core
