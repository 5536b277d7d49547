#pragma once

#include "core/duration.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Persistence of the job queue (src/jobs/ holds the semantics that drive it:
// the runner, workers, backoff and cron). Jobs move through Oban's states:
//
//   scheduled --(time comes)--> available --(claim)--> executing
//   executing --> completed | retryable (--> available at its time) | discarded | cancelled
//   executing --(snooze)--> scheduled, without spending an attempt
//   executing --(its node died)--> available, attempt kept (rescue)
//
// claim() treats scheduled and retryable jobs whose time has come as
// available, so no separate "stage" pass is needed.
namespace vibe::core {

enum class JobState { scheduled, available, executing, retryable, completed, discarded, cancelled };

std::string_view job_state_name(JobState state);
std::optional<JobState> parse_job_state(std::string_view text);

struct Job {
  std::int64_t id = 0;
  std::string queue = "default";
  std::string worker;
  std::string args = "{}";  // a JSON object, serialized
  JobState state = JobState::available;
  int priority = 0;         // 0 highest .. 9 lowest
  int attempt = 0;          // attempts started so far
  int max_attempts = 20;
  UnixMicros inserted_at = 0;
  UnixMicros scheduled_at = 0;
  UnixMicros attempted_at = 0;  // 0 = never
  UnixMicros completed_at = 0;
  UnixMicros discarded_at = 0;
  UnixMicros cancelled_at = 0;
  std::string errors = "[]";  // JSON array of {at, attempt, error}
  std::string tags = "[]";    // JSON array of strings
  std::string meta = "{}";    // JSON object
  std::string unique_key;     // empty when not unique
  std::string attempted_by;   // node that holds or last held it
  std::int64_t timeout_ms = 0;  // 0: the worker's default
};

// Unique jobs: an insert whose key matches a job in one of `states`
// inserted within `period` returns that job instead of a new one.
struct UniqueSpec {
  Millis period{0};
  std::vector<std::string> by{"worker", "queue", "args"};  // any of worker, queue, args
  std::vector<JobState> states{JobState::scheduled, JobState::available, JobState::executing,
                               JobState::retryable, JobState::completed};
};

struct NewJob {
  std::string worker;
  std::string args = "{}";
  std::string queue = "default";
  int priority = 0;
  UnixMicros scheduled_at = 0;  // 0: now
  int max_attempts = 20;
  std::vector<std::string> tags;
  std::string meta = "{}";
  std::optional<UniqueSpec> unique;
  std::int64_t timeout_ms = 0;
};

struct Inserted {
  std::int64_t id = 0;
  bool existing = false;  // a unique collision returned an existing job
};

// How one attempt ended, as the runner records it.
struct JobOutcome {
  enum class Kind { completed, failed, discarded, snoozed, cancelled };
  std::int64_t id = 0;
  Kind kind = Kind::completed;
  std::string error;           // failed, discarded, cancelled
  UnixMicros retry_at = 0;     // failed: when to retry (ignored when attempts are exhausted); snoozed: when to run
};

struct JobFilter {
  std::optional<JobState> state;
  std::string queue;
  std::string worker;
  std::size_t limit = 50;
};

struct QueueStateCount {
  std::string queue;
  JobState state;
  std::int64_t count;
};

struct JobStats {
  std::vector<QueueStateCount> counts;
  std::optional<UnixMicros> oldest_available_scheduled_at;  // of jobs due now
};

// A process that runs jobs. `pid_start` tells a reused PID from the original.
struct NodeInfo {
  std::string id;
  std::string host;
  std::int64_t pid = 0;
  std::int64_t pid_start = 0;
};

// Thread-safe; every method is one transaction and blocks on disk I/O.
class JobStore {
public:
  virtual ~JobStore() = default;

  // Inserts all jobs in one transaction. Unique collisions (checked inside
  // the transaction, so concurrent inserts create one job) yield the
  // existing id with `existing` set.
  virtual Result<std::vector<Inserted>> insert_jobs(std::span<const NewJob> jobs, UnixMicros now) = 0;

