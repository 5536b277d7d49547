#include "jobs/workers/builtin.hpp"

#include "core/poller.hpp"
#include "core/source.hpp"
#include "core/store/store.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vibe::jobs::poll {

namespace {

// Polls one source ({"source": ID}) and queues that source's next poll, one
// `every` later, as a unique job: however many times this runs, each source
// has at most one pending poll.
class PollWorker final : public Worker {
public:
  explicit PollWorker(const WorkerDeps& deps) : m_deps(deps) {}

  WorkResult perform(const JobContext& context) override {
    const auto args = nlohmann::json::parse(context.job.args, nullptr, false);
    if (!args.is_object() || !args.contains("source") || !args["source"].is_string()) {
      return Discard{"args needs \"source\": a source id"};
    }
    if (m_deps.config == nullptr || m_deps.store == nullptr || m_deps.writer == nullptr) {
      return Failed{"the poll worker needs a config and a store (run it with -c vibe.yaml)"};
    }
    const std::string source = args["source"].get<std::string>();
    if (m_deps.polls != nullptr) {
      // Under serve the coordinator owns the source's schedule.
      if (auto ok = m_deps.polls->poll_now(source); !ok) {
        return Discard{ok.error().message};
      }
      return Done{};
    }
    const core::SourceConfig* config = m_deps.config->find_source(source);
    if (config == nullptr) {
      return Discard{fmt::format("no source named '{}' in {}", source, m_deps.config->path.string())};
    }
    if (core::is_pushed_kind(config->type)) {
      return Discard{fmt::format("source '{}' is a {}: it is pushed to vibe serve, not polled", source, config->type)};
    }
    const std::string ids[] = {source};
    auto log = m_deps.logging != nullptr ? m_deps.logging->get("source." + config->type + "." + source) : context.log;
    auto report = core::poll_sources(*m_deps.config, ids, m_deps.store, m_deps.writer, core::DryRun::no, log);
    if (auto next = schedule_next(*config); !next) {
      return Failed{next.error().message};
    }
    if (!report) {
      return Failed{report.error().message};
    }
    const auto& r = report->sources.at(0);
    if (r.outcome == core::PollOutcome::failed || r.outcome == core::PollOutcome::crashed) {
      return Failed{r.error};
    }
    return Done{};
  }

  // Poll failures are the source's problem, not the job's: the next regular
  // poll is already queued.
  Backoff backoff() const override { return recurring_work_backoff(); }

  core::Millis timeout() const override { return core::Millis{120'000}; }

private:
  core::Result<void> schedule_next(const core::SourceConfig& config) {
    core::NewJob next = poll_job(config.id, core::now_micros() + std::chrono::duration_cast<std::chrono::microseconds>(
                                                                      core::poll_interval(config.options).initial())
                                                                      .count());
    auto inserted = m_deps.store->jobs().insert_jobs(std::span{&next, 1}, core::now_micros());
    if (!inserted) {
      return tl::unexpected(inserted.error());
    }
    return {};
  }

  WorkerDeps m_deps;
};

}  // namespace

std::unique_ptr<Worker> make(const WorkerDeps& deps) {
  return std::make_unique<PollWorker>(deps);
}

}  // namespace vibe::jobs::poll

namespace vibe::jobs {

core::NewJob poll_job(const std::string& source_id, core::UnixMicros at) {
  core::NewJob job;
  job.worker = "poll";
  job.queue = "poll";
  job.args = nlohmann::json{{"source", source_id}}.dump();
  job.scheduled_at = at;
  job.max_attempts = 3;
  core::UniqueSpec unique;
  unique.by = {"worker", "args"};
  unique.states = {core::JobState::scheduled, core::JobState::available, core::JobState::retryable};
  job.unique = unique;
  return job;
}

}  // namespace vibe::jobs
