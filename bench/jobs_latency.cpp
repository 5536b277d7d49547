// Idle enqueue->start latency of vibe's job queue, through the library API.
//
// Opens a fresh SQLite store in a temp dir, runs a Runner (queue "default",
// concurrency 10, Drain::no) on a thread, and inserts one noop job at a time
// with an idle gap between inserts (the runner has nothing to do when each
// job arrives). A job's latency is attempted_at - inserted_at, read back from
// the store: inserted_at is the time passed to insert_jobs() (taken just
// before the call), attempted_at the time the runner claimed it; both come
// from the same clock (core::now_micros(), microseconds).
//
// Two modes, each with a fresh store and runner:
//   notify: runner.notify() right after each insert_jobs(), as `vibe serve`
//           and in-process producers do;
//   poll:   no notify(); the runner finds the job at its next poll
//           (RunnerOptions::poll_interval, 50 ms by default).
//
// Each job must have completed (first attempt) before the next is inserted,
// and every sample is checked; a failed check exits 1 without printing
// figures. Output, one line per mode:
//   LATENCY <mode> samples=N p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. mean_ms=.. insert_p50_ms=.. insert_p99_ms=..
//
// The idle gap before each insert is uniform in [GAP_MIN_MS, GAP_MAX_MS]
// (notify) or [GAP_MIN_MS, GAP_MAX_MS + poll interval] (poll: see below).
//
// Usage: vibe_bench_jobs_latency [NOTIFY_SAMPLES [POLL_SAMPLES [GAP_MIN_MS [GAP_MAX_MS]]]]
//        (defaults 1000 200 5 10; about 20 s)
#include "core/log.hpp"
#include "core/store/sqlite_store.hpp"
#include "core/store/store.hpp"
#include "core/time.hpp"
#include "jobs/runner.hpp"
#include "jobs/worker.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

using vibe::core::UnixMicros;

std::filesystem::path g_tmp;  // removed on exit, also on failure

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "jobs_latency: error: %s\n", message.c_str());
  if (!g_tmp.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(g_tmp, ec);
  }
  std::_Exit(1);  // not exit(): the runner thread may still be running
}

double percentile(std::vector<double> v, double p) {  // nearest rank
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1];
}

struct Samples {
  std::vector<double> latency_ms;  // attempted_at - inserted_at
  std::vector<double> insert_ms;   // duration of the insert_jobs() call (steady clock)
};

