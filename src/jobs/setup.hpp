#pragma once

#include "core/config.hpp"
#include "core/store/store.hpp"
#include "jobs/scheduler.hpp"

#include <nlohmann/json_fwd.hpp>

#include <vector>

// Turning user input and config into jobs.
namespace vibe::jobs {

// A job from its JSON description, as `vibe jobs enqueue --batch` reads one
// per line: {"worker": W, "args": {...}, "queue", "priority" (0-9),
// "in" (duration) | "at" (RFC 3339), "max_attempts", "unique_for" (duration),
// "tags": [...], "timeout" (duration), "backoff": {"kind", "base", "max"},
// "meta": {...}}. Only "worker" is required. `now` anchors "in".
// Errors: Errc::usage naming the field.
core::Result<core::NewJob> new_job_from_json(const nlohmann::json& spec, core::UnixMicros now);

// A poll job for every configured source that has none pending, due one
// `every` after its last poll (now if never polled or overdue).
core::Result<std::size_t> seed_poll_jobs(const core::Config& config, core::Store& store, core::UnixMicros now);

// The scheduler entries of `config.cron`.
std::vector<CronEntry> cron_entries(const core::Config& config);

}  // namespace vibe::jobs
