// vibe events [TOPIC], vibe stats [TOPIC]
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/store/store.hpp"
#include "core/topic.hpp"

#include <fmt/format.h>

namespace vibe::cli {

namespace {

struct EventsArgs {
  std::string topic;
  std::optional<std::string> since;
  std::optional<std::string> until;
  std::size_t limit = 50;
  bool json = false;
};

struct StatsArgs {
  std::string topic;
  bool json = false;
};

core::Result<int> events(const GlobalOptions& global, const EventsArgs& args) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  auto query = core::topic_query(args.topic, *config);
  if (!query) {
    return tl::unexpected(query.error());
  }
  if (auto ok = set_time_range(*query, args.since, "--since", args.until, "--until"); !ok) {
    return tl::unexpected(ok.error());
  }
  query->limit = args.limit;
  auto store = core::open_store_synced(*config);  // stream:<id> is answered from the store's catalog
  if (!store) {
    return tl::unexpected(store.error());
  }
  auto rows = (*store)->events(*query);
  if (!rows) {
    return tl::unexpected(rows.error());
  }
  for (const auto& event : *rows) {
    if (args.json) {
      print_json_line(core::to_json(event));
    } else {
      fmt::print("{}\n", event_line(event));
    }
  }
  if (rows->empty() && !args.json && stdout_is_tty()) {
    fmt::print(stderr, "no events{} (run 'vibe poll' to fetch)\n", args.topic.empty() ? "" : " in " + args.topic);
  }
  return 0;
}

core::Result<int> stats(const GlobalOptions& global, const StatsArgs& args) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  auto query = core::topic_query(args.topic, *config);
  if (!query) {
    return tl::unexpected(query.error());
  }
  auto store = core::open_store_synced(*config);  // stream:<id> is answered from the store's catalog
  if (!store) {
    return tl::unexpected(store.error());
  }
  const core::UnixMicros now = core::now_micros();
  auto s = (*store)->stats(*query, now);
  if (!s) {
    return tl::unexpected(s.error());
  }
  const double rate = static_cast<double>(s->last_minute) / 60.0;
  if (args.json) {
    nlohmann::json out{{"topic", args.topic.empty() ? "all" : args.topic},
                       {"total", s->total},
                       {"last_60s", s->last_minute},
                       {"rate_per_s", rate},
                       {"by_source", nlohmann::json::object()}};
    out["last_event_at"] = s->last_occurred_at ? nlohmann::json(core::format_rfc3339(*s->last_occurred_at)) : nullptr;
    out["last_ingested_at"] =
        s->last_ingested_at ? nlohmann::json(core::format_rfc3339(*s->last_ingested_at)) : nullptr;
    for (const auto& [source, count] : s->by_source) {
      out["by_source"][source] = count;
    }
    print_json_line(out);
    return 0;
  }
  fmt::print("topic          {}\n", args.topic.empty() ? "all" : args.topic);
  fmt::print("events         {}\n", s->total);
  fmt::print("last 60 s      {} ({:.2f}/s)\n", s->last_minute, rate);
  fmt::print("last event     {}\n", s->last_occurred_at ? core::format_rfc3339_seconds(*s->last_occurred_at) : "-");
  fmt::print("last ingested  {}\n", s->last_ingested_at ? core::format_rfc3339_seconds(*s->last_ingested_at) : "-");
  if (!s->by_source.empty()) {
    fmt::print("by source\n");
    for (const auto& [source, count] : s->by_source) {
      fmt::print("  {:<14} {}\n", source, count);
    }
  }
  return 0;
}

}  // namespace

void add_events_commands(CLI::App& app, const GlobalOptions& global, Action& run) {
  auto events_args = std::make_shared<EventsArgs>();
  auto* events_cmd = app.add_subcommand("events", "list stored events, newest first");
  events_cmd->add_option("TOPIC", events_args->topic, "stream:<id> or source:<id> (default: all events)");
  events_cmd->add_option("--since", events_args->since, "only events at or after: a duration ago (10m) or a time")
      ->type_name("DUR|TIME");
  events_cmd->add_option("--until", events_args->until, "only events before: a duration ago or a time")
      ->type_name("DUR|TIME");
  events_cmd->add_option("-n,--limit", events_args->limit, "at most N events (default 50)")
      ->type_name("N")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  events_cmd->add_flag("--json", events_args->json, "NDJSON, one event per line");
  events_cmd->callback([&run, &global, events_args] { run = [&global, events_args] { return events(global, *events_args); }; });

  auto stats_args = std::make_shared<StatsArgs>();
  auto* stats_cmd = app.add_subcommand("stats", "event counts, rate and last event time for a topic");
  stats_cmd->add_option("TOPIC", stats_args->topic, "stream:<id> or source:<id> (default: all events)");
  stats_cmd->add_flag("--json", stats_args->json, "one JSON document");
  stats_cmd->callback([&run, &global, stats_args] { run = [&global, stats_args] { return stats(global, *stats_args); }; });
}

}  // namespace vibe::cli
