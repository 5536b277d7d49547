#include "core/store/batch_writer.hpp"

#include "core/store/sqlite_store.hpp"
#include "store_helpers.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

using namespace vibe::core;
using vibe::test::make_event;
using vibe::test::TempDir;

namespace {

// A store whose writes fail, counting the calls.
class FailingStore final : public Store {
public:
  std::atomic<int> writes{0};
  Result<void> sync_catalog(std::span<const CatalogSource>, std::span<const CatalogStream>) override { return {}; }
  Result<std::vector<WriteResult>> write(std::span<const WriteRequest>, UnixMicros) override {
    ++writes;
    return fail(Errc::storage, "disk on fire");
  }
  Result<PollState> poll_state(const std::string&) override { return PollState{}; }
  Result<std::vector<StreamRecord>> streams() override { return std::vector<StreamRecord>{}; }
  Result<StreamRecord> set_stream_state(const std::string&, StreamState, UnixMicros) override {
    return StreamRecord{};
  }
  Result<void> open_sessions(UnixMicros) override { return {}; }
  Result<std::vector<Event>> events(const EventQuery&) override { return std::vector<Event>{}; }
  Result<TopicStats> stats(const EventQuery&, UnixMicros) override { return TopicStats{}; }
  Result<std::vector<RawRecord>> raw_records(const std::string&, std::optional<UnixMicros>, std::optional<UnixMicros>,
                                             std::int64_t, std::size_t) override {
    return fail(Errc::storage, "disk on fire");
  }
  Result<RawStats> raw_stats(const std::string&) override { return fail(Errc::storage, "disk on fire"); }
  Result<std::vector<std::int64_t>> event_ids(const std::string&, std::span<const std::string>) override {
    return fail(Errc::storage, "disk I/O error");
  }
  JobStore& jobs() override { std::abort(); }  // the batch writer never touches jobs
};

// A real store whose first write waits until release(), recording the
// producers (source ids) of every batch, so tests control what queues up
// while a commit is in flight.
class GatedStore final : public Store {
public:
  explicit GatedStore(Store& inner) : m_inner(inner) {}

  void release() {
    {
      std::lock_guard lock{m_mutex};
      m_open = true;
    }
    m_changed.notify_all();
  }

  bool wait_until_writing() {
    std::unique_lock lock{m_mutex};
    return m_changed.wait_for(lock, std::chrono::seconds{10}, [&] { return m_writing; });
  }

  std::vector<std::vector<std::string>> batches() {
    std::lock_guard lock{m_mutex};
    return m_batches;
  }

  Result<void> sync_catalog(std::span<const CatalogSource> a, std::span<const CatalogStream> b) override {
    return m_inner.sync_catalog(a, b);
  }
  Result<std::vector<WriteResult>> write(std::span<const WriteRequest> batch, UnixMicros now) override {
    {
      std::unique_lock lock{m_mutex};
      std::vector<std::string> producers;
      for (const auto& request : batch) {
        producers.push_back(request.events.empty() ? "" : request.events.front().source_id);
      }
      m_batches.push_back(std::move(producers));
      m_writing = true;
      m_changed.notify_all();
      m_changed.wait(lock, [&] { return m_open; });
    }
    return m_inner.write(batch, now);
  }
  Result<PollState> poll_state(const std::string& id) override { return m_inner.poll_state(id); }
  Result<std::vector<StreamRecord>> streams() override { return m_inner.streams(); }
  Result<StreamRecord> set_stream_state(const std::string& id, StreamState s, UnixMicros now) override {
    return m_inner.set_stream_state(id, s, now);
  }
  Result<void> open_sessions(UnixMicros now) override { return m_inner.open_sessions(now); }
  Result<std::vector<Event>> events(const EventQuery& q) override { return m_inner.events(q); }
  Result<TopicStats> stats(const EventQuery& q, UnixMicros now) override { return m_inner.stats(q, now); }
  Result<std::vector<RawRecord>> raw_records(const std::string& pipeline, std::optional<UnixMicros> since,
                                             std::optional<UnixMicros> until, std::int64_t before,
                                             std::size_t limit) override {
    return m_inner.raw_records(pipeline, since, until, before, limit);
  }
  Result<RawStats> raw_stats(const std::string& pipeline) override { return m_inner.raw_stats(pipeline); }
  Result<std::vector<std::int64_t>> event_ids(const std::string& source, std::span<const std::string> keys) override {
    return m_inner.event_ids(source, keys);
  }
  JobStore& jobs() override { return m_inner.jobs(); }

private:
  Store& m_inner;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_open = false;
  bool m_writing = false;
  std::vector<std::vector<std::string>> m_batches;
};

WriteRequest events_of(const std::string& source, int first, int count) {
  WriteRequest request;
  for (int i = first; i < first + count; ++i) {
    request.events.push_back(make_event(source, std::to_string(i)));
  }
  return request;
}

}  // namespace

