#include "core/store/sqlite_store.hpp"

#include "core/compress.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/hash.hpp"

#include <algorithm>
#include <limits>
#include <span>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <pthread.h>

namespace vibe::core {

namespace fs = std::filesystem;

namespace {

// Versioned migrations: entry i takes the schema from user_version i to i+1.
// Append only; never edit a migration that has shipped.
constexpr const char* k_migrations[] = {
    R"sql(
CREATE TABLE streams (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL DEFAULT '',
  desired_state TEXT NOT NULL DEFAULT 'stopped',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE sources (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  config TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE stream_sources (
  stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
  source_id TEXT NOT NULL,
  PRIMARY KEY (stream_id, source_id)
);
CREATE INDEX stream_sources_source ON stream_sources(source_id);
CREATE TABLE poll_state (
  source_id TEXT PRIMARY KEY,
  etag TEXT NOT NULL DEFAULT '',
  last_modified TEXT NOT NULL DEFAULT '',
  last_poll_at INTEGER NOT NULL DEFAULT 0,
  last_success_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  retry_not_before INTEGER NOT NULL DEFAULT 0,
  last_skipped INTEGER NOT NULL DEFAULT 0,
  last_notes TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id TEXT NOT NULL DEFAULT '',
  source_id TEXT NOT NULL,
  type TEXT NOT NULL,
  occurred_at INTEGER NOT NULL,
  ingested_at INTEGER NOT NULL,
  content TEXT NOT NULL,
  url TEXT NOT NULL DEFAULT '',
  dedup_key TEXT NOT NULL,
  UNIQUE (source_id, dedup_key)
);
CREATE INDEX events_source_occurred ON events(source_id, occurred_at);
CREATE INDEX events_occurred ON events(occurred_at);
CREATE INDEX events_ingested ON events(ingested_at);
)sql",
    R"sql(
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  worker TEXT NOT NULL,
  args TEXT NOT NULL,
  state TEXT NOT NULL,
  priority INTEGER NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  inserted_at INTEGER NOT NULL,
  scheduled_at INTEGER NOT NULL,
  attempted_at INTEGER NOT NULL DEFAULT 0,
  completed_at INTEGER NOT NULL DEFAULT 0,
  discarded_at INTEGER NOT NULL DEFAULT 0,
  cancelled_at INTEGER NOT NULL DEFAULT 0,
  ended_at INTEGER NOT NULL DEFAULT 0,
  errors TEXT NOT NULL DEFAULT '[]',
  tags TEXT NOT NULL DEFAULT '[]',
  meta TEXT NOT NULL DEFAULT '{}',
  unique_key TEXT,
  attempted_by TEXT NOT NULL DEFAULT '',
  timeout_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_due ON jobs(queue, priority, scheduled_at, id) WHERE state IN ('available', 'scheduled', 'retryable');
CREATE INDEX jobs_state ON jobs(state, queue);
CREATE INDEX jobs_unique ON jobs(unique_key, inserted_at) WHERE unique_key IS NOT NULL;
CREATE INDEX jobs_executing ON jobs(attempted_by) WHERE state = 'executing';
CREATE INDEX jobs_ended ON jobs(ended_at) WHERE ended_at > 0;
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  pid_start INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);
CREATE TABLE cron_fires (
  name TEXT NOT NULL,
  fire_at INTEGER NOT NULL,
  job_id INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (name, fire_at)
);
)sql",
    // v3: stream sessions. Streams are wanted active until someone pauses or
    // stops them (nothing could set desired_state before v3).
    R"sql(
UPDATE streams SET desired_state = 'active' WHERE desired_state = 'stopped';
CREATE TABLE stream_sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX stream_sessions_stream ON stream_sessions(stream_id, started_at);
)sql",
    // v4: events ingested straight into a stream (vibe ingest) belong to it
    // by their stream_id, not by a configured source.
    R"sql(
CREATE INDEX events_stream ON events(stream_id);
)sql",
    // v5: what a source remembers beyond ETag/Last-Modified (per-endpoint
    // ETags, cursors, a followed file's offset), as JSON the source owns.
    R"sql(
ALTER TABLE poll_state ADD COLUMN memo TEXT NOT NULL DEFAULT '';
)sql",
    // v6: pipelines. The raw layer (fetched responses, compressed), and the
    // keys of records a pipeline with persist: false has seen.
    R"sql(
CREATE TABLE raw_records (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  pipeline_id TEXT NOT NULL,
  fetched_at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  url TEXT NOT NULL DEFAULT '',
  method TEXT NOT NULL DEFAULT '',
  status INTEGER NOT NULL DEFAULT 0,
  headers TEXT NOT NULL DEFAULT '{}',
  request TEXT NOT NULL DEFAULT '{}',
  encoding TEXT NOT NULL,
  size INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX raw_records_pipeline ON raw_records(pipeline_id, fetched_at);
CREATE TABLE pipeline_keys (
  source_id TEXT NOT NULL,
  dedup_key TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (source_id, dedup_key)
) WITHOUT ROWID;
)sql",
};

constexpr const char* k_job_columns =
    "id, queue, worker, args, state, priority, attempt, max_attempts, inserted_at, scheduled_at, attempted_at, "
    "completed_at, discarded_at, cancelled_at, errors, tags, meta, coalesce(unique_key, ''), attempted_by, timeout_ms";

Job read_job(SQLite::Statement& q) {
  Job job;
  job.id = q.getColumn(0).getInt64();
  job.queue = q.getColumn(1).getString();
  job.worker = q.getColumn(2).getString();
  job.args = q.getColumn(3).getString();
  job.state = parse_job_state(q.getColumn(4).getString()).value_or(JobState::available);
  job.priority = q.getColumn(5).getInt();
  job.attempt = q.getColumn(6).getInt();
  job.max_attempts = q.getColumn(7).getInt();
  job.inserted_at = q.getColumn(8).getInt64();
  job.scheduled_at = q.getColumn(9).getInt64();
  job.attempted_at = q.getColumn(10).getInt64();
  job.completed_at = q.getColumn(11).getInt64();
  job.discarded_at = q.getColumn(12).getInt64();
  job.cancelled_at = q.getColumn(13).getInt64();
  job.errors = q.getColumn(14).getString();
  job.tags = q.getColumn(15).getString();
  job.meta = q.getColumn(16).getString();
  job.unique_key = q.getColumn(17).getString();
  job.attempted_by = q.getColumn(18).getString();
  job.timeout_ms = q.getColumn(19).getInt64();
  return job;
}

// A unique job's key: a hash of the chosen fields, with args in canonical
// form (keys sorted) so {"a":1,"b":2} and {"b":2,"a":1} collide.
std::string unique_key_of(const NewJob& job) {
  nlohmann::json key = nlohmann::json::object();
  for (const auto& field : job.unique->by) {
    if (field == "worker") {
      key["worker"] = job.worker;
    } else if (field == "queue") {
      key["queue"] = job.queue;
    } else if (field == "args") {
      key["args"] = nlohmann::json::parse(job.args, nullptr, false);
    }
  }
  return sha256_hex(key.dump());
}

