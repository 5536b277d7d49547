#include "jobs/workers/builtin.hpp"

#include "core/pipeline/run.hpp"
#include "core/sink.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <stop_token>

namespace vibe::jobs {

namespace {

// A job's stop_token as the flag core's long calls watch.
class CancelFlag {
public:
  explicit CancelFlag(std::stop_token stop) : m_callback(std::move(stop), [this] { m_flag = true; }) {}
  const std::atomic<bool>* get() const { return &m_flag; }

private:
  std::atomic<bool> m_flag{false};
  std::stop_callback<std::function<void()>> m_callback;
};

std::shared_ptr<spdlog::logger> logger_of(const WorkerDeps& deps, const JobContext& context, const std::string& name) {
  return deps.logging != nullptr ? deps.logging->get(name) : context.log;
}

// One run of a pipeline ({"pipeline": ID}): what `every:` and `cron:` queue;
// with "events": [...] (events pushed to its webhook source) it maps those.
class PipelineWorker final : public Worker {
public:
  explicit PipelineWorker(const WorkerDeps& deps) : m_deps(deps) {}

  WorkResult perform(const JobContext& context) override {
    const auto args = nlohmann::json::parse(context.job.args, nullptr, false);
    if (!args.is_object() || !args.contains("pipeline") || !args["pipeline"].is_string()) {
      return Discard{"args needs \"pipeline\": a pipeline id"};
    }
    if (m_deps.config == nullptr || m_deps.store == nullptr || m_deps.writer == nullptr) {
      return Failed{"the pipeline worker needs a config and a store (run it with -c vibe.yaml)"};
    }
    const std::string id = args["pipeline"].get<std::string>();
    const core::PipelineConfig* pipeline = m_deps.config->find_pipeline(id);
    if (pipeline == nullptr) {
      return Discard{fmt::format("no pipeline named '{}' in {}", id, m_deps.config->path.string())};
    }
    CancelFlag cancel{context.stop};
    core::pipeline::RunOptions options;
    options.log = logger_of(m_deps, context, "pipeline." + id);
    options.cancel = cancel.get();
    core::Result<core::pipeline::RunReport> report = core::fail(core::Errc::usage, "");
    if (args.contains("events") && args["events"].is_array()) {
      // Events pushed to the pipeline's webhook source, queued with their commit.
      std::vector<core::Event> events;
      for (const auto& event : args["events"]) {
        events.push_back(core::event_from_json(event));
      }
      const std::string input = pipeline->source ? "webhook:" + pipeline->source->id : "webhook";
      report = core::pipeline::feed_pipeline(*m_deps.config, *pipeline, input, std::move(events), *m_deps.store,
                                             *m_deps.writer, options);
    } else {
      report = core::pipeline::run_pipeline(*m_deps.config, *pipeline, *m_deps.store, *m_deps.writer, options);
    }
    if (!report) {
      return report.error().code == core::Errc::usage ? WorkResult{Discard{report.error().message}}
                                                      : WorkResult{Failed{report.error().message}};
    }
    if (report->failed()) {
      return Failed{report->error};
    }
    return Done{};
  }

  // The next scheduled run is coming anyway.
  Backoff backoff() const override { return recurring_work_backoff(); }

  core::Millis timeout() const override { return core::Millis{300'000}; }

private:
  WorkerDeps m_deps;
};

// One delivery ({"pipeline": ID, "sink": N, "type": T, "records": [{key,
// record}]}) to one sink. The sink's options (its secret too) come from the
// config, never from the job.
class DeliverWorker final : public Worker {
public:
  explicit DeliverWorker(const WorkerDeps& deps) : m_deps(deps) {}

  WorkResult perform(const JobContext& context) override {
    const auto args = nlohmann::json::parse(context.job.args, nullptr, false);
    if (!args.is_object() || !args.contains("pipeline") || !args["pipeline"].is_string() || !args.contains("sink") ||
        !args["sink"].is_number_unsigned() || !args.contains("records") || !args["records"].is_array()) {
      return Discard{"args needs \"pipeline\": ID, \"sink\": INDEX and \"records\": [...]"};
    }
    if (m_deps.config == nullptr) {
      return Failed{"the deliver worker needs a config (run it with -c vibe.yaml)"};
    }
    const std::string id = args["pipeline"].get<std::string>();
    const core::PipelineConfig* pipeline = m_deps.config->find_pipeline(id);
    if (pipeline == nullptr) {
      return Discard{fmt::format("no pipeline named '{}' in {}", id, m_deps.config->path.string())};
    }
    const auto index = args["sink"].get<std::size_t>();
    const std::string type = args.value("type", "");
    if (index >= pipeline->sinks.size() || (!type.empty() && pipeline->sinks[index].type != type)) {
      return Discard{fmt::format("pipeline '{}' has no {} sink at sinks[{}] any more", id, type, index)};
    }
    const core::SinkConfig& sink = pipeline->sinks[index];
    const core::SinkKind* kind = core::find_sink_kind(sink.type);
    if (kind == nullptr) {
      return Discard{fmt::format("unknown sink type '{}'", sink.type)};
    }
    std::vector<core::SinkRecord> records;
    for (const auto& item : args["records"]) {
      if (!item.is_object() || !item.contains("key") || !item["key"].is_string()) {
        return Discard{"every record needs \"key\" and \"record\""};
      }
      records.push_back({item["key"].get<std::string>(), item.value("record", nlohmann::json{})});
    }
    CancelFlag cancel{context.stop};
    const core::SinkSpec spec{id, index, sink.type, sink.options, *m_deps.config};
    auto delivered = kind->deliver(spec, records, cancel.get());
    auto log = logger_of(m_deps, context, "pipeline." + id);
    if (!delivered) {
      log->info("pipeline.deliver pipeline={} sink={}[{}] records={} attempt={} error={}", id, sink.type, index,
                records.size(), context.job.attempt, delivered.error().message);
      return Failed{fmt::format("{} sink: {}", sink.type, delivered.error().message)};
    }
    log->debug("pipeline.deliver pipeline={} sink={}[{}] records={} attempt={} ok", id, sink.type, index,
               records.size(), context.job.attempt);
    return Done{};
  }

  core::Millis timeout() const override { return core::Millis{600'000}; }

private:
  WorkerDeps m_deps;
};

}  // namespace

namespace pipeline {
std::unique_ptr<Worker> make(const WorkerDeps& deps) {
  return std::make_unique<PipelineWorker>(deps);
}
}  // namespace pipeline

namespace deliver {
std::unique_ptr<Worker> make(const WorkerDeps& deps) {
  return std::make_unique<DeliverWorker>(deps);
}
}  // namespace deliver

}  // namespace vibe::jobs
