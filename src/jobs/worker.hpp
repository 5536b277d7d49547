#pragma once

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/store/job_store.hpp"
#include "jobs/backoff.hpp"

#include <spdlog/logger.h>

#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <variant>

namespace vibe::core {
class Store;
class BatchWriter;
class PollTrigger;
}  // namespace vibe::core

namespace vibe::jobs {

// How one attempt ended, from the worker's point of view.
struct Done {};
struct Failed {
  std::string error;
};
struct Discard {  // fail for good, whatever attempts are left
  std::string error;
};
struct Snooze {  // run again later without spending an attempt
  core::Millis delay;
};
using WorkResult = std::variant<Done, Failed, Discard, Snooze>;

// What a worker gets for one attempt. `stop` is requested when the attempt
// passes its timeout or the runner shuts down; a long worker checks it.
struct JobContext {
  const core::Job& job;
  std::stop_token stop;
  core::UnixMicros deadline;  // 0: none
  std::shared_ptr<spdlog::logger> log;
};

// A kind of job. perform() runs on a runner thread, possibly concurrently
// with other jobs of the same worker, so implementations are thread-safe.
// It returns a result for expected failures; a thrown exception counts as a
// failed attempt too (the runner catches it).
class Worker {
public:
  virtual ~Worker() = default;
  virtual WorkResult perform(const JobContext& context) = 0;
  // The retry policy when a job does not set its own.
  virtual Backoff backoff() const { return {}; }
  // The attempt timeout when a job does not set its own; 0: none.
  virtual core::Millis timeout() const { return core::Millis{0}; }
};

// What workers may use: the config and the store. Either may be null when
// the runner has none (a worker that needs one fails its job).
struct WorkerDeps {
  const core::Config* config = nullptr;
  core::Store* store = nullptr;
  core::BatchWriter* writer = nullptr;
  const core::Logging* logging = nullptr;
  // Under `vibe serve`: who schedules polls. The poll worker then asks it
  // for a poll instead of polling itself, so polls never overlap.
  core::PollTrigger* polls = nullptr;
};

using WorkerFactory = std::unique_ptr<Worker> (*)(const WorkerDeps& deps);

struct WorkerKind {
  const char* name;
  const char* summary;
  WorkerFactory make;
};

// The one list of workers (src/jobs/workers.cpp).
std::span<const WorkerKind> worker_kinds();
const WorkerKind* find_worker_kind(std::string_view name);

}  // namespace vibe::jobs
