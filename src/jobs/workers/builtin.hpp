#pragma once

#include "jobs/worker.hpp"

#include <memory>

// Factories of the built-in workers, listed in src/jobs/workers.cpp.
namespace vibe::jobs {

namespace noop {
std::unique_ptr<Worker> make(const WorkerDeps& deps);
}
namespace exec {
std::unique_ptr<Worker> make(const WorkerDeps& deps);
}
namespace poll {
std::unique_ptr<Worker> make(const WorkerDeps& deps);
}
namespace pipeline {
std::unique_ptr<Worker> make(const WorkerDeps& deps);
}
namespace deliver {
std::unique_ptr<Worker> make(const WorkerDeps& deps);
}

}  // namespace vibe::jobs

namespace vibe::jobs {

// The poll job for a source, due at `at`: queue "poll", unique per source
// among pending jobs (scheduled, available, retryable), so inserting it
// again is harmless.
core::NewJob poll_job(const std::string& source_id, core::UnixMicros at);

}  // namespace vibe::jobs