Error storage_error(std::string_view what, const std::exception& e) {
  return Error{Errc::storage, fmt::format("store: {}: {}", what, e.what())};
}

class SqliteStore final : public Store, public JobStore {
public:
  explicit SqliteStore(const fs::path& path)
      : m_path(path),
        // NOMUTEX: m_mutex serializes every use of the connection already;
        // SQLite's own lock would be taken again on every call (bind, step,
        // reset, column: about 15 for each event written).
        m_db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX, 5000) {
    m_db.exec("PRAGMA journal_mode=WAL");
    m_db.exec("PRAGMA synchronous=NORMAL");
    m_db.exec("PRAGMA foreign_keys=ON");
    // PERF-NOTES.md: random dedup keys scatter index writes; a larger WAL
    // between checkpoints is what helps. A bigger page cache alone does not,
    // and it is most of vibe's memory, so it stays at 16 MiB.
    m_db.exec("PRAGMA wal_autocheckpoint=10000");
    m_db.exec("PRAGMA cache_size=-16384");
    // UPDATE ... RETURNING (job claims) materializes its rows; in memory
    // that costs nothing, on disk it is a temp file per claim.
    m_db.exec("PRAGMA temp_store=MEMORY");
    migrate();
    m_insert_event = std::make_unique<SQLite::Statement>(
        m_db,
        "INSERT INTO events (stream_id, source_id, type, occurred_at, ingested_at, content, url, dedup_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, dedup_key) DO NOTHING");
    m_upsert_state = std::make_unique<SQLite::Statement>(
        m_db,
        "INSERT INTO poll_state (source_id, etag, last_modified, last_poll_at, last_success_at, last_error, "
        "consecutive_failures, retry_not_before, last_skipped, last_notes, memo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (source_id) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, "
        "last_poll_at = excluded.last_poll_at, last_success_at = excluded.last_success_at, "
        "last_error = excluded.last_error, consecutive_failures = excluded.consecutive_failures, "
        "retry_not_before = excluded.retry_not_before, last_skipped = excluded.last_skipped, "
        "last_notes = excluded.last_notes, memo = excluded.memo");
  }

  ~SqliteStore() override {
    if (m_checkpointer.joinable()) {
      {
        std::lock_guard lock{m_checkpoint_mutex};
        m_checkpoint_stop = true;
      }
      m_checkpoint_wake.notify_one();
      m_checkpointer.join();
      sqlite3_wal_hook(m_db.getHandle(), nullptr, nullptr);
    }
  }

  Result<void> checkpoint_in_background() override {
    std::lock_guard lock{m_mutex};
    if (m_checkpointer.joinable()) {
      return {};
    }
    try {
      m_checkpoint_db =
          std::make_unique<SQLite::Database>(m_path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX, 5000);
      // A connection opens the WAL on its first read; until then a
      // checkpoint through it does nothing (and reports -1 frames).
      (void)m_checkpoint_db->execAndGet("PRAGMA schema_version").getInt();
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("open a connection for checkpoints", e));
    }
    // Replaces wal_autocheckpoint: after each commit SQLite tells the hook
    // how many pages the WAL holds; past the threshold the thread checkpoints.
    sqlite3_wal_hook(m_db.getHandle(), &SqliteStore::on_wal_commit, this);
    m_checkpointer = std::thread([this] { run_checkpoints(); });
    ::pthread_setname_np(m_checkpointer.native_handle(), "vibe-checkpoint");
    return {};
  }

  Result<void> sync_catalog(std::span<const CatalogSource> sources,
                            std::span<const CatalogStream> streams) override {
    std::lock_guard lock{m_mutex};
    try {
      const UnixMicros now = now_micros();
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      SQLite::Statement upsert_source{
          m_db,
          "INSERT INTO sources (id, type, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (id) DO UPDATE SET type = excluded.type, config = excluded.config, "
          "updated_at = excluded.updated_at WHERE sources.config <> excluded.config OR sources.type <> excluded.type"};
      for (const auto& source : sources) {
        upsert_source.bind(1, source.id);
        upsert_source.bind(2, source.type);
        upsert_source.bind(3, source.config_json);
        upsert_source.bind(4, static_cast<std::int64_t>(now));
        upsert_source.bind(5, static_cast<std::int64_t>(now));
        upsert_source.exec();
        upsert_source.reset();
      }
      SQLite::Statement upsert_stream{
          m_db,
          "INSERT INTO streams (id, title, desired_state, created_at, updated_at) VALUES (?, ?, 'active', ?, ?) "
          "ON CONFLICT (id) DO UPDATE SET title = excluded.title, updated_at = excluded.updated_at "
          "WHERE streams.title <> excluded.title"};
      SQLite::Statement clear_members{m_db, "DELETE FROM stream_sources WHERE stream_id = ?"};
      SQLite::Statement add_member{m_db, "INSERT OR IGNORE INTO stream_sources (stream_id, source_id) VALUES (?, ?)"};
      for (const auto& stream : streams) {
        upsert_stream.bind(1, stream.id);
        upsert_stream.bind(2, stream.title);
        upsert_stream.bind(3, static_cast<std::int64_t>(now));
        upsert_stream.bind(4, static_cast<std::int64_t>(now));
        upsert_stream.exec();
        upsert_stream.reset();
        clear_members.bind(1, stream.id);
        clear_members.exec();
        clear_members.reset();
        for (const auto& source_id : stream.sources) {
          add_member.bind(1, stream.id);
          add_member.bind(2, source_id);
          add_member.exec();
          add_member.reset();
        }
      }
      tx.commit();
      return {};
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("sync catalog", e));
    }
  }

  Result<std::vector<WriteResult>> write(std::span<const WriteRequest> batch, UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    std::vector<WriteResult> results;
    results.reserve(batch.size());
    std::size_t total = 0;
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      for (const auto& request : batch) {
        WriteResult result;
        result.ids.reserve(request.events.size());
        if (request.mode != WriteRequest::Mode::insert) {
          write_pipeline_events(request, now, result);
        }
        const std::span<const Event> inserts =
            request.mode == WriteRequest::Mode::insert ? std::span<const Event>{request.events} : std::span<const Event>{};
        for (const auto& event : inserts) {
          SQLite::Statement& insert = *m_insert_event;
          bind_event(insert, event, now);
          const int changed = insert.exec();
          insert.reset();
          if (changed == 1) {
            ++result.inserted;
            result.ids.push_back(m_db.getLastInsertRowid());
          } else {
            ++result.duplicates;
            result.ids.push_back(0);
          }
        }
        total += request.events.size();
        if (request.state) {
          write_state(*request.state);
        }
        result.forgotten = write_pipeline_extras(request, now);
        if (request.jobs) {
          for (const auto& job : request.jobs(result)) {
            result.job_ids.push_back(insert_job(job, now).id);
          }
        }
        results.push_back(std::move(result));
      }
      tx.commit();
      return results;
    } catch (const std::exception& e) {
      // The transaction rolled back in its destructor: nothing of the batch is stored.
      m_insert_event->reset();
      m_upsert_state->reset();
      return tl::unexpected(storage_error(fmt::format("write {} events", total), e));
    }
  }

  Result<PollState> poll_state(const std::string& source_id) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Statement query{m_db,
                              "SELECT etag, last_modified, last_poll_at, last_success_at, last_error, "
                              "consecutive_failures, retry_not_before, memo FROM poll_state WHERE source_id = ?"};
      query.bind(1, source_id);
      PollState state;
      if (query.executeStep()) {
        state.etag = query.getColumn(0).getString();
        state.last_modified = query.getColumn(1).getString();
        state.last_poll_at = query.getColumn(2).getInt64();
        state.last_success_at = query.getColumn(3).getInt64();
        state.last_error = query.getColumn(4).getString();
        state.consecutive_failures = query.getColumn(5).getInt64();
        state.retry_not_before = query.getColumn(6).getInt64();
        state.memo = query.getColumn(7).getString();
      }
      return state;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("read poll state", e));
    }
  }

  Result<std::vector<StreamRecord>> streams() override {
    std::lock_guard lock{m_mutex};
    try {
      return read_streams("");
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("read streams", e));
    }
  }

  Result<StreamRecord> set_stream_state(const std::string& id, StreamState desired, UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      SQLite::Statement update{m_db, "UPDATE streams SET desired_state = ?, updated_at = ? WHERE id = ?"};
      update.bind(1, std::string{stream_state_name(desired)});
      update.bind(2, static_cast<std::int64_t>(now));
      update.bind(3, id);
      if (update.exec() == 0) {
        return fail(Errc::not_found, fmt::format("no stream named '{}'", id));
      }
      open_or_close_session(id, desired, now);
      tx.commit();
      auto records = read_streams(id);
      return records.at(0);
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("set stream state", e));
    }
  }

  Result<void> open_sessions(UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      m_db.exec(fmt::format(
          "INSERT INTO stream_sessions (stream_id, started_at) SELECT id, {} FROM streams s "
          "WHERE desired_state = 'active' AND NOT EXISTS "
          "(SELECT 1 FROM stream_sessions x WHERE x.stream_id = s.id AND x.ended_at = 0)",
          now));
      tx.commit();
      return {};
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("open stream sessions", e));
    }
  }

  Result<std::vector<Event>> events(const EventQuery& q) override {
    std::lock_guard lock{m_mutex};
    try {
      // For a stream: the offset of each event from the start of the session
      // it arrived in (DESIGN.md: time-synchronized streams).
      std::string sql =
          q.stream_id.empty()
              ? "SELECT id, stream_id, source_id, type, occurred_at, ingested_at, content, url, dedup_key, NULL "
                "FROM events WHERE 1 = 1"
              : "SELECT id, stream_id, source_id, type, occurred_at, ingested_at, content, url, dedup_key, "
                "(SELECT (events.ingested_at - ss.started_at) / 1000 FROM stream_sessions ss WHERE ss.stream_id = ? "
                "AND ss.started_at <= events.ingested_at AND (ss.ended_at = 0 OR events.ingested_at < ss.ended_at) "
                "ORDER BY ss.started_at DESC LIMIT 1) FROM events WHERE 1 = 1";
      sql += where_clause(q);
      sql += q.by_id          ? " ORDER BY id ASC LIMIT ?"
             : q.oldest_first ? " ORDER BY occurred_at ASC, id ASC LIMIT ?"
                              : " ORDER BY occurred_at DESC, id DESC LIMIT ?";
      SQLite::Statement query{m_db, sql};
      int index = 1;
      if (!q.stream_id.empty()) {
        query.bind(index++, q.stream_id);
      }
      index = bind_where(query, q, index);
      query.bind(index, static_cast<std::int64_t>(q.limit));
      std::vector<Event> out;
      while (query.executeStep()) {
        Event event;
        event.id = query.getColumn(0).getInt64();
        event.stream_id = query.getColumn(1).getString();
        event.source_id = query.getColumn(2).getString();
        event.type = query.getColumn(3).getString();
        event.occurred_at = query.getColumn(4).getInt64();
        event.ingested_at = query.getColumn(5).getInt64();
        event.content = query.getColumn(6).getString();
        event.url = query.getColumn(7).getString();
        event.dedup_key = query.getColumn(8).getString();
        if (!query.getColumn(9).isNull()) {
          event.stream_offset_ms = query.getColumn(9).getInt64();
        }
        out.push_back(std::move(event));
      }
      return out;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("query events", e));
    }
  }

  Result<std::vector<std::int64_t>> event_ids(const std::string& source_id,
                                              std::span<const std::string> dedup_keys) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Statement q{m_db, "SELECT id FROM events WHERE source_id = ? AND dedup_key = ?"};
      std::vector<std::int64_t> ids;
      ids.reserve(dedup_keys.size());
      for (const auto& key : dedup_keys) {
        q.bind(1, source_id);
        q.bind(2, key);
        ids.push_back(q.executeStep() ? q.getColumn(0).getInt64() : 0);
        q.reset();
      }
      return ids;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("look up event ids", e));
    }
  }

  Result<std::vector<RawRecord>> raw_records(const std::string& pipeline_id, std::optional<UnixMicros> since,
                                             std::optional<UnixMicros> until, std::int64_t before_id,
                                             std::size_t limit) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Statement q{m_db,
                          "SELECT id, fetched_at, kind, url, method, status, headers, request, encoding, size, body "
                          "FROM raw_records WHERE pipeline_id = ? AND fetched_at >= ? AND fetched_at < ? AND id < ? "
                          "ORDER BY id DESC LIMIT ?"};
      q.bind(1, pipeline_id);
      q.bind(2, static_cast<std::int64_t>(since.value_or(std::numeric_limits<std::int64_t>::min())));
      q.bind(3, static_cast<std::int64_t>(until.value_or(std::numeric_limits<std::int64_t>::max())));
      q.bind(4, static_cast<std::int64_t>(before_id > 0 ? before_id : std::numeric_limits<std::int64_t>::max()));
      q.bind(5, static_cast<std::int64_t>(limit));
      std::vector<RawRecord> out;
      while (q.executeStep()) {
        RawRecord raw;
        raw.id = q.getColumn(0).getInt64();
        raw.pipeline_id = pipeline_id;
        raw.fetched_at = q.getColumn(1).getInt64();
        raw.kind = q.getColumn(2).getString();
        raw.url = q.getColumn(3).getString();
        raw.method = q.getColumn(4).getString();
        raw.status = static_cast<long>(q.getColumn(5).getInt64());
        raw.headers = q.getColumn(6).getString();
        raw.request = q.getColumn(7).getString();
        const std::string encoding = q.getColumn(8).getString();
        const auto size = static_cast<std::size_t>(q.getColumn(9).getInt64());
        const SQLite::Column body = q.getColumn(10);
        const std::string_view stored{static_cast<const char*>(body.getBlob()), static_cast<std::size_t>(body.getBytes())};
        if (encoding == "deflate") {
          auto inflated = inflate_text(stored, size);
          if (!inflated) {
            return fail(Errc::storage, fmt::format("raw record {} of pipeline {}: {}", raw.id, pipeline_id,
                                                   inflated.error().message));
          }
          raw.body = std::move(*inflated);
        } else {
          raw.body = std::string{stored};
        }
        out.push_back(std::move(raw));
      }
      return out;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("read raw records", e));
    }
  }

  Result<RawStats> raw_stats(const std::string& pipeline_id) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Statement q{m_db, "SELECT count(*), coalesce(sum(length(body)), 0), coalesce(sum(size), 0), "
                                "min(fetched_at), max(fetched_at) FROM raw_records WHERE pipeline_id = ?"};
      q.bind(1, pipeline_id);
      RawStats stats;
      if (q.executeStep()) {
        stats.count = q.getColumn(0).getInt64();
        stats.stored_bytes = q.getColumn(1).getInt64();
        stats.original_bytes = q.getColumn(2).getInt64();
        if (!q.getColumn(3).isNull()) {
          stats.oldest = q.getColumn(3).getInt64();
          stats.newest = q.getColumn(4).getInt64();
        }
      }
      return stats;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("read raw record stats", e));
    }
  }

  Result<TopicStats> stats(const EventQuery& q, UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      TopicStats stats;
      const std::string where = where_clause(q);
      SQLite::Statement totals{m_db,
                               "SELECT count(*), coalesce(sum(ingested_at >= ?), 0), max(occurred_at), "
                               "max(ingested_at) FROM events WHERE 1 = 1" + where};
      totals.bind(1, static_cast<std::int64_t>(now - 60 * k_micros_per_second));
      bind_where(totals, q, 2);
      if (totals.executeStep()) {
        stats.total = totals.getColumn(0).getInt64();
        stats.last_minute = totals.getColumn(1).getInt64();
        if (!totals.getColumn(2).isNull()) {
          stats.last_occurred_at = totals.getColumn(2).getInt64();
          stats.last_ingested_at = totals.getColumn(3).getInt64();
        }
      }
      SQLite::Statement by_source{m_db, "SELECT source_id, count(*) AS n FROM events WHERE 1 = 1" + where +
                                            " GROUP BY source_id ORDER BY n DESC, source_id"};
      bind_where(by_source, q);
      while (by_source.executeStep()) {
        stats.by_source.emplace_back(by_source.getColumn(0).getString(), by_source.getColumn(1).getInt64());
      }
      return stats;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("compute stats", e));
    }
  }

  JobStore& jobs() override { return *this; }

  Result<std::vector<Inserted>> insert_jobs(std::span<const NewJob> jobs, UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      std::vector<Inserted> out;
      out.reserve(jobs.size());
      for (const auto& job : jobs) {
        out.push_back(insert_job(job, now));
      }
      tx.commit();
      return out;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error(fmt::format("insert {} jobs", jobs.size()), e));
    }
  }

  Result<std::vector<Job>> claim(std::string_view queue, std::size_t limit, std::string_view node,
                                 UnixMicros now) override {
    return exchange({}, queue, limit, node, now);
  }

  Result<std::vector<Job>> claim_ids(std::span<const std::int64_t> ids, std::string_view node,
                                     UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      SQLite::Statement q{m_db, std::string{"UPDATE jobs SET state = 'executing', attempt = attempt + 1, "
                                            "attempted_at = ?1, attempted_by = ?2 WHERE id = ?3 AND state IN "
                                            "('available', 'scheduled', 'retryable') RETURNING "} +
                                    k_job_columns};
      std::vector<Job> claimed;
      for (const auto id : ids) {
        q.bind(1, static_cast<std::int64_t>(now));
        q.bind(2, std::string{node});
        q.bind(3, static_cast<std::int64_t>(id));
        while (q.executeStep()) {
          claimed.push_back(read_job(q));
        }
        q.reset();
      }
      tx.commit();
      return claimed;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("claim jobs by id", e));
    }
  }

  Result<void> record(std::span<const JobOutcome> outcomes, UnixMicros now) override {
    auto claimed = exchange(outcomes, {}, 0, {}, now);
    if (!claimed) {
      return tl::unexpected(claimed.error());
    }
    return {};
  }

  Result<std::vector<Job>> exchange(std::span<const JobOutcome> done, std::string_view queue, std::size_t limit,
                                    std::string_view node, UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      record_locked(done, now);
      std::vector<Job> claimed;
      if (limit > 0) {
        claimed = claim_locked(queue, limit, node, now);
      }
      tx.commit();
      // RETURNING gives no order; hand jobs out as the queue orders them.
      std::sort(claimed.begin(), claimed.end(), [](const Job& a, const Job& b) {
        return std::tie(a.priority, a.scheduled_at, a.id) < std::tie(b.priority, b.scheduled_at, b.id);
      });
      return claimed;
    } catch (const std::exception& e) {
      if (m_claim) {
        m_claim->reset();
      }
      if (m_record) {
        m_record->reset();
      }
      return tl::unexpected(
          storage_error(fmt::format("record {} job outcomes and claim from '{}'", done.size(), queue), e));
    }
  }

  Result<void> release(std::span<const std::int64_t> ids) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      SQLite::Statement q{m_db,
                          "UPDATE jobs SET state = 'available', attempt = attempt - 1, attempted_by = '' "
                          "WHERE id = ? AND state = 'executing'"};
      for (const auto id : ids) {
        q.bind(1, static_cast<std::int64_t>(id));
        q.exec();
        q.reset();
      }
      tx.commit();
      return {};
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("release jobs", e));
    }
  }

  Result<std::optional<Job>> job(std::int64_t id) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Statement q{m_db, std::string{"SELECT "} + k_job_columns + " FROM jobs WHERE id = ?"};
      q.bind(1, static_cast<std::int64_t>(id));
      if (q.executeStep()) {
        return std::optional<Job>{read_job(q)};
      }
      return std::optional<Job>{};
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("read job", e));
    }
  }

  Result<std::vector<Job>> jobs(const JobFilter& filter) override {
    std::lock_guard lock{m_mutex};
    try {
      std::string sql = std::string{"SELECT "} + k_job_columns + " FROM jobs WHERE 1 = 1";
      if (filter.state) {
        sql += " AND state = ?";
      }
      if (!filter.queue.empty()) {
        sql += " AND queue = ?";
      }
      if (!filter.worker.empty()) {
        sql += " AND worker = ?";
      }
      sql += " ORDER BY id DESC LIMIT ?";
      SQLite::Statement q{m_db, sql};
      int index = 1;
      if (filter.state) {
        q.bind(index++, std::string{job_state_name(*filter.state)});
      }
      if (!filter.queue.empty()) {
        q.bind(index++, filter.queue);
      }
      if (!filter.worker.empty()) {
        q.bind(index++, filter.worker);
      }
      q.bind(index, static_cast<std::int64_t>(filter.limit));
      std::vector<Job> out;
      while (q.executeStep()) {
        out.push_back(read_job(q));
      }
      return out;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("list jobs", e));
    }
  }

  Result<std::size_t> retry_jobs(std::span<const std::int64_t> ids, std::optional<JobState> state,
                                 UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      const char* k_set =
          "UPDATE jobs SET state = 'available', scheduled_at = ?1, max_attempts = max(max_attempts, attempt + 1), "
          "completed_at = 0, discarded_at = 0, cancelled_at = 0, ended_at = 0 WHERE state <> 'executing' AND ";
      std::size_t changed = 0;
      if (ids.empty() && state) {
        SQLite::Statement q{m_db, std::string{k_set} + "state = ?2"};
        q.bind(1, static_cast<std::int64_t>(now));
        q.bind(2, std::string{job_state_name(*state)});
        changed = static_cast<std::size_t>(q.exec());
      } else {
        SQLite::Statement q{m_db, std::string{k_set} + "id = ?2"};
        changed = exec_per_id(q, ids, now);
      }
      tx.commit();
      return changed;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("retry jobs", e));
    }
  }

  Result<std::size_t> cancel_jobs(std::span<const std::int64_t> ids, UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      SQLite::Statement q{m_db,
                          "UPDATE jobs SET state = 'cancelled', cancelled_at = ?1, ended_at = ?1 WHERE id = ?2 AND "
                          "state NOT IN ('completed', 'discarded', 'cancelled')"};
      const std::size_t changed = exec_per_id(q, ids, now);
      tx.commit();
      return changed;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("cancel jobs", e));
    }
  }

  Result<std::size_t> prune_jobs(UnixMicros before, std::size_t batch) override {
    std::size_t total = 0;
    for (;;) {
      std::lock_guard lock{m_mutex};
      try {
        // Bounded batches keep each write transaction short, so a prune of
        // millions of rows never blocks the writer for long.
        SQLite::Statement q{m_db,
                            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE ended_at > 0 AND ended_at < ? "
                            "AND state IN ('completed', 'cancelled', 'discarded') LIMIT ?)"};
        q.bind(1, static_cast<std::int64_t>(before));
        q.bind(2, static_cast<std::int64_t>(batch));
        const auto deleted = static_cast<std::size_t>(q.exec());
        total += deleted;
        if (deleted < batch) {
          SQLite::Statement fires{m_db,
                                  "DELETE FROM cron_fires WHERE fire_at < ? AND fire_at NOT IN "
                                  "(SELECT max(fire_at) FROM cron_fires GROUP BY name)"};
          fires.bind(1, static_cast<std::int64_t>(before));
          fires.exec();
          return total;
        }
      } catch (const std::exception& e) {
        return tl::unexpected(storage_error("prune jobs", e));
      }
    }
  }

  Result<JobStats> job_stats(UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      JobStats stats;
      SQLite::Statement q{m_db, "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state ORDER BY queue, state"};
      while (q.executeStep()) {
        stats.counts.push_back({q.getColumn(0).getString(),
                                parse_job_state(q.getColumn(1).getString()).value_or(JobState::available),
                                q.getColumn(2).getInt64()});
      }
      SQLite::Statement oldest{m_db,
                               "SELECT min(scheduled_at) FROM jobs WHERE state IN ('available', 'scheduled', "
                               "'retryable') AND scheduled_at <= ?"};
      oldest.bind(1, static_cast<std::int64_t>(now));
      if (oldest.executeStep() && !oldest.getColumn(0).isNull()) {
        stats.oldest_available_scheduled_at = oldest.getColumn(0).getInt64();
      }
      return stats;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("job stats", e));
    }
  }

  Result<void> heartbeat(const NodeInfo& node, UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Statement q{m_db,
                          "INSERT INTO nodes (id, host, pid, pid_start, started_at, heartbeat_at) VALUES "
                          "(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"};
      q.bind(1, node.id);
      q.bind(2, node.host);
      q.bind(3, static_cast<std::int64_t>(node.pid));
      q.bind(4, static_cast<std::int64_t>(node.pid_start));
      q.bind(5, static_cast<std::int64_t>(now));
      q.exec();
      return {};
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("heartbeat", e));
    }
  }

  Result<void> remove_node(std::string_view node_id) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Statement q{m_db, "DELETE FROM nodes WHERE id = ?"};
      q.bind(1, std::string{node_id});
      q.exec();
      return {};
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("remove node", e));
    }
  }

  Result<std::vector<std::pair<NodeInfo, UnixMicros>>> nodes() override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Statement q{m_db, "SELECT id, host, pid, pid_start, heartbeat_at FROM nodes ORDER BY id"};
      std::vector<std::pair<NodeInfo, UnixMicros>> out;
      while (q.executeStep()) {
        out.push_back({NodeInfo{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64(),
                                q.getColumn(3).getInt64()},
                       q.getColumn(4).getInt64()});
      }
      return out;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("list nodes", e));
    }
  }

  Result<std::size_t> rescue(std::span<const std::string> dead_nodes, std::string_view self) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      SQLite::Statement forget{m_db, "DELETE FROM nodes WHERE id = ? AND id <> ?"};
      for (const auto& node : dead_nodes) {
        forget.bind(1, node);
        forget.bind(2, std::string{self});
        forget.exec();
        forget.reset();
      }
      // Jobs held by a node that is gone go back to the queue with the
      // attempt counted; one that used its last attempt is discarded.
      SQLite::Statement q{m_db, R"sql(
UPDATE jobs SET
  state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'available' END,
  discarded_at = CASE WHEN attempt >= max_attempts THEN ?1 ELSE discarded_at END,
  ended_at = CASE WHEN attempt >= max_attempts THEN ?1 ELSE 0 END,
  errors = json_insert(errors, '$[#]', json_object('at', ?2, 'attempt', attempt,
                                                   'error', 'rescued: node ' || attempted_by || ' stopped')),
  attempted_by = ''
WHERE state = 'executing' AND attempted_by <> ?3 AND attempted_by NOT IN (SELECT id FROM nodes)
)sql"};
      const UnixMicros now = now_micros();
      q.bind(1, static_cast<std::int64_t>(now));
      q.bind(2, format_rfc3339(now));
      q.bind(3, std::string{self});
      const auto rescued = static_cast<std::size_t>(q.exec());
      tx.commit();
      return rescued;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("rescue jobs", e));
    }
  }

  Result<bool> insert_cron_fire(std::string_view name, UnixMicros fire_at, const NewJob* job,
                                UnixMicros now) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      SQLite::Statement mark{m_db, "INSERT INTO cron_fires (name, fire_at) VALUES (?, ?) ON CONFLICT DO NOTHING"};
      mark.bind(1, std::string{name});
      mark.bind(2, static_cast<std::int64_t>(fire_at));
      if (mark.exec() == 0) {
        return false;  // another process (or an earlier run) inserted this fire time
      }
      if (job == nullptr) {
        tx.commit();
        return true;
      }
      const Inserted inserted = insert_job(*job, now);
      SQLite::Statement link{m_db, "UPDATE cron_fires SET job_id = ? WHERE name = ? AND fire_at = ?"};
      link.bind(1, static_cast<std::int64_t>(inserted.id));
      link.bind(2, std::string{name});
      link.bind(3, static_cast<std::int64_t>(fire_at));
      link.exec();
      tx.commit();
      return true;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("insert cron fire", e));
    }
  }

  Result<std::optional<UnixMicros>> last_cron_fire(std::string_view name) override {
    std::lock_guard lock{m_mutex};
    try {
      SQLite::Statement q{m_db, "SELECT max(fire_at) FROM cron_fires WHERE name = ?"};
      q.bind(1, std::string{name});
      if (q.executeStep() && !q.getColumn(0).isNull()) {
        return std::optional<UnixMicros>{q.getColumn(0).getInt64()};
      }
      return std::optional<UnixMicros>{};
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("read cron fires", e));
    }
  }

