#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/store/store.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

// The command groups. Each add_*() registers its subcommands on `app`; the
// chosen one stores its action in `run`, which main() calls after parsing.
// An action returns the exit code on success (0, or 1 for a partial failure
// such as a source that failed to poll) and an Error otherwise; only main()
// turns an Error into a message and an exit code.
namespace vibe::cli {

struct GlobalOptions {
  std::optional<std::string> config;  // -c FILE
  std::optional<std::string> log_level;  // --log-level, or $VIBE_LOG; default warn (serve: info)
  std::string log_format = "text";       // --log-format text|json
};

using Action = std::function<core::Result<int>()>;

void add_config_commands(CLI::App& app, const GlobalOptions& global, Action& run);  // validate, init
void add_poll_command(CLI::App& app, const GlobalOptions& global, Action& run);
void add_events_commands(CLI::App& app, const GlobalOptions& global, Action& run);  // events, stats
void add_feed_commands(CLI::App& app, const GlobalOptions& global, Action& run);    // feed parse
void add_sources_command(CLI::App& app, const GlobalOptions& global, Action& run);
void add_sinks_command(CLI::App& app, const GlobalOptions& global, Action& run);
void add_replay_command(CLI::App& app, const GlobalOptions& global, Action& run);
void add_source_commands(CLI::App& app, const GlobalOptions& global, Action& run);   // source test, list
void add_cron_commands(CLI::App& app, const GlobalOptions& global, Action& run);    // cron next
void add_jobs_commands(CLI::App& app, const GlobalOptions& global, Action& run);    // jobs ...
void add_serve_commands(CLI::App& app, const GlobalOptions& global, Action& run);   // serve, status, reload
void add_stream_commands(CLI::App& app, const GlobalOptions& global, Action& run);  // stream ...
void add_tail_command(CLI::App& app, const GlobalOptions& global, Action& run);
void add_ingest_command(CLI::App& app, const GlobalOptions& global, Action& run);
void add_pipeline_commands(CLI::App& app, const GlobalOptions& global, Action& run);  // run, pipeline ...

// Loads the config that -c / $VIBE_CONFIG / ./vibe.yaml names.
core::Result<core::Config> load_config(const GlobalOptions& global);

// The Logging that --log-level and --log-format ask for; `fallback` is the
// level when neither --log-level nor $VIBE_LOG gives one.
core::Logging make_logging(const GlobalOptions& global, spdlog::level::level_enum fallback = spdlog::level::warn);

// Sets query.since / query.until from two time options (a duration ago or
// an RFC 3339 time), when given. Errors (Errc::usage) name the flag.
core::Result<void> set_time_range(core::EventQuery& query, const std::optional<std::string>& since,
                                  const char* since_flag, const std::optional<std::string>& until,
                                  const char* until_flag);

}  // namespace vibe::cli
