#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/event.hpp"
#include "core/poller.hpp"

#include <spdlog/logger.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// A pipeline run (DESIGN.md §2): the source's records -> map -> filter ->
// one transaction that appends the raw layer (what was fetched, as it came),
// stores the mapped records as events of "pipeline:<id>" (or only their keys
// with persist: false), saves the source's state, and queues a `deliver` job
// per sink and batch of new records -> broadcast (the bus, after commit) ->
// the chained pipelines, fed the new records at once.
//
// A record that fails to map is counted and the first one of a run logged
// with its error; a record the filter rejects is counted. None disappears
// silently. New means new to the store: a record is mapped on every fetch
// that brings it, stored and delivered once.
namespace vibe::core {
class Store;
class BatchWriter;
}  // namespace vibe::core

namespace vibe::core::pipeline {

struct RunReport {
  std::string pipeline_id;
  std::string input;             // "fetch", "pipeline:<id>", "webhook", "replay"
  PollOutcome fetch = PollOutcome::ok;
  std::string error;             // why the fetch (or the store) failed; "" when it did not
  std::vector<RequestReport> requests;
  std::size_t fetched = 0;       // records the source gave
  std::size_t mapped = 0;
  std::size_t map_failed = 0;
  std::size_t missing = 0;       // mapped fields whose path was absent (null), over all records
  std::size_t filtered_out = 0;
  std::size_t new_records = 0;
  std::size_t duplicates = 0;
  std::size_t raw_records = 0;   // appended to the raw layer
  std::string map_example;       // the first map failure of the run
  std::vector<std::int64_t> deliveries;  // delivery jobs queued
  std::vector<Event> records;    // the records that passed the filter (ids set when stored)
  std::vector<RunReport> downstream;     // chained pipelines this run fed

  bool failed() const { return fetch == PollOutcome::failed || fetch == PollOutcome::crashed || !error.empty(); }
};

struct RunOptions {
  bool dry_run = false;  // fetch, map, filter and report; store, queue and feed nothing
  std::shared_ptr<spdlog::logger> log;
  const std::atomic<bool>* cancel = nullptr;
};

// One run of `pipeline` from its own source (not a chained or pushed one:
// Errc::usage). Fetch failures are in the report (fetch, error), not an Error.
Result<RunReport> run_pipeline(const Config& config, const PipelineConfig& pipeline, Store& store,
                               BatchWriter& writer, const RunOptions& options);

// Records that reached `pipeline` without a fetch of its own: an upstream
// pipeline's new records, or events pushed to its webhook source. The raw
// layer keeps `inputs` as they came. `input` names where they came from.
Result<RunReport> feed_pipeline(const Config& config, const PipelineConfig& pipeline, std::string input,
                                std::vector<Event> inputs, Store& store, BatchWriter& writer, const RunOptions& options);

struct ReplayOptions {
  std::optional<UnixMicros> since;  // raw records fetched in [since, until)
  std::optional<UnixMicros> until;
  bool deliver = false;             // queue deliveries of every rebuilt record (same idempotency keys)
  std::shared_ptr<spdlog::logger> log;
};

struct ReplayReport {
  std::size_t raw_records = 0;  // read from the raw layer
  std::size_t inputs = 0;       // distinct records they held (the latest version of each)
  std::size_t mapped = 0;
  std::size_t map_failed = 0;
  std::size_t filtered_out = 0;
  std::size_t rebuilt = 0;      // mapped records written (new or replaced)
  std::size_t removed = 0;      // stored records the filter now rejects (or that fail to map), deleted
  std::size_t skipped = 0;      // raw records that no longer parse
  std::string example;          // the first map failure or unparsable raw record
  std::vector<std::int64_t> deliveries;
};

// Maps and filters the raw layer again with the current config, without
// fetching, newest raw record first so that each record counts once, in its
// latest version: it replaces the stored record with its key (the ids
// stay), records the filter now rejects are deleted, and with `deliver` every
// rebuilt record is queued for delivery again (the receivers see the same
// Idempotency-Key as before, for the same batch).
Result<ReplayReport> replay_pipeline(const Config& config, const PipelineConfig& pipeline, Store& store,
                                     BatchWriter& writer, const ReplayOptions& options);

// The last records each pipeline produced in this process, newest last, at
// most 100 per pipeline: `vibe pipeline show --recent` under serve reads it
// instead of the store. Thread-safe.
std::vector<Event> recent_records(const std::string& pipeline_id, std::size_t count);

}  // namespace vibe::core::pipeline
