#include "core/store/sqlite_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <mutex>

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
};

Error storage_error(std::string_view what, const std::exception& e) {
  return Error{Errc::storage, fmt::format("store: {}: {}", what, e.what())};
}

class SqliteStore final : public Store {
public:
  explicit SqliteStore(const fs::path& path)
      : m_db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX, 5000) {
    m_db.exec("PRAGMA journal_mode=WAL");
    m_db.exec("PRAGMA synchronous=NORMAL");
    m_db.exec("PRAGMA foreign_keys=ON");
    // PERF-NOTES.md: random dedup keys scatter index writes; a larger WAL
    // between checkpoints and a bigger cache roughly double insert rates.
    m_db.exec("PRAGMA wal_autocheckpoint=10000");
    m_db.exec("PRAGMA cache_size=-65536");
    migrate();
    m_insert_event = std::make_unique<SQLite::Statement>(
        m_db,
        "INSERT INTO events (stream_id, source_id, type, occurred_at, ingested_at, content, url, dedup_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, dedup_key) DO NOTHING");
    m_upsert_state = std::make_unique<SQLite::Statement>(
        m_db,
        "INSERT INTO poll_state (source_id, etag, last_modified, last_poll_at, last_success_at, last_error, "
        "consecutive_failures, retry_not_before, last_skipped, last_notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (source_id) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, "
        "last_poll_at = excluded.last_poll_at, last_success_at = excluded.last_success_at, "
        "last_error = excluded.last_error, consecutive_failures = excluded.consecutive_failures, "
        "retry_not_before = excluded.retry_not_before, last_skipped = excluded.last_skipped, "
        "last_notes = excluded.last_notes");
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
          "INSERT INTO streams (id, title, created_at, updated_at) VALUES (?, ?, ?, ?) "
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
        for (const auto& event : request.events) {
          SQLite::Statement& insert = *m_insert_event;
          insert.bind(1, event.stream_id);
          insert.bind(2, event.source_id);
          insert.bind(3, event.type);
          insert.bind(4, static_cast<std::int64_t>(event.occurred_at));
          insert.bind(5, static_cast<std::int64_t>(now));
          insert.bind(6, event.content);
          insert.bind(7, event.url);
          insert.bind(8, event.dedup_key);
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
                              "consecutive_failures, retry_not_before FROM poll_state WHERE source_id = ?"};
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
      }
      return state;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("read poll state", e));
    }
  }

  Result<std::vector<Event>> events(const EventQuery& q) override {
    std::lock_guard lock{m_mutex};
    try {
      std::string sql =
          "SELECT id, stream_id, source_id, type, occurred_at, ingested_at, content, url, dedup_key FROM events "
          "WHERE 1 = 1";
      sql += where_clause(q);
      sql += " ORDER BY occurred_at DESC, id DESC LIMIT ?";
      SQLite::Statement query{m_db, sql};
      int index = bind_where(query, q);
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
        out.push_back(std::move(event));
      }
      return out;
    } catch (const std::exception& e) {
      return tl::unexpected(storage_error("query events", e));
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

private:
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
    upsert.exec();
    upsert.reset();
  }

  static std::string where_clause(const EventQuery& q) {
    std::string sql;
    if (!q.stream_id.empty()) {
      sql += " AND source_id IN (SELECT source_id FROM stream_sources WHERE stream_id = ?)";
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
    return sql;
  }

  // Binds the parameters where_clause() added, from `index`; returns the next index.
  static int bind_where(SQLite::Statement& statement, const EventQuery& q, int index = 1) {
    if (!q.stream_id.empty()) {
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
    return index;
  }

  std::mutex m_mutex;
  SQLite::Database m_db;
  std::unique_ptr<SQLite::Statement> m_insert_event;  // guarded by m_mutex
  std::unique_ptr<SQLite::Statement> m_upsert_state;  // guarded by m_mutex
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const fs::path& path) {
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
