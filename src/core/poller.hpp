#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/event.hpp"
#include "core/source.hpp"
#include "core/store/store.hpp"

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace vibe::core {

class Store;
class BatchWriter;

// `failed`: the fetch or the document failed (network, HTTP status, parse
// error). `crashed`: the source adapter itself threw, a bug rather than a
// bad response; `vibe serve` restarts such a source with backoff.
enum class PollOutcome { ok, not_modified, deferred, failed, crashed };

std::string_view outcome_name(PollOutcome outcome);

// One HTTP request of a poll, for reports (`vibe source test`).
struct RequestReport {
  std::string url;     // display form: no secrets
  std::string method;
  long status = 0;     // 0: no response (see the poll's error)
  std::chrono::microseconds elapsed{0};
};

// What one source's poll did.
struct SourceReport {
  std::string source_id;
  PollOutcome outcome = PollOutcome::ok;
  std::size_t new_events = 0;
  std::size_t duplicates = 0;
  std::size_t skipped = 0;
  long http_status = 0;
  std::string error;                 // set when failed (or deferred: why)
  std::vector<std::string> notes;    // skipped items and warnings
  std::chrono::microseconds elapsed{0};
  std::vector<RequestReport> requests;
  UnixMicros not_before = 0;         // no poll before this (rate limit, Retry-After, Cache-Control)
  PollState next;                    // what the next poll starts from (ETag, memo: cursors, offsets)
};

struct PollReport {
  std::vector<SourceReport> sources;  // in the order asked for
  std::vector<Event> events;          // dry run only: what would be stored

  bool any_failed() const;
};

enum class DryRun { no, yes };

// Polls `source_ids` (all configured sources when empty) once, concurrently.
// With DryRun::no, `store` provides each source's conditional-GET state and
// `writer` commits each source's events together with its new state; counts
// are final only after commit. With DryRun::yes nothing is read from or
// written to the store (both may be null) and the parsed events are returned.
// A poll is every request a source asks for (pages, endpoints): any failure
// fails it all and nothing of it is stored. A source whose server asked to
// wait (Retry-After, a spent rate limit) is `deferred` until then.
// Errors: Errc::usage for an unknown source id; per-source failures are in
// the report, not an Error.
// `progress`, when set, is called on the calling thread after each fetch
// completes, with the number done and the total.
using PollProgress = std::function<void(std::size_t done, std::size_t total)>;

// Asks for a source to be polled soon, by whoever schedules polls (`vibe
// serve`'s coordinator), without overlapping a poll in flight.
class PollTrigger {
public:
  virtual ~PollTrigger() = default;
  // Errors: Errc::not_found for an unknown source. A source that is not
  // running (its streams paused or stopped, or failed) is left alone: ok.
  virtual Result<void> poll_now(const std::string& source_id) = 0;
};

// `cancel`, when set and turned true, ends fetches still running as failed
// polls whose state is not written.
Result<PollReport> poll_sources(const Config& config, std::span<const std::string> source_ids, Store* store,
                                BatchWriter* writer, DryRun dry_run, std::shared_ptr<spdlog::logger> log,
                                const PollProgress& progress = {}, const std::atomic<bool>* cancel = nullptr);

// What a pipeline's fetch brought, nothing of it written: the source's
// candidate events, each 2xx response as it came (the raw layer), and the
// source's next state, for the pipeline to store with its records in one
// transaction. The state is read from `store` under `source.id`.
struct CapturedPoll {
  SourceReport report;
  std::vector<Event> events;
  std::vector<RawRecord> raw;              // responses (HTTP kinds); empty for local kinds
  std::optional<SourceStateUpdate> state;  // unset when the poll made none (a crash before it began)
};

Result<CapturedPoll> poll_capture(const Config& config, const SourceConfig& source, Store& store,
                                  std::shared_ptr<spdlog::logger> log, const std::atomic<bool>* cancel = nullptr);

}  // namespace vibe::core
