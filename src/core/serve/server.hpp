#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/poller.hpp"
#include "core/store/store.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>

namespace vibe::core {

class BatchWriter;

// The job runner as `vibe serve` sees it. src/jobs implements it (core
// cannot include jobs); serve starts it, asks it for status, and stops it.
class JobService {
public:
  virtual ~JobService() = default;
  // Starts running jobs on threads of its own.
  virtual void start() = 0;
  // Stops claiming; jobs running get `grace` to finish, then are asked to
  // stop and returned to the queue, attempt uncounted. Blocks until done.
  virtual void stop(Millis grace) = 0;
  virtual nlohmann::json status() = 0;
  // How long finished job attempts ran (seconds).
  virtual Histogram run_seconds() = 0;
};

struct ServeHooks {
  // Re-reads the config file for a reload (the CLI's loader knows the job
  // workers a cron entry may name).
  std::function<Result<Config>(const std::filesystem::path&)> load_config;
  // Creates the job runner. Everything it gets outlives it.
  std::function<std::unique_ptr<JobService>(const Config& config, Store& store, BatchWriter& writer,
                                            PollTrigger& polls)>
      make_jobs;
};

// `vibe serve` (DESIGN.md §4): runs until SIGTERM or SIGINT, then drains and
// returns 0. Errors: Errc::conflict when another serve holds the data
// directory or the socket; store errors at start.
Result<int> serve(Config config, const Logging& logging, ServeHooks hooks);

}  // namespace vibe::core
