#include "jobs/worker.hpp"
#include "jobs/workers/builtin.hpp"

#include <algorithm>

namespace vibe::jobs {

namespace {

// The one list of workers: adding one is one file plus one row here.
const WorkerKind k_worker_kinds[] = {
    {"poll", "poll one source: args {\"source\": ID}", &poll::make},
    {"pipeline", "run one pipeline: args {\"pipeline\": ID}", &pipeline::make},
    {"deliver", "deliver records to a pipeline's sink: args {\"pipeline\": ID, \"sink\": N, \"records\": [...]}",
     &deliver::make},
    {"exec", "run a command: args {\"argv\": [...]} or {\"shell\": \"...\"}, env, cwd, timeout", &exec::make},
    {"noop", "do nothing (tests, benchmarks); args sleep, fail, discard, snooze, until_attempt", &noop::make},
};

}  // namespace

std::span<const WorkerKind> worker_kinds() {
  return k_worker_kinds;
}

const WorkerKind* find_worker_kind(std::string_view name) {
  const auto it = std::find_if(std::begin(k_worker_kinds), std::end(k_worker_kinds),
                               [&](const WorkerKind& kind) { return name == kind.name; });
  return it == std::end(k_worker_kinds) ? nullptr : &*it;
}

}  // namespace vibe::jobs
