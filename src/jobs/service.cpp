#include "jobs/service.hpp"

#include "core/pipeline/run.hpp"
#include "jobs/runner.hpp"
#include "jobs/scheduler.hpp"
#include "jobs/setup.hpp"

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace vibe::jobs {

namespace {

// Pipelines with `execution: worker`: each runs on a thread of its own,
// every `every`, with no job per run (for sub-minute intervals). Runs never
// overlap; a failed run is logged and the next comes on schedule.
class PipelineWorkers {
public:
  PipelineWorkers(const core::Config& config, core::Store& store, core::BatchWriter& writer,
                  const core::Logging& logging)
      : m_config(config), m_store(store), m_writer(writer), m_logging(logging) {}

  ~PipelineWorkers() { stop(); }

  void start() {
    for (const auto& pipeline : m_config.pipelines) {
      if (pipeline.execution == core::Execution::worker && pipeline.every.count() > 0 && pipeline.source) {
        m_threads.emplace_back([this, &pipeline] { loop(pipeline); });
      }
    }
  }

  void stop() {
    {
      std::lock_guard lock{m_mutex};
      m_stopping = true;
    }
    m_cancel = true;
    m_wake.notify_all();
    for (auto& thread : m_threads) {
      thread.join();
    }
    m_threads.clear();
  }

private:
  void loop(const core::PipelineConfig& pipeline) {
    auto log = m_logging.get("pipeline." + pipeline.id);
    core::pipeline::RunOptions options;
    options.log = log;
    options.cancel = &m_cancel;
    auto next = std::chrono::steady_clock::now();
    for (;;) {
      {
        std::unique_lock lock{m_mutex};
        if (m_wake.wait_until(lock, next, [this] { return m_stopping; })) {
          return;
        }
      }
      next += pipeline.every;
      auto report = core::pipeline::run_pipeline(m_config, pipeline, m_store, m_writer, options);
      if (!report) {
        log->error("pipeline.run pipeline={} error={}", pipeline.id, report.error().message);
      } else if (report->failed()) {
        log->warn("pipeline.run pipeline={} failed: {}", pipeline.id, report->error);
      }
      next = std::max(next, std::chrono::steady_clock::now());  // a run longer than every: no burst after it
    }
  }

  const core::Config& m_config;
  core::Store& m_store;
  core::BatchWriter& m_writer;
  const core::Logging& m_logging;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stopping = false;  // guarded by m_mutex
  std::atomic<bool> m_cancel{false};
  std::vector<std::thread> m_threads;
};

class RunnerService final : public core::JobService {
public:
  RunnerService(const core::Config& config, core::Store& store, core::BatchWriter& writer, core::PollTrigger& polls,
                const core::Logging& logging)
      : m_scheduler(cron_entries(config), logging.get("jobs.cron")),
        m_runner(store.jobs(), WorkerDeps{&config, &store, &writer, &logging, &polls}, options_of(config),
                 logging.get("jobs.runner")),
        m_log(logging.get("jobs.runner")),
        m_pipelines(config, store, writer, logging) {
    m_runner.set_scheduler(&m_scheduler);
  }

  ~RunnerService() override { stop(core::Millis{0}); }

  void start() override {
    std::packaged_task<void()> task{[this] {
      if (auto ran = m_runner.run(); !ran) {
        m_log->error("job runner stopped: {}", ran.error().message);
      }
    }};
    m_done = task.get_future();
    m_thread = std::thread{std::move(task)};
    m_pipelines.start();
  }

  void stop(core::Millis grace) override {
    if (!m_thread.joinable()) {
      return;
    }
    m_pipelines.stop();
    m_runner.stop();
    if (m_done.wait_for(grace) != std::future_status::ready) {
      m_log->warn("jobs still running after the shutdown grace period; returning them to the queue");
      m_runner.abandon();
    }
    m_thread.join();
  }

  nlohmann::json status() override { return nlohmann::json{{"node", m_runner.node_id()}}; }
  core::Histogram run_seconds() override { return m_runner.run_seconds(); }

private:
  static RunnerOptions options_of(const core::Config& config) {
    RunnerOptions options;
    options.queues = config.queues;
    return options;
  }

  Scheduler m_scheduler;
  Runner m_runner;
  std::shared_ptr<spdlog::logger> m_log;
  PipelineWorkers m_pipelines;
  std::future<void> m_done;
  std::thread m_thread;
};

}  // namespace

std::unique_ptr<core::JobService> make_job_service(const core::Config& config, core::Store& store,
                                                   core::BatchWriter& writer, core::PollTrigger& polls,
                                                   const core::Logging& logging) {
  return std::make_unique<RunnerService>(config, store, writer, polls, logging);
}

}  // namespace vibe::jobs
