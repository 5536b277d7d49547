// vibe run pipeline:ID [--dry-run] [--json]: one run now, in the foreground,
//   its deliveries attempted before it exits; exit 1 when the fetch or any
//   delivery attempt failed (the cron/CI entry point).
// vibe pipeline list [--json]; vibe pipeline show ID [--recent N] [--json];
// vibe pipeline replay ID [--from TIME] [--to TIME] [--deliver] [--json].
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/pipeline/run.hpp"
#include "core/serve/control_client.hpp"
#include "core/sink.hpp"
#include "core/store/batch_writer.hpp"
#include "core/store/store.hpp"
#include "jobs/runner.hpp"

#include <fmt/format.h>

namespace vibe::cli {

namespace {

struct RunArgs {
  std::string target;
  bool dry_run = false;
  bool json = false;
};

struct ShowArgs {
  std::string id;
  std::size_t recent = 0;
  bool json = false;
};

struct ReplayArgs {
  std::string id;
  std::optional<std::string> from;
  std::optional<std::string> to;
  bool deliver = false;
  bool json = false;
};

core::Result<const core::PipelineConfig*> find_pipeline(const core::Config& config, const std::string& id) {
  if (const auto* pipeline = config.find_pipeline(id)) {
    return pipeline;
  }
  std::vector<std::string> ids;
  for (const auto& p : config.pipelines) {
    ids.push_back(p.id);
  }
  const std::string guess = core::nearest(id, ids);
  return core::fail(core::Errc::usage,
                    fmt::format("no pipeline named '{}' in {}{}", id, config.path.string(),
                                !guess.empty()  ? fmt::format(" (did you mean '{}'?)", guess)
                                : ids.empty()   ? std::string{" (it has no pipelines:)"}
                                                : fmt::format(" (known: {})", fmt::join(ids, ", "))));
}

// The config, one of its pipelines, and the store (synced).
struct Opened {
  core::Config config;
  std::size_t index = 0;
  std::unique_ptr<core::Store> store;

