#pragma once

#include "core/error.hpp"
#include "core/event.hpp"
#include "core/source.hpp"
#include "core/store/job_store.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

// The persistent store behind an interface: SQLite today, PostgreSQL later.
// Nothing outside src/core/store/ speaks SQL.
namespace vibe::core {

struct Config;

// What a source's poll leaves behind besides its events: its new PollState,
// plus what was skipped (recorded so `vibe poll` and later `vibe status` can
// show it).
struct SourceStateUpdate {
  std::string source_id;
  PollState state;
  std::int64_t skipped = 0;
  std::vector<std::string> notes;  // skipped-item reasons and warnings of the last poll
};

// The raw ("bronze") layer of a pipeline: what one fetch brought, as it came
// (a response), or a batch of records that came without one (a local
// source's, an upstream pipeline's, a webhook's). Kept append-only and
// compressed; `vibe pipeline replay` maps it again.
struct RawRecord {
  std::int64_t id = 0;             // store-assigned
  std::string pipeline_id;
  UnixMicros fetched_at = 0;
  std::string kind = "response";   // "response" | "events" (NDJSON of events as to_json prints them)
  std::string url;                 // display form: no secrets
  std::string method;
  long status = 0;
  std::string headers = "{}";      // JSON object: the response headers of interest
  std::string request = "{}";      // JSON object: what the source needs to parse it again (tag, page, url)
  std::string body;                // uncompressed
};

struct WriteResult {
  std::size_t inserted = 0;
  std::size_t duplicates = 0;
  std::vector<std::int64_t> ids;  // one per event; 0 for a duplicate; -1 for a new key (Mode::keys_only)
  std::vector<std::int64_t> job_ids;  // of the jobs `jobs` asked for
  std::size_t forgotten = 0;          // events deleted by `forget`
};

// One producer's contribution to a group commit: its events and, optionally,
// its source's new state, stored in the same transaction. Pipelines add
// their raw records and the delivery jobs of their new records, so a crash
// never keeps records whose deliveries were not queued, or the reverse.
struct WriteRequest {
  // insert: new events stored, duplicates ignored. keys_only: only the
  // (source_id, dedup_key) pairs are remembered (a pipeline with persist:
  // false still delivers each record once). replace: an existing event with
  // the key gets the new content, type, time and url (replay).
  enum class Mode { insert, keys_only, replace };

  std::vector<Event> events;
  std::optional<SourceStateUpdate> state;
  Mode mode = Mode::insert;
  std::vector<RawRecord> raw{};
  // Pipeline id and time: its raw records fetched before it are deleted (keep:).
  std::optional<std::pair<std::string, UnixMicros>> prune_raw{};
  // Events of `forget_source` with these keys are deleted (a replay whose new
  // filter drops records the old one kept).
  std::string forget_source{};
  std::vector<std::string> forget{};
  // Called inside the transaction with this request's result: the jobs to
  // insert with it (deliveries of the new records). Must not block.
  std::function<std::vector<NewJob>(const WriteResult&)> jobs{};
  // A client waits for this write's commit before it sends more (a webhook
  // sender waiting for its 202): the writer commits it as soon as the
  // previous commit ends instead of holding it up to buffer.max_delay,
  // which would only cap such a client's rate (BatchWriter).
  bool waited_on = false;
};

// Which events a query covers. Empty `stream_id` and `source_id` mean all.
// `since`/`until` bound occurred_at (inclusive, exclusive).
struct EventQuery {
  std::string stream_id;
  std::string source_id;
  std::optional<UnixMicros> since;
  std::optional<UnixMicros> until;
  std::size_t limit = 50;
  std::string type;                          // only this event type ("" = all)
  std::int64_t after_id = 0;                 // only ids above this
  std::optional<UnixMicros> ingested_since;  // only events ingested at or after this
  bool by_id = false;                        // oldest id first (tail), instead of newest occurred_at first
  bool oldest_first = false;                 // oldest occurred_at first (then id): replay
  // With oldest_first: only events after this (occurred_at, id), for paging.
  std::optional<std::pair<UnixMicros, std::int64_t>> after_position;
};

struct TopicStats {
  std::int64_t total = 0;
  std::int64_t last_minute = 0;  // ingested in the 60 s before `now`
  std::optional<UnixMicros> last_occurred_at;
  std::optional<UnixMicros> last_ingested_at;
  std::vector<std::pair<std::string, std::int64_t>> by_source;  // largest first
};

struct CatalogSource {
  std::string id;
  std::string type;
  std::string config_json;  // display values only: never a secret
};

struct CatalogStream {
  std::string id;
  std::string title;
  std::vector<std::string> sources;
};

// What a user asked a stream to be (the store is the source of truth;
// `vibe serve` makes it so). New streams are `active`.
enum class StreamState { active, paused, stopped };

std::string_view stream_state_name(StreamState state);
std::optional<StreamState> parse_stream_state(std::string_view text);

struct StreamRecord {
  std::string id;
  std::string title;
  StreamState desired = StreamState::active;
  UnixMicros session_started_at = 0;  // start of the open session; 0 when stopped
  UnixMicros updated_at = 0;          // when the desired state last changed
  std::vector<std::string> sources;   // members, sorted
};

// Thread-safe: every method may be called from any thread; calls are
// serialized inside. All methods block on disk I/O.
class Store {
public:
  virtual ~Store() = default;

