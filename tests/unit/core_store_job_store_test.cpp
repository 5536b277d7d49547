#include "core/store/sqlite_store.hpp"

#include "store_helpers.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

using namespace vibe::core;
using vibe::test::TempDir;

namespace {

constexpr UnixMicros k_now = 1'800'000'000'000'000;
constexpr UnixMicros k_second = 1'000'000;

std::unique_ptr<Store> open(const TempDir& dir) {
  auto store = open_sqlite_store(dir.path() / "vibe.db");
  REQUIRE(store);
  return std::move(*store);
}

NewJob noop(std::string args = "{}") {
  NewJob job;
  job.worker = "noop";
  job.args = std::move(args);
  return job;
}

std::int64_t insert(JobStore& jobs, const NewJob& job, UnixMicros now = k_now) {
  auto inserted = jobs.insert_jobs(std::span{&job, 1}, now);
  REQUIRE(inserted);
  return inserted->at(0).id;
}

Job get(JobStore& jobs, std::int64_t id) {
  auto job = jobs.job(id);
  REQUIRE(job);
  REQUIRE(*job);
  return **job;
}

void outcome(JobStore& jobs, JobOutcome o, UnixMicros now = k_now) {
  REQUIRE(jobs.record(std::span{&o, 1}, now));
}

}  // namespace

