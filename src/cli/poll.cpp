// vibe poll [SOURCE...] [--dry-run] [--json]
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/poller.hpp"
#include "core/store/batch_writer.hpp"
#include "core/store/store.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace vibe::cli {

namespace {

struct PollArgs {
  std::vector<std::string> sources;
  bool dry_run = false;
  bool json = false;
};

nlohmann::json report_json(const core::SourceReport& r) {
  nlohmann::json out{{"source", r.source_id},         {"outcome", core::outcome_name(r.outcome)},
                     {"new", r.new_events},           {"duplicate", r.duplicates},
                     {"skipped", r.skipped},          {"not_modified", r.outcome == core::PollOutcome::not_modified},
                     {"elapsed_ms", r.elapsed.count() / 1000.0}};
  if (r.http_status != 0) {
    out["http_status"] = r.http_status;
  }
  if (!r.error.empty()) {
    out["error"] = r.error;
  }
  if (!r.notes.empty()) {
    out["notes"] = r.notes;
  }
  return out;
}

void print_report(const core::PollReport& report, bool json) {
  std::size_t width = 6;
  for (const auto& r : report.sources) {
    width = std::max(width, r.source_id.size());
  }
  std::size_t total_new = 0, total_dup = 0, total_skipped = 0, failed = 0;
  for (const auto& r : report.sources) {
    total_new += r.new_events;
    total_dup += r.duplicates;
    total_skipped += r.skipped;
    failed += r.outcome == core::PollOutcome::failed || r.outcome == core::PollOutcome::crashed ? 1 : 0;
    if (json) {
      print_json_line(report_json(r));
      continue;
    }
    std::string line = fmt::format("{:<{}}  {:<12}  new={} duplicate={} skipped={}", r.source_id, width,
                                   core::outcome_name(r.outcome), r.new_events, r.duplicates, r.skipped);
    if (!r.error.empty()) {
      line += "  " + r.error;
    }
    fmt::print("{}\n", line);
    for (const auto& note : r.notes) {
      fmt::print("{:<{}}    {}\n", "", width, note);
    }
  }
  if (!json && report.sources.size() > 1) {
    fmt::print("{} sources: new={} duplicate={} skipped={} failed={}\n", report.sources.size(), total_new, total_dup,
               total_skipped, failed);
  }
}

// "polled 37/200" on stderr while a terminal watches; nothing otherwise.
core::PollProgress progress_printer() {
  if (isatty(STDERR_FILENO) != 1) {
    return {};
  }
  return [](std::size_t done, std::size_t total) {
    if (total < 2) {
      return;
    }
    fmt::print(stderr, "\rpolled {}/{}", done, total);
    if (done == total) {
      fmt::print(stderr, "\r\033[K");
    }
    std::fflush(stderr);
  };
}

core::Result<int> poll(const GlobalOptions& global, const PollArgs& args) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  const auto logging = make_logging(global);
  if (args.dry_run) {
    auto report = core::poll_sources(*config, args.sources, nullptr, nullptr, core::DryRun::yes, logging.get("poll"));
    if (!report) {
      return tl::unexpected(report.error());
    }
    for (const auto& event : report->events) {
      if (args.json) {
        print_json_line(core::to_json(event));
      } else {
        fmt::print("{}\n", event_line(event));
      }
    }
    if (!args.json) {
      print_report(*report, false);
    }
    return report->any_failed() ? 1 : 0;
  }
  auto store = core::open_store_synced(*config);
  if (!store) {
    return tl::unexpected(store.error());
  }
  core::BatchWriter writer{**store, config->buffer, logging.get("store.writer")};
  auto report = core::poll_sources(*config, args.sources, store->get(), &writer, core::DryRun::no, logging.get("poll"),
                                   progress_printer());
  writer.stop();
  if (!report) {
    return tl::unexpected(report.error());
  }
  print_report(*report, args.json);
  return report->any_failed() ? 1 : 0;
}

}  // namespace

void add_poll_command(CLI::App& app, const GlobalOptions& global, Action& run) {
  auto args = std::make_shared<PollArgs>();
  auto* cmd = app.add_subcommand("poll", "poll sources once, concurrently, and store new items");
  cmd->add_option("SOURCE", args->sources, "source ids (default: all)");
  cmd->add_flag("-n,--dry-run", args->dry_run, "fetch and parse, print the events, store nothing");
  cmd->add_flag("--json", args->json, "NDJSON: one object per source (per event with --dry-run)");
  cmd->callback([&run, &global, args] { run = [&global, args] { return poll(global, *args); }; });
}

}  // namespace vibe::cli
