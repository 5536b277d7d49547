#include "core/store/sqlite_store.hpp"

#include "store_helpers.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace vibe::core;
using vibe::test::make_event;
using vibe::test::TempDir;

namespace {

std::unique_ptr<Store> open(const TempDir& dir) {
  auto store = open_sqlite_store(dir.path() / "sub" / "vibe.db");
  REQUIRE(store);
  return std::move(*store);
}

WriteRequest request(std::vector<Event> events) {
  return WriteRequest{std::move(events), std::nullopt};
}

}  // namespace

TEST_SUITE("core::store::sqlite") {
  TEST_CASE("pipeline writes: raw records compressed and read back, jobs in the same transaction, keys only, replace") {
    TempDir dir;
    auto store = open(dir);
    WriteRequest first = request({make_event("pipeline:p", "1"), make_event("pipeline:p", "2")});
    RawRecord raw;
    raw.pipeline_id = "p";
    raw.fetched_at = 100;
    raw.url = "http://api.example/items";
    raw.method = "GET";
    raw.status = 200;
    raw.body = std::string(10'000, 'x') + "end";  // compresses well
    first.raw.push_back(raw);
    first.jobs = [](const WriteResult& result) {
      std::vector<NewJob> jobs;
      for (const auto id : result.ids) {
        if (id != 0) {
          NewJob job;
          job.worker = "deliver";
          job.queue = "deliver";
          jobs.push_back(job);
        }
      }
      return jobs;
    };
    std::vector<WriteRequest> batch;
    batch.push_back(std::move(first));
    auto written = store->write(batch, 200);
    REQUIRE(written);
    CHECK((*written)[0].job_ids.size() == 2);
    auto stats = store->raw_stats("p");
    REQUIRE(stats);
    CHECK(stats->count == 1);
    CHECK(stats->original_bytes == 10'003);
    CHECK(stats->stored_bytes < 200);
    auto back = store->raw_records("p", std::nullopt, std::nullopt, 0, 10);
    REQUIRE(back);
    REQUIRE(back->size() == 1);
    CHECK((*back)[0].body == raw.body);
    CHECK((*back)[0].url == raw.url);
    CHECK((*back)[0].status == 200);
    CHECK(store->raw_records("p", 101, std::nullopt, 0, 10)->empty());  // fetched before the range
    CHECK(store->raw_records("p", std::nullopt, std::nullopt, (*back)[0].id, 10)->empty());  // none older

    // A duplicate queues no job.
    batch.clear();
    batch.push_back(request({make_event("pipeline:p", "2"), make_event("pipeline:p", "3")}));
    batch.back().jobs = [](const WriteResult& result) {
      NewJob job;
      job.worker = "deliver";
      job.queue = "deliver";
      const auto fresh = std::count_if(result.ids.begin(), result.ids.end(), [](auto id) { return id != 0; });
      return std::vector<NewJob>(static_cast<std::size_t>(fresh), job);
    };
    written = store->write(batch, 300);
    REQUIRE(written);
    CHECK((*written)[0].job_ids.size() == 1);
    JobFilter filter;
    filter.worker = "deliver";
    CHECK(store->jobs().jobs(filter)->size() == 3);

    // Keys only: new keys are -1 (new, not stored), a repeat is 0; no event is stored.
    batch.clear();
    batch.push_back(request({make_event("pipeline:q", "1"), make_event("pipeline:q", "1")}));
    batch.back().mode = WriteRequest::Mode::keys_only;
    written = store->write(batch, 400);
    REQUIRE(written);
    CHECK((*written)[0].ids == std::vector<std::int64_t>{-1, 0});
    EventQuery q;
    q.source_id = "pipeline:q";
    CHECK(store->stats(q, 400)->total == 0);

    // Replace keeps the id and takes the new content; forget deletes.
    q.source_id = "pipeline:p";
    auto before = store->event_ids("pipeline:p", std::vector<std::string>{"1", "2"});
    REQUIRE(before);
    Event changed = make_event("pipeline:p", "1");
    changed.content = R"({"new":true})";
    batch.clear();
    batch.push_back(request({changed}));
    batch.back().mode = WriteRequest::Mode::replace;
    batch.back().forget_source = "pipeline:p";
    batch.back().forget = {"2"};
    written = store->write(batch, 500);
    REQUIRE(written);
    CHECK((*written)[0].ids[0] == (*before)[0]);
    CHECK((*written)[0].forgotten == 1);
    auto events = store->events(q);
    REQUIRE(events);
    REQUIRE(events->size() == 2);  // 1 (replaced) and 3; 2 forgotten
    for (const auto& event : *events) {
      CHECK(event.dedup_key != "2");
      if (event.dedup_key == "1") {
        CHECK(event.content == R"({"new":true})");
      }
    }
  }

  TEST_CASE("background checkpoints keep the WAL bounded under a writer that commits back to back") {
    TempDir dir;
    auto store = open(dir);
    REQUIRE(store->checkpoint_in_background());
    const auto wal = dir.path() / "sub" / "vibe.db-wal";
    // About 8 WAL frames (4 KiB pages + 24 bytes) a commit: 10,000 commits
    // are ~80,000 frames, ~330 MB if the WAL never started over. The
    // checkpoints start it over soon after 10,000 frames (seen: at most
    // ~27,000 when the checkpoint thread is slow to get a core).
    std::uintmax_t largest = 0;
    for (int commit = 0; commit < 10'000; ++commit) {
      std::vector<Event> events;
      for (int i = 0; i < 20; ++i) {
        events.push_back(make_event("hooks", std::to_string(commit * 20 + i)));
      }
      WriteRequest write = request(std::move(events));
      REQUIRE(store->write({&write, 1}, 1'000'000 + commit));
      if (commit % 100 == 0) {
        std::error_code ec;
        largest = std::max<std::uintmax_t>(largest, std::filesystem::file_size(wal, ec));
      }
    }
    CHECK(store->stats({}, 0)->total == 200'000);
    CHECK(largest > 10'000u * 4120u);  // it did pass the threshold
    CHECK(largest < 40'000u * 4120u);
  }

  TEST_CASE("a (source, dedup_key) pair is stored once; ids are assigned and increase") {
    TempDir dir;
    auto store = open(dir);
    std::vector<WriteRequest> batch;
    batch.push_back(request({make_event("a", "1"), make_event("a", "2"), make_event("b", "1")}));
    batch.push_back(request({make_event("a", "1"), make_event("a", "3")}));
    auto results = store->write(batch, 5);
    REQUIRE(results);
    CHECK((*results)[0].inserted == 3);
    CHECK((*results)[1].inserted == 1);
    CHECK((*results)[1].duplicates == 1);
    CHECK((*results)[1].ids[0] == 0);
    CHECK((*results)[0].ids[1] > (*results)[0].ids[0]);
    CHECK((*results)[1].ids[1] > (*results)[0].ids[2]);
    auto stats = store->stats({}, 5);
    REQUIRE(stats);
    CHECK(stats->total == 4);
  }

  TEST_CASE("events come back newest first and filtered") {
    TempDir dir;
    auto store = open(dir);
    std::vector<WriteRequest> batch{request({make_event("a", "old", 100), make_event("a", "new", 300),
                                             make_event("b", "mid", 200)})};
    REQUIRE(store->write(batch, 1000));
    auto all = store->events({});
    REQUIRE(all);
    REQUIRE(all->size() == 3);
    CHECK((*all)[0].dedup_key == "new");
    CHECK((*all)[2].dedup_key == "old");
    CHECK((*all)[0].ingested_at == 1000);

    EventQuery only_a;
    only_a.source_id = "a";
    CHECK(store->events(only_a)->size() == 2);
    EventQuery window;
    window.since = 150;
    window.until = 300;
    auto windowed = store->events(window);
    REQUIRE(windowed->size() == 1);
    CHECK((*windowed)[0].dedup_key == "mid");
    EventQuery limited;
    limited.limit = 1;
    CHECK(store->events(limited)->size() == 1);
  }

  TEST_CASE("stream queries follow the catalog's membership") {
    TempDir dir;
    auto store = open(dir);
    std::vector<CatalogSource> sources{{"a", "rss", "{}"}, {"b", "rss", "{}"}};
    std::vector<CatalogStream> streams{{"s", "S", {"a"}}};
    REQUIRE(store->sync_catalog(sources, streams));
    std::vector<WriteRequest> batch{request({make_event("a", "1"), make_event("b", "1")})};
    REQUIRE(store->write(batch, 1));
    EventQuery q;
    q.stream_id = "s";
    CHECK(store->events(q)->size() == 1);
    streams[0].sources = {"a", "b"};
    REQUIRE(store->sync_catalog(sources, streams));
    CHECK(store->events(q)->size() == 2);
    auto stats = store->stats(q, 1);
    REQUIRE(stats);
    CHECK(stats->by_source.size() == 2);
  }

  TEST_CASE("stream desired state and sessions; events carry their offset in the session") {
    TempDir dir;
    auto store = open(dir);
    std::vector<CatalogSource> sources{{"a", "rss", "{}"}, {"b", "rss", "{}"}};
    std::vector<CatalogStream> streams{{"s", "S", {"a", "b"}}, {"t", "T", {"b"}}};
    REQUIRE(store->sync_catalog(sources, streams));
    auto records = store->streams();
    REQUIRE(records);
    REQUIRE(records->size() == 2);
    CHECK((*records)[0].desired == StreamState::active);  // new streams are wanted active
    CHECK((*records)[0].session_started_at == 0);         // ... but have no session until serve runs them
    CHECK((*records)[0].sources == std::vector<std::string>{"a", "b"});

    REQUIRE(store->open_sessions(1'000'000));
    records = store->streams();
    CHECK((*records)[0].session_started_at == 1'000'000);
    CHECK((*records)[1].session_started_at == 1'000'000);

    // Events arrive 2.5 s into the session; source b belongs to both streams.
    std::vector<WriteRequest> batch{request({make_event("b", "1")})};
    REQUIRE(store->write(batch, 3'500'000));
    EventQuery q;
    q.stream_id = "s";
    auto events = store->events(q);
    REQUIRE(events->size() == 1);
    REQUIRE((*events)[0].stream_offset_ms);
    CHECK(*(*events)[0].stream_offset_ms == 2'500);
    EventQuery by_source;
    by_source.source_id = "b";
    CHECK_FALSE((*store->events(by_source))[0].stream_offset_ms);

    // Pause keeps the session; stop ends it; start opens a new one.
    auto paused = store->set_stream_state("s", StreamState::paused, 5'000'000);
    REQUIRE(paused);
    CHECK(paused->desired == StreamState::paused);
    CHECK(paused->session_started_at == 1'000'000);
    auto stopped = store->set_stream_state("s", StreamState::stopped, 6'000'000);
    REQUIRE(stopped);
    CHECK(stopped->session_started_at == 0);
    auto started = store->set_stream_state("s", StreamState::active, 10'000'000);
    REQUIRE(started);
    CHECK(started->session_started_at == 10'000'000);
    std::vector<WriteRequest> later{request({make_event("a", "2")})};
    REQUIRE(store->write(later, 10'250'000));
    events = store->events(q);
    REQUIRE(events->size() == 2);
    for (const auto& e : *events) {
      REQUIRE(e.stream_offset_ms);
      CHECK(*e.stream_offset_ms == (e.source_id == "a" ? 250 : 2'500));  // each in its own session
    }
    // Stream t kept running: its session is untouched.
    CHECK((*store->streams())[1].session_started_at == 1'000'000);

    auto unknown = store->set_stream_state("nope", StreamState::active, 1);
    REQUIRE(!unknown);
    CHECK(unknown.error().code == Errc::not_found);
  }

  TEST_CASE("events by id after a given id, by type and ingest time: what tail reads") {
    TempDir dir;
    auto store = open(dir);
    std::vector<WriteRequest> first{request({make_event("a", "1"), make_event("a", "2")})};
    REQUIRE(store->write(first, 1'000));
    auto other = make_event("a", "3");
    other.type = "other_type";
    std::vector<WriteRequest> second{request({other, make_event("a", "4")})};
    REQUIRE(store->write(second, 2'000));
    EventQuery q;
    q.by_id = true;
    q.after_id = 1;
    auto events = store->events(q);
    REQUIRE(events->size() == 3);
    CHECK((*events)[0].id == 2);
    CHECK((*events)[2].id == 4);
    q.type = "feed_item";
    CHECK(store->events(q)->size() == 2);
    q.type.clear();
    q.ingested_since = 2'000;
    events = store->events(q);
    REQUIRE(events->size() == 2);
    CHECK((*events)[0].dedup_key == "3");
  }

  TEST_CASE("poll state is written with the events and read back") {
    TempDir dir;
    auto store = open(dir);
    CHECK(store->poll_state("a")->last_poll_at == 0);
    PollState state;
    state.etag = "\"abc\"";
    state.last_modified = "Tue, 10 Jun 2003 04:00:00 GMT";
    state.last_poll_at = 42;
    state.consecutive_failures = 3;
    state.retry_not_before = 99;
    std::vector<WriteRequest> batch{WriteRequest{{make_event("a", "1")}, SourceStateUpdate{"a", state, 1, {"item 2: empty"}}}};
    REQUIRE(store->write(batch, 1));
    auto read = store->poll_state("a");
    REQUIRE(read);
    CHECK(read->etag == "\"abc\"");
    CHECK(read->last_modified == state.last_modified);
    CHECK(read->last_poll_at == 42);
    CHECK(read->consecutive_failures == 3);
    CHECK(read->retry_not_before == 99);
  }

  TEST_CASE("stats count the last minute by ingest time") {
    TempDir dir;
    auto store = open(dir);
    const UnixMicros now = 1'000 * k_micros_per_second;
    std::vector<WriteRequest> old{request({make_event("a", "1", 5)})};
    REQUIRE(store->write(old, now - 120 * k_micros_per_second));
    std::vector<WriteRequest> recent{request({make_event("a", "2", 7)})};
    REQUIRE(store->write(recent, now - 10 * k_micros_per_second));
    auto stats = store->stats({}, now);
    REQUIRE(stats);
    CHECK(stats->total == 2);
    CHECK(stats->last_minute == 1);
    CHECK(*stats->last_occurred_at == 7);
  }

  TEST_CASE("reopening keeps data and does not re-run migrations") {
    TempDir dir;
    {
      auto store = open(dir);
      std::vector<WriteRequest> batch{request({make_event("a", "1")})};
      REQUIRE(store->write(batch, 1));
    }
    auto store = open(dir);
    CHECK(store->stats({}, 1)->total == 1);
  }

  TEST_CASE("a directory that cannot be created is a storage error, not a crash") {
    auto store = open_sqlite_store("/proc/vibe-no/such/dir/vibe.db");
    REQUIRE(!store);
    CHECK(store.error().code == Errc::storage);
  }
}