TEST_SUITE("core::store::batch_writer") {
  TEST_CASE("fairness: a flooding source delays another's events by at most one batch; batches hold max_events") {
    TempDir dir;
    auto real = open_sqlite_store(dir.path() / "vibe.db");
    REQUIRE(real);
    GatedStore store{**real};
    BatchWriter writer{store, BufferConfig{500, Millis{0}, 100'000}, vibe::test::quiet_logger()};
    auto plug = writer.submit(events_of("plug", 0, 1));
    REQUIRE(store.wait_until_writing());  // the writer is busy with the plug
    std::vector<std::future<Result<WriteResult>>> flood;
    for (int i = 0; i < 20; ++i) {
      flood.push_back(writer.submit(events_of("flood", i * 100, 100)));  // 2,000 events queued first
    }
    auto quiet = writer.submit(events_of("quiet", 0, 1));
    store.release();
    REQUIRE(quiet.get());
    for (auto& f : flood) {
      REQUIRE(f.get());
    }
    REQUIRE(plug.get());
    const auto batches = store.batches();
    REQUIRE(batches.size() >= 5);
    // Right after the plug: the quiet source's request rides in the first batch.
    const auto& second = batches[1];
    CHECK(std::find(second.begin(), second.end(), "quiet") != second.end());
    // Every batch holds at most 500 events: 1 + 4 x 100 at most with the quiet one.
    for (std::size_t i = 1; i < batches.size(); ++i) {
      const auto floods = std::count(batches[i].begin(), batches[i].end(), "flood");
      CHECK(floods <= 5);
    }
    CHECK((*real)->stats({}, 0)->total == 2002);
    const auto sizes = writer.batch_sizes();
    CHECK(sizes.count() == batches.size());
    CHECK(sizes.sum() == doctest::Approx(2002));
    CHECK(writer.commit_seconds().count() == batches.size());
  }

  TEST_CASE("a request a client waits on is committed without max_delay, with what queued before it") {
    TempDir dir;
    auto store = open_sqlite_store(dir.path() / "vibe.db");
    REQUIRE(store);
    // A delay no test run would wait out: only the waited-on request can close the batch.
    BatchWriter writer{**store, BufferConfig{1000, Millis{600'000}, 100'000}, vibe::test::quiet_logger()};
    auto background = writer.submit(events_of("poll", 0, 3));
    WriteRequest hook = events_of("hook", 0, 1);
    hook.waited_on = true;
    auto waited = writer.submit(std::move(hook));
    REQUIRE(waited.wait_for(std::chrono::seconds{30}) == std::future_status::ready);
    REQUIRE(background.wait_for(std::chrono::seconds{30}) == std::future_status::ready);
    CHECK(waited.get()->inserted == 1);
    CHECK(background.get()->inserted == 3);
    // One batch: the background request rode along.
    CHECK(writer.batch_sizes().count() == 1);
    CHECK(writer.batch_sizes().sum() == doctest::Approx(4));
    CHECK(writer.counters().pending_events == 0);
  }

  TEST_CASE("stop_delaying commits what waits out max_delay at once") {
    TempDir dir;
    auto store = open_sqlite_store(dir.path() / "vibe.db");
    REQUIRE(store);
    BatchWriter writer{**store, BufferConfig{1000, Millis{600'000}, 100'000}, vibe::test::quiet_logger()};
    auto background = writer.submit(events_of("poll", 0, 2));
    writer.stop_delaying();
    REQUIRE(background.wait_for(std::chrono::seconds{30}) == std::future_status::ready);
    CHECK(background.get()->inserted == 2);
    auto later = writer.submit(events_of("poll", 2, 1));  // and so is what comes after
    REQUIRE(later.wait_for(std::chrono::seconds{30}) == std::future_status::ready);
    CHECK(later.get()->inserted == 1);
  }

  TEST_CASE("on_commit sees each committed batch with its ids, before the producers do") {
    TempDir dir;
    auto store = open_sqlite_store(dir.path() / "vibe.db");
    REQUIRE(store);
    BatchWriter writer{**store, BufferConfig{1000, Millis{0}, 50'000}, vibe::test::quiet_logger()};
    std::mutex mutex;
    std::vector<std::int64_t> seen;  // ids of committed events, 0 for duplicates
    writer.set_on_commit([&](std::span<const WriteRequest> requests, std::span<const WriteResult> results,
                             UnixMicros ingested_at) {
      std::lock_guard lock{mutex};
      CHECK(ingested_at > 0);
      for (std::size_t r = 0; r < requests.size(); ++r) {
        REQUIRE(results[r].ids.size() == requests[r].events.size());
        seen.insert(seen.end(), results[r].ids.begin(), results[r].ids.end());
      }
    });
    REQUIRE(writer.submit(events_of("a", 0, 3)).get());
    auto again = writer.submit(events_of("a", 2, 2)).get();  // key 2 again, key 3 new
    REQUIRE(again);
    std::lock_guard lock{mutex};
    INFO(fmt::format("{}", fmt::join(seen, ",")));
    REQUIRE(seen.size() == 5);
    CHECK(std::vector<std::int64_t>(seen.begin(), seen.begin() + 4) == std::vector<std::int64_t>{1, 2, 3, 0});
    CHECK(seen[4] > 3);  // ids increase; a duplicate may use one up
  }

  TEST_CASE("try_submit refuses at once above max_pending, with the reason, and counts it") {
    TempDir dir;
    auto real = open_sqlite_store(dir.path() / "vibe.db");
    REQUIRE(real);
    GatedStore store{**real};
    BatchWriter writer{store, BufferConfig{1000, Millis{0}, 10}, vibe::test::quiet_logger()};
    auto plug = writer.try_submit(events_of("plug", 0, 1));
    REQUIRE(plug);
    REQUIRE(store.wait_until_writing());
    auto fits = writer.try_submit(events_of("a", 0, 9));  // plug (1, still pending) + 9 = 10
    REQUIRE(fits);
    auto refused = writer.try_submit(events_of("b", 0, 1));
    REQUIRE(!refused);
    CHECK(refused.error().code == Errc::unavailable);
    CHECK(refused.error().message.find("buffer.max_pending 10") != std::string::npos);
    CHECK(writer.counters().rejected == 1);
    CHECK(writer.counters().pending_events == 10);
    store.release();
    REQUIRE(plug->get());
    REQUIRE(fits->get());
    CHECK((*real)->stats({}, 0)->total == 10);
    auto later = writer.try_submit(events_of("b", 0, 1));  // room again
    REQUIRE(later);
    REQUIRE(later->get());
  }

  TEST_CASE("many producers: every request completes and requests share commits") {
    TempDir dir;
    auto store = open_sqlite_store(dir.path() / "vibe.db");
    REQUIRE(store);
    BatchWriter writer{**store, BufferConfig{1000, Millis{20}, 50'000}, vibe::test::quiet_logger()};
    constexpr int k_threads = 4;
    constexpr int k_per_thread = 200;
    std::vector<std::thread> producers;
    std::atomic<int> inserted{0};
    for (int t = 0; t < k_threads; ++t) {
      producers.emplace_back([&, t] {
        std::vector<std::future<Result<WriteResult>>> futures;
        for (int i = 0; i < k_per_thread; ++i) {
          futures.push_back(writer.submit(WriteRequest{{make_event("s" + std::to_string(t), std::to_string(i))}, {}}));
        }
        for (auto& f : futures) {
          auto r = f.get();
          if (r) {
            inserted += static_cast<int>(r->inserted);
          }
        }
      });
    }
    for (auto& p : producers) {
      p.join();
    }
    CHECK(inserted == k_threads * k_per_thread);
    const auto counters = writer.counters();
    CHECK(counters.events == k_threads * k_per_thread);
    CHECK(counters.batches < static_cast<std::uint64_t>(k_threads * k_per_thread));
    CHECK((*store)->stats({}, 0)->total == k_threads * k_per_thread);
  }

  TEST_CASE("a failed commit fails every waiter in the batch") {
    FailingStore store;
    BatchWriter writer{store, BufferConfig{1000, Millis{50}, 50'000}, vibe::test::quiet_logger()};
    auto a = writer.submit(WriteRequest{{make_event("a", "1")}, {}});
    auto b = writer.submit(WriteRequest{{make_event("a", "2")}, {}});
    auto ra = a.get();
    auto rb = b.get();
    REQUIRE(!ra);
    REQUIRE(!rb);
    CHECK(ra.error().message == "disk on fire");
    const auto counters = writer.counters();
    CHECK(counters.failed_batches >= 1);
    CHECK(counters.degraded);
    CHECK(counters.last_error == "disk on fire");
    CHECK(counters.events == 0);
  }

  TEST_CASE("back-pressure: producers beyond max_pending wait instead of queueing without bound") {
    TempDir dir;
    auto store = open_sqlite_store(dir.path() / "vibe.db");
    REQUIRE(store);
    BatchWriter writer{**store, BufferConfig{10, Millis{1}, 10}, vibe::test::quiet_logger()};
    std::vector<std::future<Result<WriteResult>>> futures;
    for (int i = 0; i < 100; ++i) {
      std::vector<Event> events;
      for (int j = 0; j < 7; ++j) {
        events.push_back(make_event("a", std::to_string(i * 7 + j)));
      }
      futures.push_back(writer.submit(WriteRequest{std::move(events), {}}));
    }
    for (auto& f : futures) {
      REQUIRE(f.get());
    }
    CHECK((*store)->stats({}, 0)->total == 700);
  }

  TEST_CASE("a request larger than max_pending alone still gets written") {
    TempDir dir;
    auto store = open_sqlite_store(dir.path() / "vibe.db");
    REQUIRE(store);
    BatchWriter writer{**store, BufferConfig{10, Millis{1}, 5}, vibe::test::quiet_logger()};
    std::vector<Event> events;
    for (int j = 0; j < 50; ++j) {
      events.push_back(make_event("a", std::to_string(j)));
    }
    auto r = writer.submit(WriteRequest{std::move(events), {}}).get();
    REQUIRE(r);
    CHECK(r->inserted == 50);
  }

  TEST_CASE("stop commits what is queued and refuses what comes after") {
    TempDir dir;
    auto store = open_sqlite_store(dir.path() / "vibe.db");
    REQUIRE(store);
    BatchWriter writer{**store, BufferConfig{1000, Millis{10'000}, 50'000}, vibe::test::quiet_logger()};
    auto queued = writer.submit(WriteRequest{{make_event("a", "1")}, {}});
    writer.stop();
    REQUIRE(queued.get());
    auto late = writer.submit(WriteRequest{{make_event("a", "2")}, {}}).get();
    REQUIRE(!late);
    CHECK(late.error().code == Errc::cancelled);
    CHECK((*store)->stats({}, 0)->total == 1);
  }
}