  const core::PipelineConfig& pipeline() const { return config.pipelines[index]; }
};

core::Result<Opened> open_pipeline(const GlobalOptions& global, const std::string& id) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  auto found = find_pipeline(*config, id);
  if (!found) {
    return tl::unexpected(found.error());
  }
  const auto index = static_cast<std::size_t>(*found - config->pipelines.data());
  auto store = core::open_store_synced(*config);
  if (!store) {
    return tl::unexpected(store.error());
  }
  return Opened{std::move(*config), index, std::move(*store)};
}

// Where a pipeline's records come from, in a few words.
std::string from_of(const core::PipelineConfig& p) {
  if (!p.from_pipeline.empty()) {
    return "pipeline:" + p.from_pipeline;
  }
  if (!p.source) {
    return "?";
  }
  return p.source->id == p.topic_source() ? p.source->type : fmt::format("{} ({})", p.source->id, p.source->type);
}

// What makes it run.
std::string trigger_of(const core::PipelineConfig& p) {
  if (!p.from_pipeline.empty()) {
    return "chained";
  }
  if (p.pushed()) {
    return "push";
  }
  if (p.every.count() > 0) {
    return fmt::format("every {}{}", core::format_duration(p.every), p.execution == core::Execution::worker ? " (worker)" : "");
  }
  if (!p.cron.empty()) {
    return "cron " + p.cron;
  }
  return "manual";
}

std::vector<std::string> sink_types(const core::PipelineConfig& p) {
  std::vector<std::string> out;
  for (const auto& sink : p.sinks) {
    out.push_back(sink.type);
  }
  return out;
}

// The delivery job ids a run (and the chained runs it fed) queued.
void collect_deliveries(const core::pipeline::RunReport& report, std::vector<std::int64_t>& out) {
  out.insert(out.end(), report.deliveries.begin(), report.deliveries.end());
  for (const auto& down : report.downstream) {
    collect_deliveries(down, out);
  }
}

nlohmann::json report_json(const core::pipeline::RunReport& r) {
  nlohmann::json requests = nlohmann::json::array();
  for (const auto& request : r.requests) {
    requests.push_back({{"method", request.method}, {"url", request.url}, {"status", request.status},
                        {"ms", static_cast<double>(request.elapsed.count()) / 1000.0}});
  }
  nlohmann::json downstream = nlohmann::json::array();
  for (const auto& down : r.downstream) {
    downstream.push_back(report_json(down));
  }
  nlohmann::json out{{"pipeline", r.pipeline_id},   {"input", r.input},
                     {"fetch", core::outcome_name(r.fetch)},
                     {"fetched", r.fetched},         {"mapped", r.mapped},
                     {"map_failed", r.map_failed},   {"missing_fields", r.missing},
                     {"filtered_out", r.filtered_out}, {"new", r.new_records},
                     {"duplicates", r.duplicates},   {"raw_records", r.raw_records},
                     {"requests", requests},         {"downstream", downstream}};
  if (!r.error.empty()) {
    out["error"] = r.error;
  }
  if (!r.map_example.empty()) {
    out["map_example"] = r.map_example;
  }
  return out;
}

void print_report(const core::pipeline::RunReport& r, const std::string& indent) {
  fmt::print("{}pipeline {}: {}{}fetched {}, mapped {}, filtered out {}, new {}, duplicates {}\n", indent,
             r.pipeline_id, r.input == "fetch" ? "" : "from " + r.input + ": ",
             r.fetch == core::PollOutcome::ok ? "" : std::string{core::outcome_name(r.fetch)} + "; ", r.fetched,
             r.mapped, r.filtered_out, r.new_records, r.duplicates);
  for (const auto& request : r.requests) {
    fmt::print("{}  {} {} -> {} ({} ms)\n", indent, request.method, request.url,
               request.status == 0 ? std::string{"no answer"} : std::to_string(request.status),
               request.elapsed.count() / 1000);
  }
  if (!r.error.empty()) {
    fmt::print("{}  error: {}\n", indent, r.error);
  }
  if (r.map_failed > 0) {
    fmt::print("{}  {} record{} failed to map, e.g. {}\n", indent, r.map_failed, r.map_failed == 1 ? "" : "s",
               r.map_example);
  }
  if (r.missing > 0) {
    fmt::print("{}  {} mapped field{} had no value (null)\n", indent, r.missing, r.missing == 1 ? "" : "s");
  }
  for (const auto& down : r.downstream) {
    print_report(down, indent + "  -> ");
  }
}

core::Result<int> run_pipeline_now(const GlobalOptions& global, const RunArgs& args) {
  if (args.target.rfind("pipeline:", 0) != 0) {
    return core::fail(core::Errc::usage, fmt::format("run: want pipeline:ID, got '{}'", args.target));
  }
  auto opened = open_pipeline(global, args.target.substr(9));
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  const core::Config* config = &opened->config;
  const core::PipelineConfig* pipeline = &opened->pipeline();
  auto* store = &opened->store;
  const core::Logging logging = make_logging(global);
  core::BatchWriter writer{**store, config->buffer, logging.get("store.writer")};
  core::pipeline::RunOptions options;
  options.dry_run = args.dry_run;
  options.log = logging.get("pipeline." + pipeline->id);
  auto report = core::pipeline::run_pipeline(*config, *pipeline, **store, writer, options);
  if (!report) {
    writer.stop();
    return tl::unexpected(report.error());
  }
  // The run, or a chained run it fed, failed.
  std::function<bool(const core::pipeline::RunReport&)> any_failed = [&](const core::pipeline::RunReport& r) {
    return r.failed() || std::any_of(r.downstream.begin(), r.downstream.end(), any_failed);
  };
  bool failed = any_failed(*report);

  if (args.dry_run) {
    writer.stop();
    if (args.json) {
      nlohmann::json out = report_json(*report);
      out["dry_run"] = true;
      out["records"] = nlohmann::json::array();
      for (const auto& record : report->records) {
        out["records"].push_back(nlohmann::json::parse(record.content, nullptr, false));
      }
      print_json_line(out);
    } else {
      for (const auto& record : report->records) {
        fmt::print("{}\n", record.content);
      }
      print_report(*report, "");
      fmt::print("dry run: nothing stored, nothing delivered\n");
    }
    return failed ? 1 : 0;
  }

  // Deliver what this run queued, now: one attempt each. A failed attempt
  // stays queued for its retry (vibe serve, vibe jobs run).
  std::vector<std::int64_t> ids;
  collect_deliveries(*report, ids);
  nlohmann::json deliveries = nlohmann::json::array();
  std::size_t delivered = 0;
  if (!ids.empty()) {
    jobs::WorkerDeps deps{&*config, store->get(), &writer, &logging};
    auto runs = jobs::run_jobs_now((*store)->jobs(), deps, ids, logging.get("jobs.runner"));
    if (!runs) {
      writer.stop();
      return tl::unexpected(runs.error());
    }
    for (const auto& run : *runs) {
      const auto job_args = nlohmann::json::parse(run.job.args, nullptr, false);
      const std::string sink = fmt::format("{}[{}]", job_args.value("type", "?"), job_args.value("sink", 0));
      const std::size_t count = job_args.contains("records") ? job_args["records"].size() : 0;
      nlohmann::json item{{"job", run.job.id},        {"pipeline", job_args.value("pipeline", "")},
                          {"sink", sink},             {"records", count},
                          {"attempt", run.job.attempt}};
      if (std::holds_alternative<jobs::Done>(run.result)) {
        ++delivered;
        item["ok"] = true;
      } else {
        failed = true;
        item["ok"] = false;
        const auto* f = std::get_if<jobs::Failed>(&run.result);
        const auto* d = std::get_if<jobs::Discard>(&run.result);
        item["error"] = f != nullptr ? f->error : d != nullptr ? d->error : "snoozed";
      }
      deliveries.push_back(std::move(item));
    }
  }
  writer.stop();
  if (args.json) {
    nlohmann::json out = report_json(*report);
    out["deliveries"] = deliveries;
    out["delivered"] = delivered;
    out["failed"] = failed;
    print_json_line(out);
  } else {
    print_report(*report, "");
    for (const auto& d : deliveries) {
      if (d["ok"].get<bool>()) {
        const auto n = d["records"].get<std::size_t>();
        fmt::print("  delivered {} record{} to {} {} (job {})\n", n, n == 1 ? "" : "s", d["pipeline"].get<std::string>(),
                   d["sink"].get<std::string>(), d["job"].get<std::int64_t>());
      } else {
        fmt::print("  delivery to {} {} failed (job {}, attempt {}): {}; it stays queued for a retry\n",
                   d["pipeline"].get<std::string>(), d["sink"].get<std::string>(), d["job"].get<std::int64_t>(),
                   d["attempt"].get<int>(), d["error"].get<std::string>());
      }
    }
  }
  return failed ? 1 : 0;
}

core::Result<int> list_pipelines(const GlobalOptions& global, bool json) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  if (!json && config->pipelines.empty()) {
    fmt::print("no pipelines in {}\n", config->path.string());
    return 0;
  }
  if (!json) {
    fmt::print("{:<20} {:<24} {:<18} {:<8} {}\n", "PIPELINE", "FROM", "TRIGGER", "PERSIST", "SINKS");
  }
  for (const auto& p : config->pipelines) {
    if (json) {
      print_json_line({{"id", p.id},
                       {"from", from_of(p)},
                       {"trigger", trigger_of(p)},
                       {"execution", p.execution == core::Execution::worker ? "worker" : "job"},
                       {"persist", p.persist},
                       {"sinks", sink_types(p)},
                       {"topic", p.topic_source()}});
    } else {
      fmt::print("{:<20} {:<24} {:<18} {:<8} {}\n", p.id, fit(from_of(p), 24), fit(trigger_of(p), 18),
                 p.persist ? "yes" : "no", sink_types(p).empty() ? "-" : fmt::format("{}", fmt::join(sink_types(p), ", ")));
    }
  }
  return 0;
}

