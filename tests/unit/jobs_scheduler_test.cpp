#include "jobs/scheduler.hpp"

#include "core/store/sqlite_store.hpp"
#include "store_helpers.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <set>

using namespace vibe;
using namespace vibe::core;
using vibe::test::TempDir;

namespace {

constexpr UnixMicros k_minute = 60 * k_micros_per_second;
// 2026-11-22T12:00:30Z: half a minute past a fire time of "* * * * *".
const UnixMicros k_noon = *parse_rfc3339("2026-11-22T12:00:30Z");

std::unique_ptr<Store> open(const TempDir& dir) {
  auto store = open_sqlite_store(dir.path() / "vibe.db");
  REQUIRE(store);
  return std::move(*store);
}

jobs::Scheduler scheduler(std::string expr, jobs::CatchUp catch_up = jobs::CatchUp::one) {
  NewJob job;
  job.worker = "noop";
  return jobs::Scheduler{{jobs::CronEntry{"entry", *CronSchedule::parse(expr), job, catch_up}}, vibe::test::quiet_logger()};
}

std::vector<Job> all_jobs(Store& store) {
  return *store.jobs().jobs(JobFilter{std::nullopt, "", "", 1000});
}

std::string fire_at(const Job& job) {
  return nlohmann::json::parse(job.meta).at("fire_at").get<std::string>();
}

}  // namespace

TEST_SUITE("jobs::scheduler") {
  TEST_CASE("an interval entry fires at once, then at each multiple of its interval, once") {
    TempDir dir;
    auto store = open(dir);
    NewJob job;
    job.worker = "noop";
    jobs::CronEntry entry{"every", *CronSchedule::parse("* * * * *"), job, jobs::CatchUp::one, Millis{20'000}};
    jobs::Scheduler first{{entry}, vibe::test::quiet_logger()};
    REQUIRE(first.insert_due(store->jobs(), k_noon));  // 12:00:30: the latest multiple of 20 s is 12:00:20
    auto jobs = all_jobs(*store);
    REQUIRE(jobs.size() == 1);
    CHECK(fire_at(jobs[0]) == "2026-11-22T12:00:20Z");
    REQUIRE(first.insert_due(store->jobs(), k_noon + 5 * k_micros_per_second));  // 12:00:35: not due
    CHECK(all_jobs(*store).size() == 1);
    // Another process with the same entry inserts nothing for a fire time already recorded.
    jobs::Scheduler second{{entry}, vibe::test::quiet_logger()};
    REQUIRE(second.insert_due(store->jobs(), k_noon + 6 * k_micros_per_second));
    CHECK(all_jobs(*store).size() == 1);
    REQUIRE(first.insert_due(store->jobs(), k_noon + 10 * k_micros_per_second));  // 12:00:40
    REQUIRE(second.insert_due(store->jobs(), k_noon + 11 * k_micros_per_second));
    jobs = all_jobs(*store);
    REQUIRE(jobs.size() == 2);
    std::set<std::string> times{fire_at(jobs[0]), fire_at(jobs[1])};
    CHECK(times == std::set<std::string>{"2026-11-22T12:00:20Z", "2026-11-22T12:00:40Z"});
    // After downtime, the latest tick only (catch_up: one).
    REQUIRE(first.insert_due(store->jobs(), k_noon + 10 * k_minute));
    CHECK(all_jobs(*store).size() == 3);
  }

  TEST_CASE("first sight marks the start; each later fire time is inserted once") {
    TempDir dir;
    auto store = open(dir);
    auto s = scheduler("* * * * *");
    REQUIRE(s.insert_due(store->jobs(), k_noon));
    CHECK(all_jobs(*store).empty());
    REQUIRE(s.insert_due(store->jobs(), k_noon + 10 * k_micros_per_second));  // same minute: nothing
    CHECK(all_jobs(*store).empty());
    REQUIRE(s.insert_due(store->jobs(), k_noon + k_minute));
    REQUIRE(s.insert_due(store->jobs(), k_noon + k_minute + 1));
    auto jobs = all_jobs(*store);
    REQUIRE(jobs.size() == 1);
    CHECK(fire_at(jobs[0]) == "2026-11-22T12:01:00Z");
  }

  TEST_CASE("after downtime, catch_up one runs the missed schedule exactly once") {
    TempDir dir;
    auto store = open(dir);
    REQUIRE(scheduler("* * * * *").insert_due(store->jobs(), k_noon));
    // The process was down for 90 minutes; a new one starts.
    auto restarted = scheduler("* * * * *");
    REQUIRE(restarted.insert_due(store->jobs(), k_noon + 90 * k_minute));
    REQUIRE(restarted.insert_due(store->jobs(), k_noon + 90 * k_minute + 5 * k_micros_per_second));
    auto jobs = all_jobs(*store);
    REQUIRE(jobs.size() == 1);
    CHECK(fire_at(jobs[0]) == "2026-11-22T13:30:00Z");
  }

  TEST_CASE("after downtime, catch_up none skips the late fire time and keeps the next") {
    TempDir dir;
    auto store = open(dir);
    REQUIRE(scheduler("0 * * * *", jobs::CatchUp::none).insert_due(store->jobs(), k_noon));
    auto restarted = scheduler("0 * * * *", jobs::CatchUp::none);
    REQUIRE(restarted.insert_due(store->jobs(), k_noon + 150 * k_minute));  // 14:30: 14:00 is late
    CHECK(all_jobs(*store).empty());
    REQUIRE(restarted.insert_due(store->jobs(), *parse_rfc3339("2026-11-22T15:00:10Z")));
    auto jobs = all_jobs(*store);
    REQUIRE(jobs.size() == 1);
    CHECK(fire_at(jobs[0]) == "2026-11-22T15:00:00Z");
  }

  TEST_CASE("two runners never insert one fire time twice") {
    TempDir dir;
    auto a = open(dir);
    auto b = open(dir);
    auto sa = scheduler("*/5 * * * *");
    auto sb = scheduler("*/5 * * * *");
    REQUIRE(sa.insert_due(a->jobs(), k_noon));
    REQUIRE(sb.insert_due(b->jobs(), k_noon));
    for (int minute = 1; minute <= 60; ++minute) {
      const UnixMicros now = k_noon + minute * k_minute;
      REQUIRE(sa.insert_due(a->jobs(), now));
      REQUIRE(sb.insert_due(b->jobs(), now));
    }
    auto jobs = all_jobs(*a);
    CHECK(jobs.size() == 12);  // 12:05 .. 13:00
    std::set<std::string> times;
    for (const auto& job : jobs) {
      times.insert(fire_at(job));
    }
    CHECK(times.size() == 12);
  }

  TEST_CASE("latest_fire finds the last fire time in a window, also far back") {
    auto yearly = *CronSchedule::parse("0 0 1 1 *");
    CHECK(*jobs::latest_fire(yearly, 0, k_noon) == *parse_rfc3339("2026-01-01T00:00:00Z"));
    CHECK(!jobs::latest_fire(yearly, *parse_rfc3339("2026-01-01T00:00:00Z"), k_noon));
  }
}
