#include "core/store/batch_writer.hpp"

#include "core/store/sqlite_store.hpp"
#include "store_helpers.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
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
  JobStore& jobs() override { std::abort(); }  // the batch writer never touches jobs
};

}  // namespace

TEST_SUITE("core::store::batch_writer") {
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
    CHECK(writer.counters().failed_batches >= 1);
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
