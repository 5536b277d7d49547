// vibe jobs list|show|enqueue|retry|cancel|prune|stats|run|wait
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/store/batch_writer.hpp"
#include "core/store/store.hpp"
#include "jobs/runner.hpp"
#include "jobs/scheduler.hpp"
#include "jobs/setup.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <iostream>
#include <thread>

namespace vibe::cli {

namespace {

struct ListArgs {
  std::string state;
  std::string queue;
  std::string worker;
  std::size_t limit = 50;
  bool json = false;
};

struct ShowArgs {
  std::int64_t id = 0;
  bool json = false;
};

struct EnqueueArgs {
  std::string worker;
  std::string args;
  std::string queue;
  std::optional<int> priority;
  std::string in;
  std::string at;
  std::optional<int> max_attempts;
  std::string unique_for;
  std::vector<std::string> tags;
  std::string timeout;
  std::string backoff;
  bool batch = false;
  bool json = false;
};

struct IdsArgs {
  std::vector<std::int64_t> ids;
  std::string state;
  bool json = false;
};

struct PruneArgs {
  std::string older_than = "7d";
  bool json = false;
};

struct RunArgs {
  std::vector<std::string> queues;
  std::string prune_after = "7d";
  bool drain = false;
  std::size_t concurrency = 0;
  bool json = false;
};

struct WaitArgs {
  std::int64_t id = 0;
  std::string timeout = "1h";
};

struct Opened {
  core::Config config;
  std::unique_ptr<core::Store> store;
};

// `yes` also records the config's streams and sources in the store.
enum class SyncCatalog { no, yes };

core::Result<Opened> open(const GlobalOptions& global, SyncCatalog sync = SyncCatalog::no) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  auto store = sync == SyncCatalog::yes ? core::open_store_synced(*config) : core::open_store(*config);
  if (!store) {
    return tl::unexpected(store.error());
  }
  return Opened{std::move(*config), std::move(*store)};
}

nlohmann::json job_json(const core::Job& job) {
  auto parse = [](const std::string& text) {
    auto value = nlohmann::json::parse(text, nullptr, false);
    return value.is_discarded() ? nlohmann::json(text) : value;
  };
  auto time = [](core::UnixMicros t) { return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(core::format_rfc3339(t)); };
  return nlohmann::json{{"id", job.id},
                        {"queue", job.queue},
                        {"worker", job.worker},
                        {"args", parse(job.args)},
                        {"state", core::job_state_name(job.state)},
                        {"priority", job.priority},
                        {"attempt", job.attempt},
                        {"max_attempts", job.max_attempts},
                        {"inserted_at", time(job.inserted_at)},
                        {"scheduled_at", time(job.scheduled_at)},
                        {"attempted_at", time(job.attempted_at)},
                        {"completed_at", time(job.completed_at)},
                        {"discarded_at", time(job.discarded_at)},
                        {"cancelled_at", time(job.cancelled_at)},
                        {"errors", parse(job.errors)},
                        {"tags", parse(job.tags)},
                        {"meta", parse(job.meta)},
                        {"attempted_by", job.attempted_by.empty() ? nlohmann::json(nullptr) : nlohmann::json(job.attempted_by)},
                        {"timeout_ms", job.timeout_ms}};
}

core::Result<std::optional<core::JobState>> state_arg(const std::string& text) {
  if (text.empty()) {
    return std::optional<core::JobState>{};
  }
  auto state = core::parse_job_state(text);
  if (!state) {
    return core::fail(core::Errc::usage, fmt::format("unknown state '{}' (scheduled, available, executing, retryable, "
                                                     "completed, discarded, cancelled)",
                                                     text));
  }
  return std::optional<core::JobState>{*state};
}

core::Result<int> list(const GlobalOptions& global, const ListArgs& args) {
  auto state = state_arg(args.state);
  if (!state) {
    return tl::unexpected(state.error());
  }
  auto opened = open(global);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  auto jobs = opened->store->jobs().jobs(core::JobFilter{*state, args.queue, args.worker, args.limit});
  if (!jobs) {
    return tl::unexpected(jobs.error());
  }
  for (const auto& job : *jobs) {
    if (args.json) {
      print_json_line(job_json(job));
      continue;
    }
    fmt::print("{:>8}  {:<9}  {:<10}  {:<6}  {}/{}  {}  {}\n", job.id, core::job_state_name(job.state), fit(job.queue, 10),
               fit(job.worker, 6), job.attempt, job.max_attempts, core::format_rfc3339_seconds(job.scheduled_at),
               fit(job.args, 60));
  }
  return 0;
}

core::Result<int> show(const GlobalOptions& global, const ShowArgs& args) {
  auto opened = open(global);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  auto job = opened->store->jobs().job(args.id);
  if (!job) {
    return tl::unexpected(job.error());
  }
  if (!*job) {
    return core::fail(core::Errc::not_found, fmt::format("no job {}", args.id));
  }
  const auto j = job_json(**job);
  if (args.json) {
    print_json_line(j);
    return 0;
  }
  for (const char* key : {"id", "state", "queue", "worker", "priority", "attempt", "max_attempts", "inserted_at",
                          "scheduled_at", "attempted_at", "completed_at", "discarded_at", "cancelled_at", "attempted_by",
                          "timeout_ms"}) {
    if (!j[key].is_null()) {
      fmt::print("{:<13} {}\n", key, j[key].is_string() ? j[key].get<std::string>() : j[key].dump());
    }
  }
  fmt::print("{:<13} {}\n", "args", j["args"].dump());
  if (j["tags"].is_array() && !j["tags"].empty()) {
    fmt::print("{:<13} {}\n", "tags", j["tags"].dump());
  }
  if (j["errors"].is_array()) {
    for (const auto& error : j["errors"]) {
      fmt::print("error         attempt {} at {}: {}\n", error.value("attempt", 0), error.value("at", ""),
                 error.value("error", ""));
    }
  }
  return 0;
}

core::Result<int> enqueue(const GlobalOptions& global, const EnqueueArgs& args) {
  const core::UnixMicros now = core::now_micros();
  std::vector<core::NewJob> jobs;
  if (args.batch) {
    if (!args.worker.empty()) {
      return core::fail(core::Errc::usage, "--batch reads workers from standard input; give no WORKER");
    }
    std::string line;
    std::size_t number = 0;
    while (std::getline(std::cin, line)) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) {
        continue;
      }
      const auto spec = nlohmann::json::parse(line, nullptr, false);
      auto job = spec.is_discarded() ? core::Result<core::NewJob>{core::fail(core::Errc::usage, "not valid JSON")}
                                     : jobs::new_job_from_json(spec, now);
      if (!job) {
        return core::fail(core::Errc::usage, fmt::format("stdin:{}: {}", number, job.error().message));
      }
      jobs.push_back(std::move(*job));
    }
  } else {
    if (args.worker.empty()) {
      return core::fail(core::Errc::usage, "give a WORKER (or --batch)");
    }
    nlohmann::json spec{{"worker", args.worker}};
    if (!args.args.empty()) {
      spec["args"] = nlohmann::json::parse(args.args, nullptr, false);
      if (spec["args"].is_discarded()) {
        return core::fail(core::Errc::usage, "--args: not valid JSON");
      }
    }
    if (!args.queue.empty()) spec["queue"] = args.queue;
    if (args.priority) spec["priority"] = *args.priority;
    if (!args.in.empty()) spec["in"] = args.in;
    if (!args.at.empty()) spec["at"] = args.at;
    if (args.max_attempts) spec["max_attempts"] = *args.max_attempts;
    if (!args.unique_for.empty()) spec["unique_for"] = args.unique_for;
    if (!args.tags.empty()) spec["tags"] = args.tags;
    if (!args.timeout.empty()) spec["timeout"] = args.timeout;
    if (!args.backoff.empty()) spec["backoff"] = {{"kind", args.backoff}};
    auto job = jobs::new_job_from_json(spec, now);
    if (!job) {
      return tl::unexpected(job.error());
    }
    jobs.push_back(std::move(*job));
  }
  auto opened = open(global);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  auto inserted = opened->store->jobs().insert_jobs(jobs, now);
  if (!inserted) {
    return tl::unexpected(inserted.error());
  }
  for (const auto& i : *inserted) {
    if (args.json) {
      print_json_line({{"id", i.id}, {"existing", i.existing}});
    } else {
      fmt::print("{}\n", i.id);
    }
  }
  return 0;
}