private:
  // Binds an event to "INSERT INTO events (stream_id, source_id, type,
  // occurred_at, ingested_at, content, url, dedup_key) VALUES (?, ... ?)".
  static void bind_event(SQLite::Statement& q, const Event& event, UnixMicros now) {
    q.bind(1, event.stream_id);
    q.bind(2, event.source_id);
    q.bind(3, event.type);
    q.bind(4, static_cast<std::int64_t>(event.occurred_at));
    q.bind(5, static_cast<std::int64_t>(now));
    q.bind(6, event.content);
    q.bind(7, event.url);
    q.bind(8, event.dedup_key);
  }

  // Mode::keys_only and Mode::replace. REQUIRES: m_mutex is held, inside a transaction.
  void write_pipeline_events(const WriteRequest& request, UnixMicros now, WriteResult& result) {
    if (request.mode == WriteRequest::Mode::keys_only) {
      SQLite::Statement q{m_db, "INSERT INTO pipeline_keys (source_id, dedup_key, seen_at) VALUES (?, ?, ?) "
                                "ON CONFLICT DO NOTHING"};
      for (const auto& event : request.events) {
        q.bind(1, event.source_id);
        q.bind(2, event.dedup_key);
        q.bind(3, static_cast<std::int64_t>(now));
        const bool fresh = q.exec() == 1;
        q.reset();
        result.ids.push_back(fresh ? -1 : 0);
        ++(fresh ? result.inserted : result.duplicates);
      }
      return;
    }
    SQLite::Statement q{m_db,
                        "INSERT INTO events (stream_id, source_id, type, occurred_at, ingested_at, content, url, "
                        "dedup_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, dedup_key) DO UPDATE SET "
                        "stream_id = excluded.stream_id, type = excluded.type, occurred_at = excluded.occurred_at, "
                        "content = excluded.content, url = excluded.url RETURNING id"};
    for (const auto& event : request.events) {
      bind_event(q, event, now);
      result.ids.push_back(q.executeStep() ? q.getColumn(0).getInt64() : 0);
      q.reset();
      ++result.inserted;
    }
  }

  // Raw records, raw pruning and forgotten events; returns how many events
  // were forgotten. REQUIRES: m_mutex is held, inside a transaction.
  std::size_t write_pipeline_extras(const WriteRequest& request, UnixMicros now) {
    std::size_t forgotten = 0;
    if (!request.raw.empty()) {
      SQLite::Statement q{m_db,
                          "INSERT INTO raw_records (pipeline_id, fetched_at, kind, url, method, status, headers, "
                          "request, encoding, size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'deflate', ?, ?)"};
      for (const auto& raw : request.raw) {
        const std::string packed = deflate_text(raw.body);
        q.bind(1, raw.pipeline_id);
        q.bind(2, static_cast<std::int64_t>(raw.fetched_at == 0 ? now : raw.fetched_at));
        q.bind(3, raw.kind);
        q.bind(4, raw.url);
        q.bind(5, raw.method);
        q.bind(6, static_cast<std::int64_t>(raw.status));
        q.bind(7, raw.headers);
        q.bind(8, raw.request);
        q.bind(9, static_cast<std::int64_t>(raw.body.size()));
        q.bind(10, packed.data(), static_cast<int>(packed.size()));
        q.exec();
        q.reset();
      }
    }
    if (request.prune_raw) {
      SQLite::Statement q{m_db, "DELETE FROM raw_records WHERE pipeline_id = ? AND fetched_at < ?"};
      q.bind(1, request.prune_raw->first);
      q.bind(2, static_cast<std::int64_t>(request.prune_raw->second));
      q.exec();
    }
    if (!request.forget.empty()) {
      SQLite::Statement q{m_db, "DELETE FROM events WHERE source_id = ? AND dedup_key = ?"};
      for (const auto& key : request.forget) {
        q.bind(1, request.forget_source);
        q.bind(2, key);
        forgotten += static_cast<std::size_t>(q.exec());
        q.reset();
      }
    }
    return forgotten;
  }

  // Runs `q` once per id with ?1 = now and ?2 = the id; returns the rows
  // changed. REQUIRES: m_mutex is held, inside a transaction.
  static std::size_t exec_per_id(SQLite::Statement& q, std::span<const std::int64_t> ids, UnixMicros now) {
    std::size_t changed = 0;
    for (const auto id : ids) {
      q.bind(1, static_cast<std::int64_t>(now));
      q.bind(2, static_cast<std::int64_t>(id));
      changed += static_cast<std::size_t>(q.exec());
      q.reset();
    }
    return changed;
  }

  // REQUIRES: m_mutex is held, inside a transaction.
  std::vector<Job> claim_locked(std::string_view queue, std::size_t limit, std::string_view node, UnixMicros now) {
    if (!m_claim) {
      m_claim = std::make_unique<SQLite::Statement>(
          m_db, std::string{"UPDATE jobs SET state = 'executing', attempt = attempt + 1, attempted_at = ?1, "
                            "attempted_by = ?2 WHERE id IN (SELECT id FROM jobs WHERE queue = ?3 AND state IN "
                            "('available', 'scheduled', 'retryable') AND scheduled_at <= ?1 "
                            "ORDER BY priority, scheduled_at, id LIMIT ?4) RETURNING "} +
                    k_job_columns);
    }
    SQLite::Statement& q = *m_claim;
    q.bind(1, static_cast<std::int64_t>(now));
    q.bind(2, std::string{node});
    q.bind(3, std::string{queue});
    q.bind(4, static_cast<std::int64_t>(limit));
    std::vector<Job> claimed;
    while (q.executeStep()) {
      claimed.push_back(read_job(q));
    }
    q.reset();
    return claimed;
  }

  // REQUIRES: m_mutex is held, inside a transaction.
  void record_locked(std::span<const JobOutcome> outcomes, UnixMicros now) {
    if (outcomes.empty()) {
      return;
    }
    if (!m_record) {
      // One statement for every kind of outcome, so a batch of mixed
      // outcomes is one prepared statement run N times.
      m_record = std::make_unique<SQLite::Statement>(m_db, R"sql(
UPDATE jobs SET
  state = CASE ?2
    WHEN 'completed' THEN 'completed'
    WHEN 'failed' THEN CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'retryable' END
    WHEN 'discarded' THEN 'discarded'
    WHEN 'snoozed' THEN 'scheduled'
    ELSE 'cancelled' END,
  scheduled_at = CASE WHEN ?2 = 'snoozed' OR (?2 = 'failed' AND attempt < max_attempts) THEN ?4 ELSE scheduled_at END,
  attempt = CASE WHEN ?2 = 'snoozed' THEN attempt - 1 ELSE attempt END,
  completed_at = CASE WHEN ?2 = 'completed' THEN ?3 ELSE completed_at END,
  discarded_at = CASE WHEN ?2 = 'discarded' OR (?2 = 'failed' AND attempt >= max_attempts) THEN ?3 ELSE discarded_at END,
  cancelled_at = CASE WHEN ?2 = 'cancelled' THEN ?3 ELSE cancelled_at END,
  ended_at = CASE WHEN ?2 IN ('completed', 'discarded', 'cancelled') OR (?2 = 'failed' AND attempt >= max_attempts)
                  THEN ?3 ELSE 0 END,
  errors = CASE WHEN ?5 IS NULL THEN errors
                ELSE json_insert(errors, '$[#]', json_object('at', ?6, 'attempt', attempt, 'error', ?5)) END
WHERE id = ?1 AND state = 'executing'
)sql");
    }
    SQLite::Statement& q = *m_record;
    const std::string at = format_rfc3339(now);
    static constexpr const char* k_kinds[] = {"completed", "failed", "discarded", "snoozed", "cancelled"};
    for (const auto& outcome : outcomes) {
      q.bind(1, static_cast<std::int64_t>(outcome.id));
      q.bind(2, k_kinds[static_cast<int>(outcome.kind)]);
      q.bind(3, static_cast<std::int64_t>(now));
      q.bind(4, static_cast<std::int64_t>(outcome.retry_at));
      if (outcome.kind == JobOutcome::Kind::completed || outcome.kind == JobOutcome::Kind::snoozed) {
        q.bind(5);
      } else {
        q.bind(5, outcome.error);
      }
      q.bind(6, at);
      q.exec();
      q.reset();
    }
  }

  // REQUIRES: m_mutex is held, inside a transaction.
  Inserted insert_job(const NewJob& job, UnixMicros now) {
    std::string unique_key;
    if (job.unique) {
      unique_key = unique_key_of(job);
      std::string sql = "SELECT id FROM jobs WHERE unique_key = ? AND inserted_at >= ? AND state IN (";
      for (std::size_t i = 0; i < job.unique->states.size(); ++i) {
        sql += i == 0 ? "?" : ", ?";
      }
      sql += ") ORDER BY id DESC LIMIT 1";
      SQLite::Statement existing{m_db, sql};
      existing.bind(1, unique_key);
      const auto period_us = std::chrono::duration_cast<std::chrono::microseconds>(job.unique->period).count();
      existing.bind(2, static_cast<std::int64_t>(job.unique->period.count() > 0 ? now - period_us : 0));
      int index = 3;
      for (const auto state : job.unique->states) {
        existing.bind(index++, std::string{job_state_name(state)});
      }
      if (existing.executeStep()) {
        return Inserted{existing.getColumn(0).getInt64(), true};
      }
    }
    if (!m_insert_job) {
      m_insert_job = std::make_unique<SQLite::Statement>(
          m_db,
          "INSERT INTO jobs (queue, worker, args, state, priority, max_attempts, inserted_at, scheduled_at, tags, meta, "
          "unique_key, timeout_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    }
    SQLite::Statement& q = *m_insert_job;
    const UnixMicros scheduled_at = job.scheduled_at == 0 ? now : job.scheduled_at;
    q.bind(1, job.queue);
    q.bind(2, job.worker);
    q.bind(3, job.args);
    q.bind(4, scheduled_at > now ? "scheduled" : "available");
    q.bind(5, job.priority);
    q.bind(6, job.max_attempts);
    q.bind(7, static_cast<std::int64_t>(now));
    q.bind(8, static_cast<std::int64_t>(scheduled_at));
    q.bind(9, nlohmann::json(job.tags).dump());
    q.bind(10, job.meta);
    if (unique_key.empty()) {
      q.bind(11);
    } else {
      q.bind(11, unique_key);
    }
    q.bind(12, static_cast<std::int64_t>(job.timeout_ms));
    try {
      q.exec();
    } catch (...) {
      q.reset();
      throw;
    }
    q.reset();
    return Inserted{m_db.getLastInsertRowid(), false};
  }

  void migrate() {
    const int version = m_db.execAndGet("PRAGMA user_version").getInt();
    constexpr int k_latest = static_cast<int>(std::size(k_migrations));
    if (version > k_latest) {
      throw std::runtime_error(fmt::format("schema version {} is newer than this vibe understands ({})", version,
                                           k_latest));
    }
    for (int v = version; v < k_latest; ++v) {
      SQLite::Transaction tx{m_db, SQLite::TransactionBehavior::IMMEDIATE};
      m_db.exec(k_migrations[v]);
      m_db.exec(fmt::format("PRAGMA user_version = {}", v + 1));
      tx.commit();
    }
  }

  // REQUIRES: m_mutex is held, inside a transaction.
  void write_state(const SourceStateUpdate& update) {
    SQLite::Statement& upsert = *m_upsert_state;
    const PollState& s = update.state;
    upsert.bind(1, update.source_id);
    upsert.bind(2, s.etag);
    upsert.bind(3, s.last_modified);
    upsert.bind(4, static_cast<std::int64_t>(s.last_poll_at));
    upsert.bind(5, static_cast<std::int64_t>(s.last_success_at));
    upsert.bind(6, s.last_error);
    upsert.bind(7, static_cast<std::int64_t>(s.consecutive_failures));
    upsert.bind(8, static_cast<std::int64_t>(s.retry_not_before));
    upsert.bind(9, static_cast<std::int64_t>(update.skipped));
    upsert.bind(10, nlohmann::json(update.notes).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    upsert.bind(11, s.memo);
    upsert.exec();
    upsert.reset();
  }

  // Opens a session when a stream starts (unless one is open: a paused
  // stream resumes its session) and closes it when the stream stops; pause
  // changes nothing. REQUIRES: m_mutex is held, in a transaction.
  void open_or_close_session(const std::string& id, StreamState desired, UnixMicros now) {
    if (desired == StreamState::paused) {
      return;
    }
    if (desired == StreamState::stopped) {
      SQLite::Statement close{m_db, "UPDATE stream_sessions SET ended_at = ? WHERE stream_id = ? AND ended_at = 0"};
      close.bind(1, static_cast<std::int64_t>(now));
      close.bind(2, id);
      close.exec();
      return;
    }
    SQLite::Statement open{m_db,
                           "INSERT INTO stream_sessions (stream_id, started_at) SELECT ?, ? WHERE NOT EXISTS "
                           "(SELECT 1 FROM stream_sessions WHERE stream_id = ? AND ended_at = 0)"};
    open.bind(1, id);
    open.bind(2, static_cast<std::int64_t>(now));
    open.bind(3, id);
    open.exec();
  }

  // All streams, or the one named `id`. REQUIRES: m_mutex is held.
  std::vector<StreamRecord> read_streams(const std::string& id) {
    std::string sql =
        "SELECT s.id, s.title, s.desired_state, s.updated_at, "
        "coalesce((SELECT max(started_at) FROM stream_sessions x WHERE x.stream_id = s.id AND x.ended_at = 0), 0), "
        "(SELECT group_concat(source_id, char(31)) FROM (SELECT source_id FROM stream_sources m "
        "WHERE m.stream_id = s.id ORDER BY source_id)) FROM streams s";
    if (!id.empty()) {
      sql += " WHERE s.id = ?";
    }
    sql += " ORDER BY s.id";
    SQLite::Statement query{m_db, sql};
    if (!id.empty()) {
      query.bind(1, id);
    }
    std::vector<StreamRecord> out;
    while (query.executeStep()) {
      StreamRecord record;
      record.id = query.getColumn(0).getString();
      record.title = query.getColumn(1).getString();
      record.desired = parse_stream_state(query.getColumn(2).getString()).value_or(StreamState::active);
      record.updated_at = query.getColumn(3).getInt64();
      record.session_started_at = query.getColumn(4).getInt64();
      const std::string members = query.getColumn(5).getString();
      for (std::size_t start = 0; !members.empty() && start <= members.size();) {
        const std::size_t end = std::min(members.find('\x1f', start), members.size());
        record.sources.push_back(members.substr(start, end - start));
        start = end + 1;
      }
      out.push_back(std::move(record));
    }
    return out;
  }

  static std::string where_clause(const EventQuery& q) {
    std::string sql;
    if (!q.stream_id.empty()) {
      sql += " AND (source_id IN (SELECT source_id FROM stream_sources WHERE stream_id = ?) OR stream_id = ?)";
    }
    if (!q.source_id.empty()) {
      sql += " AND source_id = ?";
    }
    if (q.since) {
      sql += " AND occurred_at >= ?";
    }
    if (q.until) {
      sql += " AND occurred_at < ?";
    }
    if (!q.type.empty()) {
      sql += " AND type = ?";
    }
    if (q.after_id != 0) {
      sql += " AND id > ?";
    }
    if (q.ingested_since) {
      sql += " AND ingested_at >= ?";
    }
    if (q.after_position) {
      sql += " AND (occurred_at > ? OR (occurred_at = ? AND id > ?))";
    }
    return sql;
  }

  // Binds the parameters where_clause() added, from `index`; returns the next index.
  static int bind_where(SQLite::Statement& statement, const EventQuery& q, int index = 1) {
    if (!q.stream_id.empty()) {
      statement.bind(index++, q.stream_id);
      statement.bind(index++, q.stream_id);
    }
    if (!q.source_id.empty()) {
      statement.bind(index++, q.source_id);
    }
    if (q.since) {
      statement.bind(index++, static_cast<std::int64_t>(*q.since));
    }
    if (q.until) {
      statement.bind(index++, static_cast<std::int64_t>(*q.until));
    }
    if (!q.type.empty()) {
      statement.bind(index++, q.type);
    }
    if (q.after_id != 0) {
      statement.bind(index++, q.after_id);
    }
    if (q.ingested_since) {
      statement.bind(index++, static_cast<std::int64_t>(*q.ingested_since));
    }
    if (q.after_position) {
      statement.bind(index++, static_cast<std::int64_t>(q.after_position->first));
      statement.bind(index++, static_cast<std::int64_t>(q.after_position->first));
      statement.bind(index++, q.after_position->second);
    }
    return index;
  }

  static constexpr int k_checkpoint_pages = 10'000;  // as wal_autocheckpoint was
  static constexpr int k_checkpoint_free_passes = 6;   // without holding the writer, at most
  static constexpr int k_checkpoint_held_frames = 300;  // new frames a pass found that are few enough to hold for

  // On the writer's thread, after a commit: wakes the checkpointer past the threshold.
  static int on_wal_commit(void* self, sqlite3*, const char*, int pages) {
    auto* store = static_cast<SqliteStore*>(self);
    if (pages >= k_checkpoint_pages) {
      {
        std::lock_guard lock{store->m_checkpoint_mutex};
        store->m_checkpoint_due = true;
      }
      store->m_checkpoint_wake.notify_one();
    }
    return SQLITE_OK;
  }

  void run_checkpoints() {
    std::unique_lock lock{m_checkpoint_mutex};
    for (;;) {
      m_checkpoint_wake.wait(lock, [&] { return m_checkpoint_stop || m_checkpoint_due; });
      if (m_checkpoint_stop) {
        return;
      }
      m_checkpoint_due = false;
      lock.unlock();
      // PASSIVE: copies what it can without blocking the writer or readers.
      // SQLite starts the WAL over only when a write transaction begins with
      // every frame copied, which a writer committing back to back never
      // lets happen: the file would grow without bound (and every page
      // lookup with it). So: passes without blocking anyone while each
      // finds many new frames (what the writer appended during the last),
      // then one with the writer held between two transactions, which copies
      // the few that are left. The hold is then short (mostly the two
      // fsyncs of a checkpoint).
      int wal_pages = 0;
      int copied = 0;
      int previous = 0;
      for (int pass = 0; pass < k_checkpoint_free_passes; ++pass) {
        if (sqlite3_wal_checkpoint_v2(m_checkpoint_db->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_pages,
                                      &copied) != SQLITE_OK ||
            wal_pages < 0 || (pass > 0 && wal_pages - previous <= k_checkpoint_held_frames)) {
          break;
        }
        previous = wal_pages;
      }
      if (wal_pages >= 0) {
        std::lock_guard hold{m_mutex};
        (void)sqlite3_wal_checkpoint_v2(m_checkpoint_db->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_pages,
                                        &copied);
      }
      lock.lock();
      m_checkpoint_due = false;  // commits during the passes asked again; the next one past the threshold will
    }
  }

  fs::path m_path;
  std::mutex m_mutex;
  SQLite::Database m_db;
  // Background checkpoints (checkpoint_in_background()).
  std::unique_ptr<SQLite::Database> m_checkpoint_db;  // used by m_checkpointer only
  std::mutex m_checkpoint_mutex;                       // guards the two flags
  std::condition_variable m_checkpoint_wake;
  bool m_checkpoint_due = false;
  bool m_checkpoint_stop = false;
  std::thread m_checkpointer;
  std::unique_ptr<SQLite::Statement> m_insert_event;  // guarded by m_mutex
  std::unique_ptr<SQLite::Statement> m_upsert_state;  // guarded by m_mutex
  std::unique_ptr<SQLite::Statement> m_insert_job;    // guarded by m_mutex; prepared on first use
  std::unique_ptr<SQLite::Statement> m_claim;         // guarded by m_mutex; prepared on first use
  std::unique_ptr<SQLite::Statement> m_record;        // guarded by m_mutex; prepared on first use
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const fs::path& path) {
  // Before SQLite's first use in the process: no allocation statistics (they
  // take a global mutex on every allocation, and vibe reads none of them).
  static const bool configured = [] {
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);  // SQLITE_MISUSE if SQLite already started: harmless
    return true;
  }();
  (void)configured;
  std::error_code ec;
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return fail(Errc::storage, fmt::format("store: cannot create {}: {}", path.parent_path().string(), ec.message()));
    }
  }
  try {
    return std::unique_ptr<Store>{std::make_unique<SqliteStore>(path)};
  } catch (const std::exception& e) {
    return fail(Errc::storage, fmt::format("store: cannot open {}: {}", path.string(), e.what()));
  }
}

}  // namespace vibe::core
