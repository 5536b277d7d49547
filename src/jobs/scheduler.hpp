#pragma once

#include "core/cron.hpp"
#include "core/store/job_store.hpp"

#include <spdlog/logger.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vibe::jobs {

enum class CatchUp { one, none };

struct CronEntry {
  std::string name;  // identifies the entry's fire times in the store
  core::CronSchedule schedule;
  core::NewJob job;
  CatchUp catch_up = CatchUp::one;
  // When set, the entry fires every `every` instead (at multiples of it
  // since the epoch, so every process agrees on the fire times), and its
  // first sight fires at once: a pipeline's `every:`.
  core::Millis every{0};
};

// Inserts cron jobs as their fire times come. Every fire time is recorded in
// the store under (entry name, time) with the job in the same transaction,
// so it is inserted exactly once across restarts and across processes.
//
// On each call, for each entry whose next fire time has come, it looks at
// the fire times since the last one recorded: with `catch_up: one` the
// latest of them is inserted (a runner that was down for an hour runs a
// minutely job once, not sixty times); with `none` a fire time more than a
// minute late is recorded as skipped. The first time an entry is seen, the
// latest past fire time is recorded as skipped, marking where it starts.
// Not thread-safe: called from the runner's store thread.
class Scheduler {
public:
  Scheduler(std::vector<CronEntry> entries, std::shared_ptr<spdlog::logger> log);

  core::Result<void> insert_due(core::JobStore& store, core::UnixMicros now);

private:
  std::vector<CronEntry> m_entries;
  std::map<std::string, core::UnixMicros> m_next;  // by entry name: next fire time not yet handled
  std::shared_ptr<spdlog::logger> m_log;
};

// The latest fire time at or before `now` and after `after`, if any.
std::optional<core::UnixMicros> latest_fire(const core::CronSchedule& schedule, core::UnixMicros after,
                                            core::UnixMicros now);

}  // namespace vibe::jobs
