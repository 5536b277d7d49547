#include "cli/commands.hpp"

#include "core/topic.hpp"
#include "jobs/worker.hpp"

#include <fmt/format.h>

namespace vibe::cli {

core::Result<core::Config> load_config(const GlobalOptions& global) {
  const auto env = core::process_env();
  // Core checks cron entries against the job workers, which only the job
  // layer knows.
  std::vector<std::string> workers;
  for (const auto& kind : jobs::worker_kinds()) {
    workers.emplace_back(kind.name);
  }
  return core::load_config(core::resolve_config_path(global.config, env), env, &workers);
}

core::Logging make_logging(const GlobalOptions& global, spdlog::level::level_enum fallback) {
  const auto level = global.log_level ? core::parse_log_level(*global.log_level) : std::nullopt;
  return core::Logging{level.value_or(fallback),
                       core::parse_log_format(global.log_format).value_or(core::LogFormat::text)};
}

core::Result<void> set_time_range(core::EventQuery& query, const std::optional<std::string>& since,
                                  const char* since_flag, const std::optional<std::string>& until,
                                  const char* until_flag) {
  const core::UnixMicros now = core::now_micros();
  if (since) {
    auto t = core::parse_time_or_ago(*since, now);
    if (!t) {
      return core::fail(core::Errc::usage, fmt::format("{}: {}", since_flag, t.error().message));
    }
    query.since = *t;
  }
  if (until) {
    auto t = core::parse_time_or_ago(*until, now);
    if (!t) {
      return core::fail(core::Errc::usage, fmt::format("{}: {}", until_flag, t.error().message));
    }
    query.until = *t;
  }
  return {};
}

}  // namespace vibe::cli
