// vibe cron next EXPR [--from TIME] [-n N] [--tz ZONE] [--json]: the next
// times a cron expression fires, so a schedule can be checked before use.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/cron.hpp"
#include "core/time.hpp"

#include <fmt/format.h>

namespace vibe::cli {

namespace {

struct NextArgs {
  std::string expression;
  std::optional<std::string> from;
  std::size_t count = 5;
  std::string zone = "UTC";
  bool json = false;
};

core::Result<int> next(const NextArgs& args) {
  auto schedule = core::CronSchedule::parse(args.expression, args.zone);
  if (!schedule) {
    return core::fail(core::Errc::usage, schedule.error().message);
  }
  core::UnixMicros t = core::now_micros();
  if (args.from) {
    const auto from = core::parse_rfc3339(*args.from);
    if (!from) {
      return core::fail(core::Errc::usage,
                        fmt::format("--from: '{}' is not an RFC 3339 time (e.g. 2026-03-08T00:00:00Z)", *args.from));
    }
    t = *from;
  }
  std::vector<std::string> times;
  while (times.size() < args.count) {
    const auto fire = schedule->next_after(t);
    if (!fire) {
      return core::fail(core::Errc::not_found,
                        fmt::format("'{}' does not fire after {}", args.expression, core::format_rfc3339(t)));
    }
    times.push_back(core::format_rfc3339(*fire));
    t = *fire;
  }
  if (args.json) {
    print_json_line(times);
    return 0;
  }
  for (const auto& time : times) {
    fmt::print("{}\n", time);
  }
  return 0;
}

}  // namespace

void add_cron_commands(CLI::App& app, const GlobalOptions&, Action& run) {
  auto* cron = app.add_subcommand("cron", "cron expression tools");
  cron->require_subcommand(1);
  auto args = std::make_shared<NextArgs>();
  auto* next_cmd = cron->add_subcommand("next", "print the next times a cron expression fires, in UTC");
  next_cmd->add_option("EXPR", args->expression, "five fields (minute hour day-of-month month day-of-week) or a "
                                                 "macro such as @daily; quote it")
      ->required();
  next_cmd->add_option("--from", args->from, "start after this RFC 3339 time (default: now)")->type_name("TIME");
  next_cmd->add_option("-n", args->count, "how many fire times (default 5)")
      ->type_name("N")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  next_cmd->add_option("--tz", args->zone, "IANA time zone the expression is read in (default UTC)")
      ->type_name("ZONE");
  next_cmd->add_flag("--json", args->json, "one JSON array of RFC 3339 strings");
  next_cmd->callback([&run, args] { run = [args] { return next(*args); }; });
}

}  // namespace vibe::cli
