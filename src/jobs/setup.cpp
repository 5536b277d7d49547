#include "jobs/setup.hpp"

#include "core/source.hpp"
#include "core/store/store.hpp"
#include "jobs/backoff.hpp"
#include "jobs/worker.hpp"
#include "jobs/workers/builtin.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vibe::jobs {

namespace {

core::Result<core::Millis> duration_field(const nlohmann::json& spec, const char* key) {
  const auto& value = spec[key];
  if (!value.is_string()) {
    return core::fail(core::Errc::usage, fmt::format("{}: want a duration string such as \"30s\"", key));
  }
  auto d = core::parse_duration(value.get<std::string>());
  if (!d) {
    return core::fail(core::Errc::usage, fmt::format("{}: {}", key, d.error().message));
  }
  return *d;
}

core::Result<int> int_field(const nlohmann::json& spec, const char* key, int low, int high) {
  const auto& value = spec[key];
  if (!value.is_number_integer() || value.get<long long>() < low || value.get<long long>() > high) {
    return core::fail(core::Errc::usage, fmt::format("{}: want an integer from {} to {}", key, low, high));
  }
  return value.get<int>();
}

std::int64_t micros(core::Millis d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

core::Result<core::NewJob> new_job_from_json(const nlohmann::json& spec, core::UnixMicros now) {
  static const std::vector<std::string> k_keys = {"worker", "args",       "queue", "priority", "in",      "at",
                                                  "max_attempts", "unique_for", "tags",  "timeout",  "backoff", "meta"};
  if (!spec.is_object()) {
    return core::fail(core::Errc::usage, "a job is a JSON object with at least \"worker\"");
  }
  for (const auto& [key, value] : spec.items()) {
    if (std::find(k_keys.begin(), k_keys.end(), key) == k_keys.end()) {
      const std::string guess = core::nearest(key, k_keys);
      return core::fail(core::Errc::usage, fmt::format("unknown field '{}'{}", key,
                                                       guess.empty() ? "" : fmt::format(" (did you mean '{}'?)", guess)));
    }
  }
  core::NewJob job;
  if (!spec.contains("worker") || !spec["worker"].is_string()) {
    return core::fail(core::Errc::usage, "worker: required, a string");
  }
  job.worker = spec["worker"].get<std::string>();
  if (find_worker_kind(job.worker) == nullptr) {
    std::vector<std::string> names;
    for (const auto& kind : worker_kinds()) {
      names.emplace_back(kind.name);
    }
    return core::fail(core::Errc::usage,
                      fmt::format("worker: no worker named '{}' (workers: {})", job.worker, fmt::join(names, ", ")));
  }
  if (spec.contains("args")) {
    if (!spec["args"].is_object()) {
      return core::fail(core::Errc::usage, "args: want a JSON object");
    }
    job.args = spec["args"].dump();
  }
  if (spec.contains("queue")) {
    if (!spec["queue"].is_string() || spec["queue"].get<std::string>().empty()) {
      return core::fail(core::Errc::usage, "queue: want a non-empty string");
    }
    job.queue = spec["queue"].get<std::string>();
  }
  if (spec.contains("priority")) {
    auto p = int_field(spec, "priority", 0, 9);
    if (!p) {
      return tl::unexpected(p.error());
    }
    job.priority = *p;
  }
  if (spec.contains("max_attempts")) {
    auto n = int_field(spec, "max_attempts", 1, 1000);
    if (!n) {
      return tl::unexpected(n.error());
    }
    job.max_attempts = *n;
  }
  if (spec.contains("in") && spec.contains("at")) {
    return core::fail(core::Errc::usage, "give either \"in\" or \"at\", not both");
  }
  if (spec.contains("in")) {
    auto d = duration_field(spec, "in");
    if (!d) {
      return tl::unexpected(d.error());
    }
    job.scheduled_at = now + micros(*d);
  }
  if (spec.contains("at")) {
    const auto at = spec["at"].is_string() ? core::parse_rfc3339(spec["at"].get<std::string>()) : std::nullopt;
    if (!at) {
      return core::fail(core::Errc::usage, "at: want an RFC 3339 time such as \"2026-11-22T18:00:00Z\"");
    }
    job.scheduled_at = *at;
  }
  if (spec.contains("unique_for")) {
    auto d = duration_field(spec, "unique_for");
    if (!d) {
      return tl::unexpected(d.error());
    }
    job.unique = core::UniqueSpec{};
    job.unique->period = *d;
  }
  if (spec.contains("timeout")) {
    auto d = duration_field(spec, "timeout");
    if (!d) {
      return tl::unexpected(d.error());
    }
    job.timeout_ms = d->count();
  }
  if (spec.contains("tags")) {
    if (!spec["tags"].is_array()) {
      return core::fail(core::Errc::usage, "tags: want a list of strings");
    }
    for (const auto& tag : spec["tags"]) {
      if (!tag.is_string()) {
        return core::fail(core::Errc::usage, "tags: want a list of strings");
      }
      job.tags.push_back(tag.get<std::string>());
    }
  }
  nlohmann::json meta = nlohmann::json::object();
  if (spec.contains("meta")) {
    if (!spec["meta"].is_object()) {
      return core::fail(core::Errc::usage, "meta: want a JSON object");
    }
    meta = spec["meta"];
  }
  if (spec.contains("backoff")) {
    const auto& b = spec["backoff"];
    if (!b.is_object()) {
      return core::fail(core::Errc::usage, "backoff: want {\"kind\": exponential|linear|fixed, \"base\", \"max\"}");
    }
    if (b.contains("kind") && (!b["kind"].is_string() || !parse_backoff_kind(b["kind"].get<std::string>()))) {
      return core::fail(core::Errc::usage, "backoff.kind: want exponential, linear, fixed or oban");
    }
    for (const char* key : {"base", "max"}) {
      if (b.contains(key) && (!b[key].is_string() || !core::parse_duration(b[key].get<std::string>()))) {
        return core::fail(core::Errc::usage, fmt::format("backoff.{}: want a duration such as \"10s\"", key));
      }
    }
    meta["backoff"] = b;
  }
  job.meta = meta.dump();
  return job;
}

core::Result<std::size_t> seed_poll_jobs(const core::Config& config, core::Store& store, core::UnixMicros now) {
  std::vector<core::NewJob> jobs;
  for (const auto& source : config.sources) {
    if (core::is_pushed_kind(source.type)) {
      continue;  // webhooks are pushed, never polled
    }
    auto state = store.poll_state(source.id);
    if (!state) {
      return tl::unexpected(state.error());
    }
    core::UnixMicros due = now;
    if (state->last_poll_at > 0) {
      due = std::max(now, state->last_poll_at + micros(core::poll_interval(source.options).initial()));
    }
    due = std::max(due, state->retry_not_before);
    jobs.push_back(poll_job(source.id, due));
  }
  auto inserted = store.jobs().insert_jobs(jobs, now);
  if (!inserted) {
    return tl::unexpected(inserted.error());
  }
  return static_cast<std::size_t>(
      std::count_if(inserted->begin(), inserted->end(), [](const core::Inserted& i) { return !i.existing; }));
}

std::vector<CronEntry> cron_entries(const core::Config& config) {
  std::vector<CronEntry> entries;
  for (const auto& cron : config.cron) {
    auto schedule = core::CronSchedule::parse(cron.schedule, cron.timezone);
    if (!schedule) {
      continue;  // config loading already rejected it
    }
    core::NewJob job;
    job.worker = cron.worker;
    job.args = cron.args;
    job.queue = cron.queue;
    job.priority = cron.priority;
    job.max_attempts = cron.max_attempts;
    job.timeout_ms = cron.timeout_ms;
    entries.push_back(CronEntry{cron.name, *schedule, std::move(job), cron.catch_up_one ? CatchUp::one : CatchUp::none});
  }
  // Pipelines that run as jobs on their own schedule.
  for (const auto& pipeline : config.pipelines) {
    if (pipeline.execution != core::Execution::job || (pipeline.every.count() == 0 && pipeline.cron.empty())) {
      continue;
    }
    auto schedule = core::CronSchedule::parse(pipeline.cron.empty() ? "* * * * *" : pipeline.cron, pipeline.timezone);
    if (!schedule) {
      continue;  // config loading already rejected it
    }
    core::NewJob job;
    job.worker = "pipeline";
    job.args = nlohmann::json{{"pipeline", pipeline.id}}.dump();
    job.max_attempts = 3;
    const std::string name = pipeline.every.count() > 0
                                 ? fmt::format("pipeline:{}:every:{}", pipeline.id, pipeline.every.count())
                                 : fmt::format("pipeline:{}:cron:{}", pipeline.id, pipeline.cron);
    entries.push_back(CronEntry{name, *schedule, std::move(job), CatchUp::one, pipeline.every});
  }
  return entries;
}

}  // namespace vibe::jobs