core::Result<int> retry(const GlobalOptions& global, const IdsArgs& args) {
  auto state = state_arg(args.state);
  if (!state) {
    return tl::unexpected(state.error());
  }
  if (args.ids.empty() == !*state) {
    return core::fail(core::Errc::usage, "give job ids or --state STATE (not both)");
  }
  auto opened = open(global);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  auto changed = opened->store->jobs().retry_jobs(args.ids, *state, core::now_micros());
  if (!changed) {
    return tl::unexpected(changed.error());
  }
  if (args.json) {
    print_json_line({{"retried", *changed}});
  } else {
    fmt::print("retried {} job{}\n", *changed, *changed == 1 ? "" : "s");
  }
  return 0;
}

core::Result<int> cancel(const GlobalOptions& global, const IdsArgs& args) {
  auto opened = open(global);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  auto changed = opened->store->jobs().cancel_jobs(args.ids, core::now_micros());
  if (!changed) {
    return tl::unexpected(changed.error());
  }
  if (args.json) {
    print_json_line({{"cancelled", *changed}});
  } else {
    fmt::print("cancelled {} job{}\n", *changed, *changed == 1 ? "" : "s");
  }
  return 0;
}

core::Result<int> prune(const GlobalOptions& global, const PruneArgs& args) {
  auto age = core::parse_duration(args.older_than);
  if (!age) {
    return core::fail(core::Errc::usage, "--older-than: " + age.error().message);
  }
  auto opened = open(global);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  const auto before = core::now_micros() - std::chrono::duration_cast<std::chrono::microseconds>(*age).count();
  auto deleted = opened->store->jobs().prune_jobs(before, 10'000);
  if (!deleted) {
    return tl::unexpected(deleted.error());
  }
  if (args.json) {
    print_json_line({{"pruned", *deleted}});
  } else {
    fmt::print("pruned {} job{}\n", *deleted, *deleted == 1 ? "" : "s");
  }
  return 0;
}

core::Result<int> stats(const GlobalOptions& global, bool json) {
  auto opened = open(global);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  const auto now = core::now_micros();
  auto s = opened->store->jobs().job_stats(now);
  if (!s) {
    return tl::unexpected(s.error());
  }
  const double oldest_age =
      s->oldest_available_scheduled_at ? static_cast<double>(now - *s->oldest_available_scheduled_at) / 1e6 : 0.0;
  if (json) {
    nlohmann::json out{{"queues", nlohmann::json::object()}, {"oldest_available_age_s", oldest_age}};
    for (const auto& c : s->counts) {
      out["queues"][c.queue][std::string{core::job_state_name(c.state)}] = c.count;
    }
    print_json_line(out);
    return 0;
  }
  for (const auto& c : s->counts) {
    fmt::print("{:<12} {:<10} {}\n", c.queue, core::job_state_name(c.state), c.count);
  }
  fmt::print("oldest available job waited {:.1f} s\n", oldest_age);
  return 0;
}

core::Result<int> run(const GlobalOptions& global, const RunArgs& args) {
  // Block SIGINT/SIGTERM in every thread (before any is created) and take
  // them on one thread with sigwait, which may then call Runner::stop().
  // SIGUSR1 only wakes that thread when run() is over.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto opened = open(global, SyncCatalog::yes);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  const auto logging = make_logging(global);
  jobs::RunnerOptions options;
  options.drain = args.drain ? jobs::Drain::yes : jobs::Drain::no;
  auto prune_after = core::parse_duration(args.prune_after);
  if (!prune_after) {
    return core::fail(core::Errc::usage, "--prune-after: " + prune_after.error().message);
  }
  options.prune_after = *prune_after;
  options.queues.clear();
  const auto& configured = opened->config.queues;
  if (args.queues.empty()) {
    options.queues = configured;
  } else {
    for (const auto& queue : args.queues) {
      const auto it = configured.find(queue);
      options.queues[queue] = it == configured.end() ? 5 : it->second;
    }
  }
  if (args.concurrency > 0) {
    for (auto& [queue, concurrency] : options.queues) {
      concurrency = args.concurrency;
    }
  }
  core::BatchWriter writer{*opened->store, opened->config.buffer, logging.get("store.writer")};
  jobs::WorkerDeps deps{&opened->config, opened->store.get(), &writer, &logging};
  jobs::Runner runner{opened->store->jobs(), deps, options, logging.get("jobs.runner")};
  jobs::Scheduler scheduler{jobs::cron_entries(opened->config), logging.get("jobs.cron")};
  runner.set_scheduler(&scheduler);
  if (!args.drain || options.queues.count("poll") > 0) {
    if (auto seeded = jobs::seed_poll_jobs(opened->config, *opened->store, core::now_micros()); !seeded) {
      return tl::unexpected(seeded.error());
    }
  }

  std::thread signal_thread{[&runner, signals] {
    int signal = 0;
    if (sigwait(&signals, &signal) == 0 && signal != SIGUSR1) {
      runner.stop();
    }
  }};
  auto summary = runner.run();
  pthread_kill(signal_thread.native_handle(), SIGUSR1);  // harmless if it already returned
  signal_thread.join();
  writer.stop();
  if (!summary) {
    return tl::unexpected(summary.error());
  }
  if (args.json) {
    print_json_line({{"completed", summary->completed}, {"retryable", summary->retryable},
                     {"discarded", summary->discarded}, {"snoozed", summary->snoozed}, {"rescued", summary->rescued},
                     {"pruned", summary->pruned}});
  } else {
    fmt::print("completed={} retryable={} discarded={} snoozed={} rescued={}{}\n", summary->completed,
               summary->retryable, summary->discarded, summary->snoozed, summary->rescued,
               summary->pruned > 0 ? fmt::format(" pruned={}", summary->pruned) : "");
  }
  return summary->discarded > 0 ? 1 : 0;
}

core::Result<int> wait(const GlobalOptions& global, const WaitArgs& args) {
  auto timeout = core::parse_duration(args.timeout);
  if (!timeout) {
    return core::fail(core::Errc::usage, "--timeout: " + timeout.error().message);
  }
  auto opened = open(global);
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  const auto deadline = std::chrono::steady_clock::now() + *timeout;
  for (;;) {
    auto job = opened->store->jobs().job(args.id);
    if (!job) {
      return tl::unexpected(job.error());
    }
    if (!*job) {
      return core::fail(core::Errc::not_found, fmt::format("no job {}", args.id));
    }
    const core::JobState state = (*job)->state;
    if (state == core::JobState::completed || state == core::JobState::discarded || state == core::JobState::cancelled) {
      fmt::print("{}\n", core::job_state_name(state));
      return state == core::JobState::completed ? 0 : 1;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return core::fail(core::Errc::cancelled, fmt::format("job {} is still {} after {}", args.id,
                                                           core::job_state_name(state), args.timeout));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});  // poll interval
  }
}

}  // namespace

