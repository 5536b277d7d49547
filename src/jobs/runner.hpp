#pragma once

#include "core/metrics.hpp"
#include "core/store/job_store.hpp"
#include "jobs/worker.hpp"

#include "core/metrics.hpp"

#include <spdlog/logger.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>
#include <string>
#include <unordered_map>

namespace vibe::jobs {

class Scheduler;

enum class Drain { no, yes };

struct RunnerOptions {
  std::map<std::string, std::size_t> queues{{"default", 5}};  // queue -> concurrency
  Drain drain = Drain::no;
  core::Millis poll_interval{50};     // how often to look for due jobs when nothing wakes the runner
  core::Millis heartbeat{1000};       // node heartbeat and rescue check
  core::Millis stale_after{30'000};   // a node on another host is dead after this long without a heartbeat
  std::size_t claim_batch = 1000;     // most jobs claimed per queue per round
  core::Millis prune_after{7 * 24 * 3'600'000};  // finished jobs older than this are deleted; 0: never
  core::Millis prune_every{600'000};             // how often to prune (at start, then every 10 min)
};

struct RunSummary {
  std::size_t completed = 0;
  std::size_t retryable = 0;  // failed with attempts left
  std::size_t discarded = 0;
  std::size_t snoozed = 0;
  std::size_t rescued = 0;    // jobs of dead nodes returned to the queue at start
  std::size_t pruned = 0;     // finished jobs deleted for age
};

// Executes jobs. One thread (the caller of run()) talks to the store: it
// heartbeats, rescues the jobs of dead nodes, inserts due cron fires, claims
// due jobs in batches for every queue with free slots, and records the
// outcomes workers produced since the last round, all in a few transactions
// per round. Per queue, `concurrency` threads execute claimed jobs. A job past
// its timeout is failed at once and its worker is asked to stop; its thread
// slot stays taken until the worker returns, so concurrency is never exceeded.
inline constexpr double k_run_second_bounds[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};

class Runner {
public:
  Runner(core::JobStore& store, WorkerDeps deps, RunnerOptions options, std::shared_ptr<spdlog::logger> log);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Cron entries to insert as their times come (optional; not owned).
  void set_scheduler(Scheduler* scheduler) { m_scheduler = scheduler; }

  // Runs until stop() is called or, with Drain::yes, until no job is due or
  // executing. Jobs still executing at stop() finish before run() returns;
  // every outcome is recorded. Errors: a store failure that persists.
  core::Result<RunSummary> run();

  // Asks run() to return. Thread-safe.
  void stop();
  // After stop(), when running jobs may not finish: asks each to stop (its
  // stop_token) and returns it to the queue, attempt uncounted, instead of
  // recording what it returns. Thread-safe.
  void abandon();
  // Tells the runner a job was inserted, so it claims now instead of at
  // its next poll. Thread-safe.
  void notify();

  const std::string& node_id() const { return m_node.id; }

  // How long finished attempts ran (seconds), for /metrics. Thread-safe.
  core::Histogram run_seconds();

private:
  struct QueueState;
  struct InFlight;

  void worker_loop(QueueState& queue, std::stop_token stop);
  // Records a result and frees the slot (unless `timed_out`: the attempt
  // failed but the worker still runs). Returns whether the store thread
  // should be woken. REQUIRES: m_mutex is held.
  bool finish_locked(QueueState& queue, const core::Job& job, const WorkResult& result, bool timed_out);
  core::JobOutcome outcome_of(const core::Job& job, const WorkResult& result, core::UnixMicros now);
  core::Result<void> heartbeat_and_rescue(core::UnixMicros now, RunSummary& summary);
  core::Result<void> flush(RunSummary& summary, std::vector<std::int64_t>& failed_ids);
  std::vector<core::JobOutcome> take_outcomes();
  void put_back(std::vector<core::JobOutcome>& outcomes);
  static void count(const std::vector<core::JobOutcome>& outcomes, RunSummary& summary,
                    std::vector<std::int64_t>& failed_ids);
  void expire_timeouts(core::UnixMicros now);

  core::JobStore& m_store;
  WorkerDeps m_deps;
  RunnerOptions m_options;
  std::shared_ptr<spdlog::logger> m_log;
  Scheduler* m_scheduler = nullptr;
  core::NodeInfo m_node;

  std::mutex m_mutex;                        // guards everything below
  std::condition_variable m_wake;            // the store thread: outcomes, free slots, notify, stop
  std::vector<core::JobOutcome> m_outcomes;
  core::Histogram m_run_seconds{k_run_second_bounds};
  std::vector<std::int64_t> m_abandoned;     // jobs to release, see abandon()
  std::unordered_map<std::int64_t, std::shared_ptr<InFlight>> m_in_flight;
  std::map<std::string, std::unique_ptr<QueueState>> m_queues;
  std::map<std::string, std::unique_ptr<Worker>> m_workers;
  bool m_stopping = false;
  bool m_notified = false;
  bool m_wanted = false;  // a worker asked for a round: many free slots, or a queue ran dry
};

// One attempt run by run_jobs_now(): the job as claimed (attempt counted) and its result.
struct JobRun {
  core::Job job;
  WorkResult result;
};

// Claims the jobs `ids` (those still waiting), runs one attempt of each in
// turn on this thread, and records the outcomes as the runner would (a
// failure is retried after its backoff by whoever runs the queue next). For
// work that must happen now, in the foreground: `vibe run pipeline:ID`
// delivering its run's records. Errors: the store's.
core::Result<std::vector<JobRun>> run_jobs_now(core::JobStore& store, const WorkerDeps& deps,
                                               std::span<const std::int64_t> ids,
                                               const std::shared_ptr<spdlog::logger>& log);

// Identifies this process as a node: host, pid, and the pid's start time.
core::NodeInfo this_node();

// Whether the node runs on this host and its process is gone (or its pid
// now belongs to another process). False for nodes on other hosts.
bool node_is_dead_locally(const core::NodeInfo& node);

}  // namespace vibe::jobs