core::Result<int> show_pipeline(const GlobalOptions& global, const ShowArgs& args) {
  auto opened = open_pipeline(global, args.id);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  const core::Config* config = &opened->config;
  const core::PipelineConfig& p = opened->pipeline();
  auto* store = &opened->store;
  auto raw = (*store)->raw_stats(p.id);
  if (!raw) {
    return tl::unexpected(raw.error());
  }
  core::EventQuery query;
  query.source_id = p.topic_source();
  auto stats = (*store)->stats(query, core::now_micros());
  if (!stats) {
    return tl::unexpected(stats.error());
  }
  // The recent records: from serve's memory when it runs, else the store.
  std::vector<core::Event> recent;
  std::string recent_from;
  if (args.recent > 0) {
    auto answer = core::control_request(config->serve.socket,
                                        {{"cmd", "pipeline.recent"}, {"pipeline", p.id}, {"count", args.recent}},
                                        core::Millis{5000});
    if (answer && !(*answer)["records"].empty()) {
      recent_from = "serve";
      for (const auto& event : (*answer)["records"]) {
        recent.push_back(core::event_from_json(event));
      }
    } else if (answer || answer.error().code == core::Errc::unavailable) {
      // No serve, or one that has run nothing of it since it started.
      recent_from = "store";
      query.limit = args.recent;
      auto events = (*store)->events(query);
      if (!events) {
        return tl::unexpected(events.error());
      }
      recent.assign(events->rbegin(), events->rend());
    } else {
      return tl::unexpected(answer.error());
    }
  }
  std::vector<std::string> fields;
  if (!p.map.is_null()) {
    for (const auto& [name, value] : p.map.items()) {
      fields.push_back(name);
    }
  }
  if (args.json) {
    nlohmann::json out{{"id", p.id},
                       {"from", from_of(p)},
                       {"trigger", trigger_of(p)},
                       {"execution", p.execution == core::Execution::worker ? "worker" : "job"},
                       {"map_fields", fields},
                       {"filter", p.filter},
                       {"persist", p.persist},
                       {"keep", p.keep.count() == 0 ? std::string{"forever"} : core::format_duration(p.keep)},
                       {"sinks", sink_types(p)},
                       {"records", stats->total},
                       {"raw", {{"count", raw->count},
                                {"stored_bytes", raw->stored_bytes},
                                {"original_bytes", raw->original_bytes}}}};
    if (args.recent > 0) {
      out["recent_from"] = recent_from;
      out["recent"] = nlohmann::json::array();
      for (const auto& event : recent) {
        out["recent"].push_back(core::to_json(event));
      }
    }
    print_json_line(out);
    return 0;
  }
  fmt::print("pipeline {}\n", p.id);
  fmt::print("  from      {}\n", from_of(p));
  fmt::print("  trigger   {}\n", trigger_of(p));
  fmt::print("  map       {}\n", fields.empty() ? std::string{"(records as they come)"} : fmt::format("{}", fmt::join(fields, ", ")));
  fmt::print("  filter    {}\n", p.filter.empty() ? std::string{"(none)"} : p.filter);
  fmt::print("  persist   {}\n", p.persist ? "yes" : "no (keys only)");
  fmt::print("  sinks     {}\n", p.sinks.empty() ? std::string{"(none)"} : fmt::format("{}", fmt::join(sink_types(p), ", ")));
  fmt::print("  records   {}\n", stats->total);
  fmt::print("  raw       {} record{}, {} KiB stored ({} KiB before compression), kept {}\n", raw->count,
             raw->count == 1 ? "" : "s",
             (raw->stored_bytes + 1023) / 1024, (raw->original_bytes + 1023) / 1024,
             p.keep.count() == 0 ? std::string{"forever"} : core::format_duration(p.keep));
  if (args.recent > 0) {
    fmt::print("recent records ({}):\n", recent_from == "serve" ? "from vibe serve's memory" : "from the store");
    for (const auto& event : recent) {
      fmt::print("  {}\n", event_line(event));
    }
  }
  return 0;
}

