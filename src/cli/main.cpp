// vibe: turns feeds and other sources into time-ordered event streams.
// main() parses the command line, runs the chosen command, and is the only
// place that turns an Error into a message and an exit code:
//   0 success, 1 runtime failure, 2 usage or config error.
#include "cli/commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ios>
#include <cstdio>
#include <cstdlib>

namespace {

int exit_code_for(vibe::core::Errc code) {
  switch (code) {
    case vibe::core::Errc::config:
    case vibe::core::Errc::usage:
    case vibe::core::Errc::conflict:
      return 2;
    default:
      return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vibe;
  // Only std::cin is an iostream here (ingest, jobs enqueue --batch); output
  // goes through stdio. Unsynced, reading a line costs ~20x less.
  std::ios::sync_with_stdio(false);
  CLI::App app{"vibe turns feeds and other sources into time-ordered event streams.", "vibe"};
  app.set_version_flag("-V,--version", fmt::format("vibe {}", VIBE_VERSION));
  app.require_subcommand(0, 1);
  app.fallthrough();
  app.footer("Run 'vibe COMMAND --help' for a command's options. Exit codes: 0 ok, 1 runtime failure, 2 usage or "
             "config error.\nSee vibe(1) and vibe.yaml(5).");

  cli::GlobalOptions global;
  if (const char* level = std::getenv("VIBE_LOG"); level != nullptr && *level != '\0') {
    global.log_level = level;
  }
  app.add_option("-c,--config", global.config, "config file (default: $VIBE_CONFIG, then ./vibe.yaml)")
      ->type_name("FILE");
  app.add_option("--log-level", global.log_level,
                 "trace, debug, info, warn, error or off (default: $VIBE_LOG, else warn; info for serve)")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", global.log_format, "text (default) or json: one JSON object per log line")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}));

  cli::Action run;
  cli::add_config_commands(app, global, run);
  cli::add_poll_command(app, global, run);
  cli::add_events_commands(app, global, run);
  cli::add_feed_commands(app, global, run);
  cli::add_sources_command(app, global, run);
  cli::add_source_commands(app, global, run);
  cli::add_replay_command(app, global, run);
  cli::add_pipeline_commands(app, global, run);
  cli::add_sinks_command(app, global, run);
  cli::add_jobs_commands(app, global, run);
  cli::add_cron_commands(app, global, run);
  cli::add_serve_commands(app, global, run);
  cli::add_stream_commands(app, global, run);
  cli::add_tail_command(app, global, run);
  cli::add_ingest_command(app, global, run);
  auto* help = app.add_subcommand("help", "show this help");
  help->callback([&] {
    run = [&]() -> core::Result<int> {
      // app.help() would describe the selected subcommand ("help" itself).
      std::fputs(app.get_formatter()->make_help(&app, "vibe", CLI::AppFormatMode::Normal).c_str(), stdout);
      return 0;
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!run) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  auto result = run();
  std::fflush(stdout);
  if (!result) {
    const auto& error = result.error();
    if (error.code == core::Errc::config) {
      // One "FILE:LINE:COL: ..." per line, as compilers print them, so
      // editors can jump to each; then a count when there are several.
      std::fprintf(stderr, "%s\n", error.message.c_str());
      const auto lines = std::count(error.message.begin(), error.message.end(), '\n') + 1;
      if (lines > 1) {
        std::fprintf(stderr, "vibe: %ld errors in config\n", static_cast<long>(lines));
      }
    } else {
      std::fprintf(stderr, "vibe: %s\n", error.message.c_str());
    }
    return exit_code_for(error.code);
  }
  return *result;
}
