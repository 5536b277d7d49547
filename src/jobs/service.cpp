#include "jobs/service.hpp"

#include "jobs/runner.hpp"
#include "jobs/scheduler.hpp"
#include "jobs/setup.hpp"

#include <future>
#include <thread>

namespace vibe::jobs {

namespace {

class RunnerService final : public core::JobService {
public:
  RunnerService(const core::Config& config, core::Store& store, core::BatchWriter& writer, core::PollTrigger& polls,
                const core::Logging& logging)
      : m_scheduler(cron_entries(config), logging.get("jobs.cron")),
        m_runner(store.jobs(), WorkerDeps{&config, &store, &writer, &logging, &polls}, options_of(config),
                 logging.get("jobs.runner")),
        m_log(logging.get("jobs.runner")) {
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
  }

  void stop(core::Millis grace) override {
    if (!m_thread.joinable()) {
      return;
    }
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
