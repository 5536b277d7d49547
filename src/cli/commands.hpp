#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

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
  std::string log_level = "warn";     // --log-level, or $VIBE_LOG
};

using Action = std::function<core::Result<int>()>;

void add_config_commands(CLI::App& app, const GlobalOptions& global, Action& run);  // validate, init
void add_poll_command(CLI::App& app, const GlobalOptions& global, Action& run);
void add_events_commands(CLI::App& app, const GlobalOptions& global, Action& run);  // events, stats
void add_feed_commands(CLI::App& app, const GlobalOptions& global, Action& run);    // feed parse
void add_sources_command(CLI::App& app, const GlobalOptions& global, Action& run);
void add_cron_commands(CLI::App& app, const GlobalOptions& global, Action& run);    // cron next
void add_jobs_commands(CLI::App& app, const GlobalOptions& global, Action& run);    // jobs ...

// Loads the config that -c / $VIBE_CONFIG / ./vibe.yaml names.
core::Result<core::Config> load_config(const GlobalOptions& global);

// The Logging that --log-level asks for.
core::Logging make_logging(const GlobalOptions& global);

}  // namespace vibe::cli