TEST_SUITE("core::store::jobs") {
  TEST_CASE("a job due now is available, a future one scheduled; claim takes only due jobs") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    const auto now_id = insert(jobs, noop());
    NewJob later = noop();
    later.scheduled_at = k_now + 60 * k_second;
    const auto later_id = insert(jobs, later);
    CHECK(get(jobs, now_id).state == JobState::available);
    CHECK(get(jobs, later_id).state == JobState::scheduled);
    auto claimed = jobs.claim("default", 10, "node-a", k_now);
    REQUIRE(claimed);
    REQUIRE(claimed->size() == 1);
    CHECK(claimed->at(0).id == now_id);
    CHECK(claimed->at(0).state == JobState::executing);
    CHECK(claimed->at(0).attempt == 1);
    CHECK(claimed->at(0).attempted_by == "node-a");
    // When its time comes, the scheduled job is claimed without a staging pass.
    auto later_claim = jobs.claim("default", 10, "node-a", k_now + 61 * k_second);
    REQUIRE(later_claim);
    REQUIRE(later_claim->size() == 1);
    CHECK(later_claim->at(0).id == later_id);
  }

  TEST_CASE("claim order is priority, then scheduled time, then id; queues are separate") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    NewJob low = noop();
    low.priority = 5;
    const auto low_id = insert(jobs, low);
    NewJob early = noop();
    early.scheduled_at = k_now - 10 * k_second;
    const auto early_id = insert(jobs, early);
    const auto plain_id = insert(jobs, noop());
    NewJob other = noop();
    other.queue = "other";
    insert(jobs, other);
    auto claimed = jobs.claim("default", 10, "n", k_now);
    REQUIRE(claimed);
    REQUIRE(claimed->size() == 3);
    CHECK(claimed->at(0).id == early_id);
    CHECK(claimed->at(1).id == plain_id);
    CHECK(claimed->at(2).id == low_id);
  }

  TEST_CASE("completed, failed with attempts left, failed on the last attempt, discarded, cancelled") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    NewJob two = noop();
    two.max_attempts = 2;
    const auto a = insert(jobs, noop());
    const auto b = insert(jobs, two);
    const auto c = insert(jobs, noop());
    const auto d = insert(jobs, noop());
    REQUIRE(jobs.claim("default", 10, "n", k_now)->size() == 4);

    outcome(jobs, {a, JobOutcome::Kind::completed, "", 0});
    CHECK(get(jobs, a).state == JobState::completed);
    CHECK(get(jobs, a).completed_at == k_now);

    outcome(jobs, {b, JobOutcome::Kind::failed, "first", k_now + 20 * k_second});
    Job job_b = get(jobs, b);
    CHECK(job_b.state == JobState::retryable);
    CHECK(job_b.scheduled_at == k_now + 20 * k_second);
    CHECK(nlohmann::json::parse(job_b.errors).at(0).at("error") == "first");
    CHECK(nlohmann::json::parse(job_b.errors).at(0).at("attempt") == 1);
    REQUIRE(jobs.claim("default", 10, "n", k_now + 21 * k_second)->size() == 1);
    outcome(jobs, {b, JobOutcome::Kind::failed, "second", k_now + 99 * k_second}, k_now + 22 * k_second);
    job_b = get(jobs, b);
    CHECK(job_b.state == JobState::discarded);  // attempts exhausted
    CHECK(job_b.attempt == 2);
    CHECK(job_b.discarded_at == k_now + 22 * k_second);
    CHECK(job_b.scheduled_at == k_now + 20 * k_second);  // not moved by the last failure
    CHECK(nlohmann::json::parse(job_b.errors).size() == 2);

    outcome(jobs, {c, JobOutcome::Kind::discarded, "bad args", 0});
    CHECK(get(jobs, c).state == JobState::discarded);
    outcome(jobs, {d, JobOutcome::Kind::cancelled, "no longer wanted", 0});
    CHECK(get(jobs, d).state == JobState::cancelled);
  }

  TEST_CASE("snooze reschedules without spending an attempt") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    const auto id = insert(jobs, noop());
    REQUIRE(jobs.claim("default", 1, "n", k_now)->size() == 1);
    outcome(jobs, {id, JobOutcome::Kind::snoozed, "", k_now + 5 * k_second});
    const Job job = get(jobs, id);
    CHECK(job.state == JobState::scheduled);
    CHECK(job.attempt == 0);
    CHECK(job.scheduled_at == k_now + 5 * k_second);
    CHECK(job.errors == "[]");
  }

  TEST_CASE("an outcome for a job no longer executing (cancelled meanwhile) changes nothing") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    const auto id = insert(jobs, noop());
    REQUIRE(jobs.claim("default", 1, "n", k_now)->size() == 1);
    const std::int64_t ids[] = {id};
    CHECK(*jobs.cancel_jobs(ids, k_now) == 1);
    outcome(jobs, {id, JobOutcome::Kind::completed, "", 0});
    CHECK(get(jobs, id).state == JobState::cancelled);
  }

  TEST_CASE("retry makes discarded jobs available again with an attempt left") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    NewJob once = noop();
    once.max_attempts = 1;
    const auto id = insert(jobs, once);
    REQUIRE(jobs.claim("default", 1, "n", k_now)->size() == 1);
    outcome(jobs, {id, JobOutcome::Kind::failed, "boom", k_now});
    REQUIRE(get(jobs, id).state == JobState::discarded);
    CHECK(*jobs.retry_jobs({}, JobState::discarded, k_now + k_second) == 1);
    const Job job = get(jobs, id);
    CHECK(job.state == JobState::available);
    CHECK(job.max_attempts == 2);
    CHECK(jobs.claim("default", 1, "n", k_now + 2 * k_second)->size() == 1);
  }

  TEST_CASE("unique: a collision within the period returns the existing job; args are compared canonically") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    NewJob job = noop(R"({"a":1,"b":2})");
    job.unique = UniqueSpec{};
    job.unique->period = std::chrono::hours{1};
    const auto first = insert(jobs, job);
    NewJob same = job;
    same.args = R"({"b":2,"a":1})";
    auto again = jobs.insert_jobs(std::span{&same, 1}, k_now + 10 * k_second);
    REQUIRE(again);
    CHECK(again->at(0).existing);
    CHECK(again->at(0).id == first);
    NewJob different = job;
    different.args = R"({"a":2})";
    CHECK(!jobs.insert_jobs(std::span{&different, 1}, k_now)->at(0).existing);
    // After the period, the same job is new again.
    CHECK(!jobs.insert_jobs(std::span{&job, 1}, k_now + 2 * 3600 * k_second)->at(0).existing);
  }

  TEST_CASE("unique: states limit what counts as a collision") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    NewJob job = noop();
    job.unique = UniqueSpec{};
    job.unique->period = std::chrono::hours{1};
    job.unique->states = {JobState::available, JobState::scheduled};
    const auto first = insert(jobs, job);
    REQUIRE(jobs.claim("default", 1, "n", k_now)->size() == 1);  // now executing: not in states
    auto again = jobs.insert_jobs(std::span{&job, 1}, k_now);
    CHECK(!again->at(0).existing);
    CHECK(again->at(0).id != first);
  }

  TEST_CASE("unique: concurrent inserts from two connections create one job") {
    TempDir dir;
    auto a = open(dir);
    auto b = open(dir);
    NewJob job = noop(R"({"k":"v"})");
    job.unique = UniqueSpec{};
    job.unique->period = std::chrono::hours{1};
    std::atomic<int> fresh{0};
    std::atomic<bool> go{false};
    auto racer = [&](Store& store) {
      while (!go) {
      }
      for (int i = 0; i < 50; ++i) {
        auto inserted = store.jobs().insert_jobs(std::span{&job, 1}, k_now);
        REQUIRE(inserted);
        fresh += inserted->at(0).existing ? 0 : 1;
      }
    };
    std::thread t1{racer, std::ref(*a)};
    std::thread t2{racer, std::ref(*b)};
    go = true;
    t1.join();
    t2.join();
    CHECK(fresh == 1);
    CHECK(a->jobs().jobs(JobFilter{})->size() == 1);
  }

  TEST_CASE("rescue returns a dead node's executing jobs, attempt kept, and leaves live nodes alone") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    REQUIRE(jobs.heartbeat({"dead", "h", 1, 1}, k_now));
    REQUIRE(jobs.heartbeat({"alive", "h", 2, 2}, k_now));
    const auto dead_job = insert(jobs, noop());
    REQUIRE(jobs.claim("default", 1, "dead", k_now)->size() == 1);
    const auto live_job = insert(jobs, noop());
    REQUIRE(jobs.claim("default", 1, "alive", k_now)->size() == 1);
    const std::string dead[] = {"dead"};
    CHECK(*jobs.rescue(dead, "self") == 1);
    const Job rescued = get(jobs, dead_job);
    CHECK(rescued.state == JobState::available);
    CHECK(rescued.attempt == 1);
    CHECK(nlohmann::json::parse(rescued.errors).at(0).at("error").get<std::string>().find("rescued") == 0);
    CHECK(get(jobs, live_job).state == JobState::executing);
    CHECK(jobs.nodes()->size() == 1);
  }

  TEST_CASE("release returns unstarted jobs without counting the attempt") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    const auto id = insert(jobs, noop());
    REQUIRE(jobs.claim("default", 1, "n", k_now)->size() == 1);
    const std::int64_t ids[] = {id};
    REQUIRE(jobs.release(ids));
    CHECK(get(jobs, id).state == JobState::available);
    CHECK(get(jobs, id).attempt == 0);
  }

  TEST_CASE("prune deletes finished jobs older than the cut-off in batches and keeps the rest") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    std::vector<NewJob> many(25, noop());
    REQUIRE(jobs.insert_jobs(many, k_now));
    auto claimed = jobs.claim("default", 20, "n", k_now);
    REQUIRE(claimed->size() == 20);
    std::vector<JobOutcome> done;
    for (const auto& job : *claimed) {
      done.push_back({job.id, JobOutcome::Kind::completed, "", 0});
    }
    REQUIRE(jobs.record(done, k_now));
    CHECK(*jobs.prune_jobs(k_now, 3) == 0);  // not older than the cut-off
    CHECK(*jobs.prune_jobs(k_now + k_second, 3) == 20);
    CHECK(jobs.jobs(JobFilter{std::nullopt, "", "", 100})->size() == 5);  // the unfinished ones stay
  }

  TEST_CASE("a cron fire time is inserted once, however many callers race for it") {
    TempDir dir;
    auto a = open(dir);
    auto b = open(dir);
    const NewJob job = noop();
    std::atomic<int> won{0};
    auto racer = [&](Store& store) {
      for (int minute = 0; minute < 30; ++minute) {
        auto inserted = store.jobs().insert_cron_fire("every-minute", k_now + minute * 60 * k_second, &job, k_now);
        REQUIRE(inserted);
        won += *inserted ? 1 : 0;
      }
    };
    std::thread t1{racer, std::ref(*a)};
    std::thread t2{racer, std::ref(*b)};
    t1.join();
    t2.join();
    CHECK(won == 30);
    CHECK(a->jobs().jobs(JobFilter{std::nullopt, "", "", 100})->size() == 30);
    CHECK(**a->jobs().last_cron_fire("every-minute") == k_now + 29 * 60 * k_second);
  }

  TEST_CASE("stats count by queue and state and age the oldest due job") {
    TempDir dir;
    auto store = open(dir);
    auto& jobs = store->jobs();
    NewJob old = noop();
    old.scheduled_at = k_now - 30 * k_second;
    insert(jobs, old);
    insert(jobs, noop());
    auto stats = jobs.job_stats(k_now);
    REQUIRE(stats);
    REQUIRE(stats->counts.size() == 1);
    CHECK(stats->counts[0].count == 2);
    CHECK(*stats->oldest_available_scheduled_at == k_now - 30 * k_second);
  }
}