Samples measure(const std::filesystem::path& dir, bool notify, int samples, int gap_min_ms, int gap_max_ms,
                const vibe::core::Logging& logging) {
  auto opened = vibe::core::open_sqlite_store(dir / "vibe.db");
  if (!opened) {
    die("open store: " + opened.error().message);
  }
  auto& store = **opened;
  vibe::jobs::RunnerOptions options;
  options.queues = {{"default", 10}};
  options.drain = vibe::jobs::Drain::no;
  vibe::jobs::Runner runner{store.jobs(), vibe::jobs::WorkerDeps{}, options, logging.get("jobs.runner")};
  vibe::core::Result<vibe::jobs::RunSummary> summary = vibe::jobs::RunSummary{};
  std::thread thread{[&] { summary = runner.run(); }};

  std::mt19937 rng{20240501u + (notify ? 1u : 2u)};
  // Without notify() the runner wakes every poll_interval; the gap then
  // spans a whole interval more, so inserts land at uniformly spread points
  // of the runner's poll cycle instead of locking to one phase of it.
  const int poll_ms = static_cast<int>(options.poll_interval.count());
  std::uniform_int_distribution<int> gap_us{gap_min_ms * 1000, (gap_max_ms + (notify ? 0 : poll_ms)) * 1000};
  const int warmup = 10;
  Samples out;
  std::this_thread::sleep_for(std::chrono::milliseconds{100});  // let the runner start and go idle
  for (int i = 0; i < warmup + samples; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds{gap_us(rng)});
    vibe::core::NewJob job;
    job.worker = "noop";
    job.args = "{}";
    const auto t0 = std::chrono::steady_clock::now();
    const UnixMicros now = vibe::core::now_micros();
    auto inserted = store.jobs().insert_jobs(std::span<const vibe::core::NewJob>{&job, 1}, now);
    if (notify) {
      runner.notify();
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (!inserted || inserted->size() != 1) {
      die("insert_jobs failed" + (inserted ? std::string{} : ": " + inserted.error().message));
    }
    const std::int64_t id = (*inserted)[0].id;
    // Wait (bounded: 2 s) until the job is completed before the next insert,
    // so every job meets an idle runner. Read back only after a short pause,
    // to stay out of the runner's way while it claims.
    std::this_thread::sleep_for(std::chrono::milliseconds{notify ? 1 : 10});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{2};
    std::optional<vibe::core::Job> done;
    for (;;) {
      auto got = store.jobs().job(id);
      if (!got || !*got) {
        die(fmt::format("job {} not found", id));
      }
      if ((*got)->state == vibe::core::JobState::completed) {
        done = **got;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        die(fmt::format("job {} still {} after 2 s", id, vibe::core::job_state_name((*got)->state)));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    if (done->attempt != 1 || done->inserted_at != now || done->attempted_at < done->inserted_at) {
      die(fmt::format("job {}: attempt={} inserted_at={} (sent {}) attempted_at={}", id, done->attempt,
                      done->inserted_at, now, done->attempted_at));
    }
    if (i >= warmup) {
      out.latency_ms.push_back(static_cast<double>(done->attempted_at - done->inserted_at) / 1000.0);
      out.insert_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  }
  runner.stop();
  thread.join();
  if (!summary) {
    die("runner: " + summary.error().message);
  }
  const auto total = static_cast<std::size_t>(warmup + samples);
  if (summary->completed != total || summary->retryable != 0 || summary->discarded != 0) {
    die(fmt::format("runner summary: completed={} retryable={} discarded={}, expected completed={}",
                    summary->completed, summary->retryable, summary->discarded, total));
  }
  auto stats = store.jobs().job_stats(vibe::core::now_micros());
  if (!stats) {
    die("job_stats: " + stats.error().message);
  }
  std::int64_t completed = 0, other = 0;
  for (const auto& c : stats->counts) {
    (c.state == vibe::core::JobState::completed ? completed : other) += c.count;
  }
  if (completed != static_cast<std::int64_t>(total) || other != 0) {
    die(fmt::format("store holds {} completed and {} other jobs, expected {} completed", completed, other, total));
  }
  return out;
}

void report(const char* mode, const Samples& s) {
  double sum = 0;
  for (double v : s.latency_ms) sum += v;
  fmt::print("LATENCY {} samples={} p50_ms={:.3f} p90_ms={:.3f} p99_ms={:.3f} max_ms={:.3f} mean_ms={:.3f} "
             "insert_p50_ms={:.3f} insert_p99_ms={:.3f}\n",
             mode, s.latency_ms.size(), percentile(s.latency_ms, 50), percentile(s.latency_ms, 90),
             percentile(s.latency_ms, 99), *std::max_element(s.latency_ms.begin(), s.latency_ms.end()),
             sum / static_cast<double>(s.latency_ms.size()), percentile(s.insert_ms, 50), percentile(s.insert_ms, 99));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int notify_samples = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int poll_samples = argc > 2 ? std::atoi(argv[2]) : 200;
  const int gap_min_ms = argc > 3 ? std::atoi(argv[3]) : 5;
  const int gap_max_ms = argc > 4 ? std::atoi(argv[4]) : 10;
  if (notify_samples < 1 || poll_samples < 1 || gap_min_ms < 0 || gap_max_ms < gap_min_ms) {
    die("usage: vibe_bench_jobs_latency [NOTIFY_SAMPLES [POLL_SAMPLES [GAP_MIN_MS [GAP_MAX_MS]]]]");
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "vibe-bench-latency.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    die("mkdtemp failed");
  }
  const std::filesystem::path tmp{pattern};
  g_tmp = tmp;
  const vibe::core::Logging logging{spdlog::level::warn};
  const Samples notified = measure(tmp / "notify", true, notify_samples, gap_min_ms, gap_max_ms, logging);
  report("notify", notified);
  const Samples polled = measure(tmp / "poll", false, poll_samples, gap_min_ms, gap_max_ms, logging);
  report("poll", polled);
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  return 0;
}
