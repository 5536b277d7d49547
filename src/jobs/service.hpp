#pragma once

#include "core/serve/server.hpp"

#include <memory>

namespace vibe::jobs {

// The job runner and cron scheduler of `vibe serve`, as a core::JobService:
// the config's queues, its cron entries, and poll jobs handed to the serve
// coordinator (`polls`).
std::unique_ptr<core::JobService> make_job_service(const core::Config& config, core::Store& store,
                                                   core::BatchWriter& writer, core::PollTrigger& polls,
                                                   const core::Logging& logging);

}  // namespace vibe::jobs
