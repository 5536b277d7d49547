/* The SQLite ceiling for bench/ingest: the same rows vibe stores, inserted
 * by a minimal C program into the same table, with the same indexes, the
 * same pragmas and the same INSERT statement as vibe's store
 * (src/core/store/sqlite_store.cpp), in transactions of N rows (default
 * 1000, vibe's buffer.max_events), each BEGIN IMMEDIATE ... COMMIT like
 * vibe's batch writer. Nothing else: no JSON, no socket, no threads.
 *
 * Usage: sqlite_ceiling DB ROWS.tsv [ROWS_PER_TXN]
 *   ROWS.tsv: one row a line: dedup_key TAB type TAB occurred_at_us TAB url
 *   TAB content (content is compact JSON: no tab or newline in it).
 * All rows are read into memory first; the timed part is from the first
 * BEGIN to the last COMMIT. Prints one JSON object:
 *   {"rows":N,"inserted":N,"seconds":S,"rows_per_s":R,"cpu_user_s":U,"cpu_sys_s":Y}
 * Build: gcc -O2 -o sqlite_ceiling sqlite_ceiling.c -lsqlite3
 */
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

static void die(sqlite3 *db, const char *what) {
  fprintf(stderr, "sqlite_ceiling: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
  exit(1);
}

static void exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite_ceiling: %s: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long now_micros(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static double tv(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

struct row {
  const char *key, *type, *url, *content;
  int key_n, type_n, url_n, content_n;
  long long occurred_at;
};

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: sqlite_ceiling DB ROWS.tsv [ROWS_PER_TXN]\n");
    return 2;
  }
  const long per_txn = argc > 3 ? atol(argv[3]) : 1000;
  if (per_txn < 1) {
    fprintf(stderr, "sqlite_ceiling: ROWS_PER_TXN must be >= 1\n");
    return 2;
  }

  /* Read the whole file, split it into rows in place. */
  FILE *f = fopen(argv[2], "rb");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)size + 1);
  if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "sqlite_ceiling: cannot read %s\n", argv[2]);
    return 1;
  }
  fclose(f);
  buf[size] = '\0';
  size_t cap = 1 << 16, n = 0;
  struct row *rows = malloc(cap * sizeof *rows);
  for (char *p = buf; p < buf + size;) {
    char *end = memchr(p, '\n', (size_t)(buf + size - p));
    if (!end) end = buf + size;
    char *field[5];
    int nf = 0;
    field[nf++] = p;
    for (char *q = p; q < end && nf < 5; ++q) {
      if (*q == '\t') {
        *q = '\0';
        field[nf++] = q + 1;
      }
    }
    if (nf != 5) {
      fprintf(stderr, "sqlite_ceiling: line %zu: expected 5 tab-separated fields\n", n + 1);
      return 1;
    }
    *end = '\0';
    if (n == cap) {
      cap *= 2;
      rows = realloc(rows, cap * sizeof *rows);
    }
    rows[n].key = field[0];
    rows[n].key_n = (int)strlen(field[0]);
    rows[n].type = field[1];
    rows[n].type_n = (int)strlen(field[1]);
    rows[n].occurred_at = atoll(field[2]);
    rows[n].url = field[3];
    rows[n].url_n = (int)strlen(field[3]);
    rows[n].content = field[4];
    rows[n].content_n = (int)(end - field[4]);
    ++n;
    p = end + 1;
  }

  sqlite3 *db = NULL;
  if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
      SQLITE_OK)
    die(db, "open");
  sqlite3_busy_timeout(db, 5000);
  /* vibe's pragmas, in vibe's order (SqliteStore's constructor). */
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA synchronous=NORMAL");
  exec(db, "PRAGMA foreign_keys=ON");
  exec(db, "PRAGMA wal_autocheckpoint=10000");
  exec(db, "PRAGMA cache_size=-16384");
  exec(db, "PRAGMA temp_store=MEMORY");
  /* vibe's events table and its indexes (migrations 1 and 4). */
  exec(db,
       "CREATE TABLE events (\n"
       "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
       "  stream_id TEXT NOT NULL DEFAULT '',\n"
       "  source_id TEXT NOT NULL,\n"
       "  type TEXT NOT NULL,\n"
       "  occurred_at INTEGER NOT NULL,\n"
       "  ingested_at INTEGER NOT NULL,\n"
       "  content TEXT NOT NULL,\n"
       "  url TEXT NOT NULL DEFAULT '',\n"
       "  dedup_key TEXT NOT NULL,\n"
       "  UNIQUE (source_id, dedup_key)\n"
       ");\n"
       "CREATE INDEX events_source_occurred ON events(source_id, occurred_at);\n"
       "CREATE INDEX events_occurred ON events(occurred_at);\n"
       "CREATE INDEX events_ingested ON events(ingested_at);\n"
       "CREATE INDEX events_stream ON events(stream_id);\n");

  sqlite3_stmt *insert = NULL;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO events (stream_id, source_id, type, occurred_at, ingested_at, content, url, "
                         "dedup_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, dedup_key) DO NOTHING",
                         -1, &insert, NULL) != SQLITE_OK)
    die(db, "prepare");

  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  const double t0 = mono();
  long long inserted = 0;
  for (size_t i = 0; i < n;) {
    exec(db, "BEGIN IMMEDIATE");
    const long long now = now_micros();  /* vibe: one ingested_at per batch */
    for (long k = 0; k < per_txn && i < n; ++k, ++i) {
      const struct row *r = &rows[i];
      sqlite3_bind_text(insert, 1, "bench", 5, SQLITE_STATIC);
      sqlite3_bind_text(insert, 2, "ingest.bench", 12, SQLITE_STATIC);
      sqlite3_bind_text(insert, 3, r->type, r->type_n, SQLITE_STATIC);
      sqlite3_bind_int64(insert, 4, r->occurred_at);
      sqlite3_bind_int64(insert, 5, now);
      sqlite3_bind_text(insert, 6, r->content, r->content_n, SQLITE_STATIC);
      sqlite3_bind_text(insert, 7, r->url, r->url_n, SQLITE_STATIC);
      sqlite3_bind_text(insert, 8, r->key, r->key_n, SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) die(db, "insert");
      inserted += sqlite3_changes(db);
      sqlite3_reset(insert);
    }
    exec(db, "COMMIT");
  }
  const double seconds = mono() - t0;
  getrusage(RUSAGE_SELF, &r1);
  sqlite3_finalize(insert);

  sqlite3_stmt *count = NULL;
  long long stored = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &count, NULL) == SQLITE_OK &&
      sqlite3_step(count) == SQLITE_ROW)
    stored = sqlite3_column_int64(count, 0);
  sqlite3_finalize(count);
  if (sqlite3_close(db) != SQLITE_OK) die(db, "close");

  printf("{\"rows\":%zu,\"inserted\":%lld,\"stored\":%lld,\"per_txn\":%ld,\"seconds\":%.6f,\"rows_per_s\":%.1f,"
         "\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"sqlite\":\"%s\"}\n",
         n, inserted, stored, per_txn, seconds, (double)n / seconds, tv(r1.ru_utime) - tv(r0.ru_utime),
         tv(r1.ru_stime) - tv(r0.ru_stime), sqlite3_libversion());
  free(rows);
  free(buf);
  return 0;
}