  // Records the configured streams and sources (upsert; stream membership
  // replaced), so the store can answer stream:<id> queries on its own.
  virtual Result<void> sync_catalog(std::span<const CatalogSource> sources,
                                    std::span<const CatalogStream> streams) = 0;

  // Commits all requests in one transaction. Events whose
  // (source_id, dedup_key) exists are counted as duplicates and not stored.
  // On error nothing of the batch is stored.
  virtual Result<std::vector<WriteResult>> write(std::span<const WriteRequest> batch, UnixMicros now) = 0;

  // The state of a source; a default PollState when it was never polled.
  virtual Result<PollState> poll_state(const std::string& source_id) = 0;

  // Every stream of the catalog, by id.
  virtual Result<std::vector<StreamRecord>> streams() = 0;

  // Records a stream's desired state. Starting opens a session unless one is
  // open (a paused stream resumes its session); stopping ends it.
  // Errors: Errc::not_found for a stream not in the catalog.
  virtual Result<StreamRecord> set_stream_state(const std::string& id, StreamState desired, UnixMicros now) = 0;

  // Opens a session, starting `now`, for every active stream that has none (`vibe serve` at start: streams nobody stopped begin their
  // first session when they first run).
  virtual Result<void> open_sessions(UnixMicros now) = 0;

  // Newest first by occurred_at, then id. For a stream query each event
  // carries its stream_offset_ms within the session it arrived in.
  virtual Result<std::vector<Event>> events(const EventQuery& query) = 0;

  virtual Result<TopicStats> stats(const EventQuery& query, UnixMicros now) = 0;

  // The ids of the stored events of `source_id` with these dedup keys, in
  // their order; 0 for a key not stored (to answer a redelivered webhook
  // like the first delivery).
  virtual Result<std::vector<std::int64_t>> event_ids(const std::string& source_id,
                                                      std::span<const std::string> dedup_keys) = 0;

  // Raw records of `pipeline_id`, newest (highest id) first: fetched in
  // [since, until) and with ids below `before_id` (0: no bound), at most `limit`.
  virtual Result<std::vector<RawRecord>> raw_records(const std::string& pipeline_id, std::optional<UnixMicros> since,
                                                     std::optional<UnixMicros> until, std::int64_t before_id,
                                                     std::size_t limit) = 0;

  // How many raw records `pipeline_id` keeps and their bytes (compressed, original).
  struct RawStats {
    std::int64_t count = 0;
    std::int64_t stored_bytes = 0;
    std::int64_t original_bytes = 0;
    std::optional<UnixMicros> oldest;
    std::optional<UnixMicros> newest;
  };
  virtual Result<RawStats> raw_stats(const std::string& pipeline_id) = 0;

  // From now on, WAL checkpoints run on a thread of their own (with a
  // connection of its own) instead of inside the commit that crosses the
  // checkpoint threshold, so no commit waits for one. For long-running
  // processes (vibe serve). A no-op for stores without a WAL.
  virtual Result<void> checkpoint_in_background() { return {}; }

  // The job queue in the same database, sharing this store's connection.
  virtual JobStore& jobs() = 0;
};

// Opens the store a config names, creating it and applying migrations.
Result<std::unique_ptr<Store>> open_store(const Config& config);

// open_store(), then records the config's streams and sources in the store
// (sync_catalog), so stream:<id> queries and workers see the current config.
Result<std::unique_ptr<Store>> open_store_synced(const Config& config);

// The catalog rows for a config (secrets stay out: display values only).
std::pair<std::vector<CatalogSource>, std::vector<CatalogStream>> catalog_of(const Config& config);

}  // namespace vibe::core