core::Result<int> replay_pipeline(const GlobalOptions& global, const ReplayArgs& args) {
  core::EventQuery range;
  if (auto ok = set_time_range(range, args.from, "--from", args.to, "--to"); !ok) {
    return tl::unexpected(ok.error());
  }
  auto opened = open_pipeline(global, args.id);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  const core::Config* config = &opened->config;
  auto* store = &opened->store;
  const core::Logging logging = make_logging(global);
  core::BatchWriter writer{**store, config->buffer, logging.get("store.writer")};
  core::pipeline::ReplayOptions options;
  options.since = range.since;
  options.until = range.until;
  options.deliver = args.deliver;
  options.log = logging.get("pipeline." + args.id);
  auto report = core::pipeline::replay_pipeline(*config, opened->pipeline(), **store, writer, options);
  writer.stop();
  if (!report) {
    return tl::unexpected(report.error());
  }
  if (args.json) {
    nlohmann::json out{{"pipeline", args.id},          {"raw_records", report->raw_records},
                       {"inputs", report->inputs},     {"mapped", report->mapped},
                       {"map_failed", report->map_failed}, {"filtered_out", report->filtered_out},
                       {"rebuilt", report->rebuilt},   {"removed", report->removed},
                       {"skipped", report->skipped},   {"deliveries", report->deliveries}};
    if (!report->example.empty()) {
      out["example"] = report->example;
    }
    print_json_line(out);
  } else {
    fmt::print("pipeline {}: replayed {} raw records ({} distinct records): mapped {}, filtered out {}, rebuilt {}, "
               "removed {}\n", args.id, report->raw_records, report->inputs, report->mapped, report->filtered_out,
               report->rebuilt, report->removed);
    if (report->map_failed > 0 || report->skipped > 0) {
      fmt::print("  {} records failed to map, {} raw records no longer parse; e.g. {}\n", report->map_failed,
                 report->skipped, report->example);
    }
    if (args.deliver) {
      fmt::print("  queued {} deliveries (vibe serve or vibe jobs run delivers them)\n", report->deliveries.size());
    }
  }
  return report->map_failed > 0 || report->skipped > 0 ? 1 : 0;
}

}  // namespace