  // Claims up to `limit` due jobs of `queue` in priority, scheduled_at, id
  // order: each becomes executing, attempt + 1, attempted_at = now, held by `node`.
  virtual Result<std::vector<Job>> claim(std::string_view queue, std::size_t limit, std::string_view node,
                                         UnixMicros now) = 0;

  // Records attempt outcomes in one transaction. A failed job with attempts
  // left becomes retryable at retry_at, else discarded; every error is
  // appended to the job's errors. Only jobs still executing are changed.
  virtual Result<void> record(std::span<const JobOutcome> outcomes, UnixMicros now) = 0;

  // record(done) and claim(queue, limit, ...) in one transaction: what a
  // runner does every round, at the cost of one commit instead of two.
  virtual Result<std::vector<Job>> exchange(std::span<const JobOutcome> done, std::string_view queue,
                                            std::size_t limit, std::string_view node, UnixMicros now) = 0;

  // Claims the jobs `ids` that are due or waiting (available, scheduled or
  // retryable, whatever their time): each becomes executing as in claim().
  // Jobs in other states are left out. For running specific jobs now
  // (`vibe run pipeline:ID` delivering what its run queued).
  virtual Result<std::vector<Job>> claim_ids(std::span<const std::int64_t> ids, std::string_view node,
                                             UnixMicros now) = 0;

  // Returns claimed jobs that never started (a runner stopping with jobs in
  // its local buffer) to available, their attempt not counted.
  virtual Result<void> release(std::span<const std::int64_t> ids) = 0;

  virtual Result<std::optional<Job>> job(std::int64_t id) = 0;
  virtual Result<std::vector<Job>> jobs(const JobFilter& filter) = 0;

  // Makes the given jobs (or, with an empty list, all jobs in `state`)
  // available now with at least one attempt left; executing jobs are left alone.
  // Returns how many changed.
  virtual Result<std::size_t> retry_jobs(std::span<const std::int64_t> ids, std::optional<JobState> state,
                                         UnixMicros now) = 0;
  // Cancels jobs that are not final yet. Executing ones are marked cancelled;
  // their runner drops the result. Returns how many changed.
  virtual Result<std::size_t> cancel_jobs(std::span<const std::int64_t> ids, UnixMicros now) = 0;

  // Deletes completed, cancelled and discarded jobs that ended before
  // `before`, at most `batch` rows per transaction until none are left.
  virtual Result<std::size_t> prune_jobs(UnixMicros before, std::size_t batch) = 0;

  virtual Result<JobStats> job_stats(UnixMicros now) = 0;

  // Registers or refreshes a running node.
  virtual Result<void> heartbeat(const NodeInfo& node, UnixMicros now) = 0;
  // Removes a node that stopped cleanly.
  virtual Result<void> remove_node(std::string_view node_id) = 0;
  virtual Result<std::vector<std::pair<NodeInfo, UnixMicros>>> nodes() = 0;  // with last heartbeat
  // Returns the executing jobs of `dead_nodes` (and of nodes that no longer
  // exist) to available, attempt kept, and forgets those nodes. Returns how
  // many jobs were rescued.
  virtual Result<std::size_t> rescue(std::span<const std::string> dead_nodes, std::string_view self) = 0;

  // Cron: records the fire time `fire_at` of entry `name` and inserts `job`
  // for it, exactly once however many processes try; returns whether this
  // call did. A null `job` records the time only (a fire that is skipped).
  virtual Result<bool> insert_cron_fire(std::string_view name, UnixMicros fire_at, const NewJob* job,
                                        UnixMicros now) = 0;
  // The latest fire time recorded for `name`.
  virtual Result<std::optional<UnixMicros>> last_cron_fire(std::string_view name) = 0;
};

}  // namespace vibe::core
