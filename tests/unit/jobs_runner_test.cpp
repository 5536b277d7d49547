#include "jobs/runner.hpp"

#include "core/store/sqlite_store.hpp"
#include "store_helpers.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>

using namespace vibe;
using namespace vibe::core;
using vibe::test::TempDir;

namespace {

std::unique_ptr<Store> open(const TempDir& dir) {
  auto store = open_sqlite_store(dir.path() / "vibe.db");
  REQUIRE(store);
  return std::move(*store);
}

std::int64_t insert(JobStore& jobs, std::string args, int max_attempts = 20, std::int64_t timeout_ms = 0) {
  NewJob job;
  job.worker = "noop";
  job.args = std::move(args);
  job.max_attempts = max_attempts;
  job.timeout_ms = timeout_ms;
  auto inserted = jobs.insert_jobs(std::span{&job, 1}, now_micros());
  REQUIRE(inserted);
  return inserted->at(0).id;
}

Job get(JobStore& jobs, std::int64_t id) {
  return **jobs.job(id);
}

jobs::RunnerOptions drain(std::size_t concurrency = 4) {
  jobs::RunnerOptions options;
  options.queues = {{"default", concurrency}};
  options.drain = jobs::Drain::yes;
  return options;
}

}  // namespace

TEST_SUITE("jobs::runner") {
  TEST_CASE("drain runs every due job and records each outcome") {
    TempDir dir;
    auto store = open(dir);
    auto& q = store->jobs();
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 300; ++i) {
      ids.push_back(insert(q, "{}"));
    }
    const auto snoozer = insert(q, R"({"snooze":"1h"})");
    const auto failer = insert(q, R"({"fail":"nope"})", 1);
    const auto retrier = insert(q, R"({"fail":"later"})", 5);
    jobs::Runner runner{q, {}, drain(), vibe::test::quiet_logger()};
    auto summary = runner.run();
    REQUIRE(summary);
    CHECK(summary->completed == 300);
    CHECK(summary->snoozed == 1);
    CHECK(summary->discarded == 1);
    CHECK(summary->retryable == 1);
    for (const auto id : ids) {
      REQUIRE(get(q, id).state == JobState::completed);
    }
    CHECK(get(q, snoozer).state == JobState::scheduled);
    CHECK(get(q, snoozer).attempt == 0);
    CHECK(get(q, failer).state == JobState::discarded);
    CHECK(nlohmann::json::parse(get(q, failer).errors).at(0).at("error") == "nope");
    const Job retry = get(q, retrier);
    CHECK(retry.state == JobState::retryable);
    // Oban's backoff after attempt 1: 17 s plus up to 10%.
    const auto delay = retry.scheduled_at - retry.attempted_at;
    CHECK(delay >= 16 * k_micros_per_second);
    CHECK(delay <= 19 * k_micros_per_second);
    CHECK(q.nodes()->empty());  // the runner removed itself
  }

  TEST_CASE("a job past its timeout fails at once and its worker is asked to stop") {
    TempDir dir;
    auto store = open(dir);
    auto& q = store->jobs();
    const auto id = insert(q, R"({"sleep":"20s"})", 3, 100);
    jobs::Runner runner{q, {}, drain(), vibe::test::quiet_logger()};
    const auto started = std::chrono::steady_clock::now();
    auto summary = runner.run();
    REQUIRE(summary);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{10});
    CHECK(summary->retryable == 1);
    const Job job = get(q, id);
    CHECK(job.state == JobState::retryable);
    CHECK(nlohmann::json::parse(job.errors).at(0).at("error") == "timed out after 100ms");
  }

  TEST_CASE("the jobs of a dead node on this host are run again, with the attempt counted") {
    TempDir dir;
    auto store = open(dir);
    auto& q = store->jobs();
    NodeInfo dead = jobs::this_node();
    dead.id = "crashed";
    dead.pid = 0x3fffffff;  // no such process
    REQUIRE(q.heartbeat(dead, now_micros()));
    const auto id = insert(q, "{}");
    REQUIRE(q.claim("default", 1, "crashed", now_micros())->size() == 1);
    jobs::Runner runner{q, {}, drain(), vibe::test::quiet_logger()};
    auto summary = runner.run();
    REQUIRE(summary);
    CHECK(summary->rescued == 1);
    CHECK(summary->completed == 1);
    CHECK(get(q, id).state == JobState::completed);
    CHECK(get(q, id).attempt == 2);
  }

  TEST_CASE("a slow job of a live node is never rescued, however old its heartbeat") {
    TempDir dir;
    auto store = open(dir);
    auto& q = store->jobs();
    NodeInfo alive = jobs::this_node();  // this very process: alive
    alive.id = "slow-but-alive";
    REQUIRE(q.heartbeat(alive, now_micros() - 3600 * k_micros_per_second));
    const auto id = insert(q, "{}");
    REQUIRE(q.claim("default", 1, "slow-but-alive", now_micros())->size() == 1);
    jobs::Runner runner{q, {}, drain(), vibe::test::quiet_logger()};
    auto summary = runner.run();
    REQUIRE(summary);
    CHECK(summary->rescued == 0);
    CHECK(get(q, id).state == JobState::executing);
    CHECK(get(q, id).attempt == 1);
  }

  TEST_CASE("an unknown worker fails the attempt instead of crashing") {
    TempDir dir;
    auto store = open(dir);
    auto& q = store->jobs();
    NewJob job;
    job.worker = "from-the-future";
    job.max_attempts = 1;
    REQUIRE(q.insert_jobs(std::span{&job, 1}, now_micros()));
    jobs::Runner runner{q, {}, drain(), vibe::test::quiet_logger()};
    auto summary = runner.run();
    REQUIRE(summary);
    CHECK(summary->discarded == 1);
  }

  TEST_CASE("stop() ends a non-draining runner; notify() makes it claim without waiting") {
    TempDir dir;
    auto store = open(dir);
    auto& q = store->jobs();
    jobs::RunnerOptions options = drain();
    options.drain = jobs::Drain::no;
    options.poll_interval = Millis{60'000};  // only notify() can make it claim in time
    jobs::Runner runner{q, {}, options, vibe::test::quiet_logger()};
    Result<jobs::RunSummary> summary = fail(Errc::cancelled, "not run");
    std::thread thread{[&] { summary = runner.run(); }};
    const auto id = insert(q, "{}");
    runner.notify();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (get(q, id).state != JobState::completed && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds{5});  // poll interval of the wait
    }
    CHECK(get(q, id).state == JobState::completed);
    runner.stop();
    thread.join();
    REQUIRE(summary);
    CHECK(summary->completed == 1);
  }

  TEST_CASE("a runner prunes finished jobs older than prune_after and keeps the rest") {
    TempDir dir;
    auto store = open(dir);
    auto& q = store->jobs();
    const UnixMicros long_ago = now_micros() - 30LL * 24 * 3600 * k_micros_per_second;
    NewJob job;
    job.worker = "noop";
    REQUIRE(q.insert_jobs(std::span{&job, 1}, long_ago));
    auto claimed = q.claim("default", 1, "old-node", long_ago);
    REQUIRE(claimed->size() == 1);
    const JobOutcome done{claimed->at(0).id, JobOutcome::Kind::completed, "", 0};
    REQUIRE(q.record(std::span{&done, 1}, long_ago));
    const auto fresh = insert(q, "{}");
    jobs::RunnerOptions options = drain();
    options.prune_after = Millis{24LL * 3600 * 1000};
    jobs::Runner runner{q, {}, options, vibe::test::quiet_logger()};
    auto summary = runner.run();
    REQUIRE(summary);
    CHECK(summary->pruned == 1);
    CHECK(!*q.job(claimed->at(0).id));
    CHECK(get(q, fresh).state == JobState::completed);  // finished just now: kept
  }
}