void add_pipeline_commands(CLI::App& app, const GlobalOptions& global, Action& run) {
  {
    auto args = std::make_shared<RunArgs>();
    auto* cmd = app.add_subcommand("run", "run a pipeline once now: fetch, map, filter, store, deliver");
    cmd->add_option("TARGET", args->target, "pipeline:ID")->required();
    cmd->add_flag("-n,--dry-run", args->dry_run, "fetch, map and filter; print the records, store and deliver nothing");
    cmd->add_flag("--json", args->json, "one JSON document: counts, requests, deliveries");
    cmd->callback([&run, &global, args] { run = [&global, args] { return run_pipeline_now(global, *args); }; });
  }
  auto* group = app.add_subcommand("pipeline", "list, show and replay pipelines");
  group->require_subcommand(1);
  {
    auto json = std::make_shared<bool>(false);
    auto* cmd = group->add_subcommand("list", "the configured pipelines: source, trigger, sinks");
    cmd->add_flag("--json", *json, "NDJSON: one object per pipeline");
    cmd->callback([&run, &global, json] { run = [&global, json] { return list_pipelines(global, *json); }; });
  }
  {
    auto args = std::make_shared<ShowArgs>();
    auto* cmd = group->add_subcommand("show", "one pipeline: its definition, records, raw layer and recent records");
    cmd->add_option("ID", args->id, "pipeline id")->required();
    cmd->add_option("--recent", args->recent, "also print the last N records, 1-100 (from vibe serve's memory when it runs)")
        ->check(CLI::Range(1, 100));
    cmd->add_flag("--json", args->json, "one JSON document");
    cmd->callback([&run, &global, args] { run = [&global, args] { return show_pipeline(global, *args); }; });
  }
  {
    auto args = std::make_shared<ReplayArgs>();
    auto* cmd = group->add_subcommand("replay", "map and filter the raw layer again (after changing map/filter), "
                                                "without fetching");
    cmd->add_option("ID", args->id, "pipeline id")->required();
    cmd->add_option("--from", args->from, "raw records fetched at or after this (10m ago, or RFC 3339)");
    cmd->add_option("--to", args->to, "raw records fetched before this");
    cmd->add_flag("--deliver", args->deliver, "queue every rebuilt record for delivery again (same Idempotency-Key)");
    cmd->add_flag("--json", args->json, "one JSON document with the counts");
    cmd->callback([&run, &global, args] { run = [&global, args] { return replay_pipeline(global, *args); }; });
  }
}

}  // namespace vibe::cli