void add_jobs_commands(CLI::App& app, const GlobalOptions& global, Action& run_action) {
  auto* jobs_cmd = app.add_subcommand("jobs", "the persistent job queue");
  jobs_cmd->require_subcommand(1);

  auto list_args = std::make_shared<ListArgs>();
  auto* list_cmd = jobs_cmd->add_subcommand("list", "list jobs, newest first");
  list_cmd->add_option("--state", list_args->state, "only jobs in this state")->type_name("STATE");
  list_cmd->add_option("--queue", list_args->queue, "only this queue")->type_name("Q");
  list_cmd->add_option("--worker", list_args->worker, "only this worker")->type_name("W");
  list_cmd->add_option("-n,--limit", list_args->limit, "at most N jobs (default 50)")->type_name("N");
  list_cmd->add_flag("--json", list_args->json, "NDJSON, one job per line");
  list_cmd->callback([&run_action, &global, list_args] { run_action = [&global, list_args] { return list(global, *list_args); }; });

  auto show_args = std::make_shared<ShowArgs>();
  auto* show_cmd = jobs_cmd->add_subcommand("show", "one job with its args and every attempt's error");
  show_cmd->add_option("ID", show_args->id, "job id")->required();
  show_cmd->add_flag("--json", show_args->json, "one JSON document");
  show_cmd->callback([&run_action, &global, show_args] { run_action = [&global, show_args] { return show(global, *show_args); }; });

  auto enqueue_args = std::make_shared<EnqueueArgs>();
  auto* enqueue_cmd = jobs_cmd->add_subcommand("enqueue", "insert a job (or many with --batch); prints the id");
  enqueue_cmd->add_option("WORKER", enqueue_args->worker, "poll, exec or noop");
  enqueue_cmd->add_option("--args", enqueue_args->args, "the job's args, a JSON object")->type_name("JSON");
  enqueue_cmd->add_option("--queue", enqueue_args->queue, "queue (default: default)")->type_name("Q");
  enqueue_cmd->add_option("--priority", enqueue_args->priority, "0 (highest) to 9")->type_name("P");
  enqueue_cmd->add_option("--in", enqueue_args->in, "run after this long")->type_name("DUR");
  enqueue_cmd->add_option("--at", enqueue_args->at, "run at this time (RFC 3339)")->type_name("TIME");
  enqueue_cmd->add_option("--max-attempts", enqueue_args->max_attempts, "attempts before discarding (default 20)")->type_name("N");
  enqueue_cmd->add_option("--unique-for", enqueue_args->unique_for, "return the existing job if the same worker, queue and args was inserted within DUR")->type_name("DUR");
  enqueue_cmd->add_option("--tag", enqueue_args->tags, "a tag (repeatable)")->type_name("T");
  enqueue_cmd->add_option("--timeout", enqueue_args->timeout, "fail an attempt that runs longer")->type_name("DUR");
  enqueue_cmd->add_option("--backoff", enqueue_args->backoff, "exponential, linear or fixed (default: 15s + 2^attempt)")->type_name("KIND");
  enqueue_cmd->add_flag("--batch", enqueue_args->batch, "read one JSON job per line from stdin; insert all in one transaction");
  enqueue_cmd->add_flag("--json", enqueue_args->json, "print {\"id\":..,\"existing\":..} per job");
  enqueue_cmd->callback([&run_action, &global, enqueue_args] { run_action = [&global, enqueue_args] { return enqueue(global, *enqueue_args); }; });

  auto retry_args = std::make_shared<IdsArgs>();
  auto* retry_cmd = jobs_cmd->add_subcommand("retry", "make jobs available again");
  retry_cmd->add_option("ID", retry_args->ids, "job ids");
  retry_cmd->add_option("--state", retry_args->state, "every job in this state, e.g. discarded")->type_name("STATE");
  retry_cmd->add_flag("--json", retry_args->json, "print {\"retried\": N}");
  retry_cmd->callback([&run_action, &global, retry_args] { run_action = [&global, retry_args] { return retry(global, *retry_args); }; });

  auto cancel_args = std::make_shared<IdsArgs>();
  auto* cancel_cmd = jobs_cmd->add_subcommand("cancel", "cancel jobs that have not finished");
  cancel_cmd->add_option("ID", cancel_args->ids, "job ids")->required();
  cancel_cmd->add_flag("--json", cancel_args->json, "print {\"cancelled\": N}");
  cancel_cmd->callback([&run_action, &global, cancel_args] { run_action = [&global, cancel_args] { return cancel(global, *cancel_args); }; });

  auto prune_args = std::make_shared<PruneArgs>();
  auto* prune_cmd = jobs_cmd->add_subcommand("prune", "delete finished jobs older than an age");
  prune_cmd->add_option("--older-than", prune_args->older_than, "age (default 7d)")->type_name("DUR");
  prune_cmd->add_flag("--json", prune_args->json, "print {\"pruned\": N}");
  prune_cmd->callback([&run_action, &global, prune_args] { run_action = [&global, prune_args] { return prune(global, *prune_args); }; });

  auto stats_json = std::make_shared<bool>(false);
  auto* stats_cmd = jobs_cmd->add_subcommand("stats", "counts by queue and state, age of the oldest due job");
  stats_cmd->add_flag("--json", *stats_json, "one JSON document");
  stats_cmd->callback([&run_action, &global, stats_json] { run_action = [&global, stats_json] { return stats(global, *stats_json); }; });

  auto run_args = std::make_shared<RunArgs>();
  auto* run_cmd = jobs_cmd->add_subcommand("run", "run jobs (and cron) until stopped; --drain: until nothing is due");
  run_cmd->add_option("--queue", run_args->queues, "only these queues (repeatable; default: queues: in vibe.yaml)")->type_name("Q");
  run_cmd->add_flag("--drain", run_args->drain, "exit once no job is due or running; exit 1 if any job was discarded");
  run_cmd->add_option("--concurrency", run_args->concurrency, "jobs at once per queue (default: from queues:)")->type_name("N");
  run_cmd->add_option("--prune-after", run_args->prune_after, "delete finished jobs older than this (default 7d; 0s: never)")->type_name("DUR");
  run_cmd->add_flag("--json", run_args->json, "print the summary as JSON");
  run_cmd->callback([&run_action, &global, run_args] { run_action = [&global, run_args] { return run(global, *run_args); }; });

  auto wait_args = std::make_shared<WaitArgs>();
  auto* wait_cmd = jobs_cmd->add_subcommand("wait", "block until a job is final; exit 0 only if it completed");
  wait_cmd->add_option("ID", wait_args->id, "job id")->required();
  wait_cmd->add_option("--timeout", wait_args->timeout, "give up after this long (default 1h)")->type_name("DUR");
  wait_cmd->callback([&run_action, &global, wait_args] { run_action = [&global, wait_args] { return wait(global, *wait_args); }; });
}

}  // namespace vibe::cli
