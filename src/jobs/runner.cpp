#include "jobs/runner.hpp"

#include "jobs/scheduler.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

namespace vibe::jobs {

using core::Job;
using core::JobOutcome;
using core::UnixMicros;

struct Runner::InFlight {
  Job job;
  QueueState* queue = nullptr;
  core::Millis timeout{0};
  std::stop_source stop;
  UnixMicros deadline = 0;  // 0: none
  bool timed_out = false;   // guarded by Runner::m_mutex
  bool abandoned = false;   // guarded by Runner::m_mutex; see Runner::abandon()
};

struct Runner::QueueState {
  std::string name;
  std::size_t concurrency = 1;
  std::size_t busy = 0;     // claimed and not yet returned by a worker thread (running + ready)
  struct Item {
    Job job;
    Worker* worker;  // null: unknown worker
    std::shared_ptr<InFlight> flight;
  };
  std::deque<Item> ready;
  std::condition_variable_any has_work;  // waits with the thread's stop_token
  std::vector<std::jthread> threads;
};

namespace {

std::int64_t process_start_ticks(std::int64_t pid) {
  // Field 22 of /proc/PID/stat: start time in clock ticks since boot. With
  // the pid it identifies a process even after the pid is reused.
  std::ifstream in{fmt::format("/proc/{}/stat", pid)};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream fields{text.substr(close + 2)};
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) {
      return std::strtoll(field.c_str(), nullptr, 10);
    }
  }
  return 0;
}

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) {
    return "localhost";
  }
  return buffer;
}

// Per-job backoff from meta {"backoff": {"kind": ..., "base": "10s", "max": "1h"}}.
Backoff backoff_for(const Job& job, Backoff fallback) {
  const auto meta = nlohmann::json::parse(job.meta, nullptr, false);
  if (!meta.is_object() || !meta.contains("backoff") || !meta["backoff"].is_object()) {
    return fallback;
  }
  const auto& b = meta["backoff"];
  if (b.contains("kind") && b["kind"].is_string()) {
    if (auto kind = parse_backoff_kind(b["kind"].get<std::string>())) {
      fallback.kind = *kind;
    }
  }
  for (const char* key : {"base", "max"}) {
    if (b.contains(key) && b[key].is_string()) {
      if (auto d = core::parse_duration(b[key].get<std::string>())) {
        (std::string_view{key} == "base" ? fallback.base : fallback.max) = *d;
      }
    }
  }
  return fallback;
}

// Jobs claimed per queue, as a multiple of its concurrency: the surplus
// waits in a local buffer so workers never idle between rounds and each
// round's transaction covers many jobs.
constexpr std::size_t k_buffer_factor = 4;

double jitter_unit() {
  thread_local Jitter jitter{std::random_device{}()};
  return jitter.next();
}

std::int64_t micros(core::Millis d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

core::NodeInfo this_node() {
  const auto pid = static_cast<std::int64_t>(getpid());
  const std::string host = host_name();
  const std::int64_t start = process_start_ticks(pid);
  return core::NodeInfo{fmt::format("{}:{}:{}", host, pid, start), host, pid, start};
}

bool node_is_dead_locally(const core::NodeInfo& node) {
  if (node.host != host_name()) {
    return false;
  }
  if (kill(static_cast<pid_t>(node.pid), 0) != 0 && errno == ESRCH) {
    return true;
  }
  return process_start_ticks(node.pid) != node.pid_start;
}

Runner::Runner(core::JobStore& store, WorkerDeps deps, RunnerOptions options, std::shared_ptr<spdlog::logger> log)
    : m_store(store), m_deps(deps), m_options(std::move(options)), m_log(std::move(log)), m_node(this_node()) {
  for (const auto& [name, concurrency] : m_options.queues) {
    auto queue = std::make_unique<QueueState>();
    queue->name = name;
    queue->concurrency = std::max<std::size_t>(1, concurrency);
    m_queues.emplace(name, std::move(queue));
  }
}

Runner::~Runner() {
  stop();
  for (auto& [name, queue] : m_queues) {
    queue->threads.clear();  // jthread: request stop and join
  }
}

void Runner::stop() {
  {
    std::lock_guard lock{m_mutex};
    m_stopping = true;
  }
  m_wake.notify_all();
}

void Runner::notify() {
  {
    std::lock_guard lock{m_mutex};
    m_notified = true;
  }
  m_wake.notify_all();
}

void Runner::worker_loop(QueueState& queue, std::stop_token stop) {
  std::optional<QueueState::Item> done;  // the job this thread just ran
  WorkResult result = Done{};
  for (;;) {
    QueueState::Item item;
    bool wake = false;
    {
      // Recording the last result and taking the next job share one lock:
      // with many threads and short jobs, the lock is the hot spot.
      std::unique_lock lock{m_mutex};
      if (done) {
        wake = finish_locked(queue, done->job, result, false);
        done.reset();
      }
      if (queue.ready.empty() && wake) {
        lock.unlock();
        m_wake.notify_all();
        wake = false;
        lock.lock();
      }
      queue.has_work.wait(lock, stop, [&] { return !queue.ready.empty(); });
      if (queue.ready.empty()) {
        if (wake) {
          lock.unlock();
          m_wake.notify_all();
        }
        return;  // stop requested
      }
      item = std::move(queue.ready.front());
      queue.ready.pop_front();
      // The timeout runs from the start of the attempt, not from the claim.
      const auto timeout = item.flight->timeout;
      item.flight->deadline = timeout.count() > 0 ? core::now_micros() + micros(timeout) : 0;
    }
    if (wake) {
      m_wake.notify_all();
    }
    result = Failed{fmt::format("unknown worker '{}'", item.job.worker)};
    if (item.worker != nullptr) {
      JobContext context{item.job, item.flight->stop.get_token(), item.flight->deadline, m_log};
      try {
        result = item.worker->perform(context);
      } catch (const std::exception& e) {
        result = Failed{fmt::format("worker threw: {}", e.what())};
      } catch (...) {
        result = Failed{"worker threw a non-standard exception"};
      }
    }
    done = std::move(item);
  }
}

namespace {

// How an attempt's result is recorded: a failure is retried after the job's
// backoff (its meta's, else its worker's policy).
JobOutcome outcome_for(const Job& job, const WorkResult& result, const Worker* worker, UnixMicros now) {
  JobOutcome outcome;
  outcome.id = job.id;
  if (std::holds_alternative<Done>(result)) {
    outcome.kind = JobOutcome::Kind::completed;
  } else if (const auto* failed = std::get_if<Failed>(&result)) {
    outcome.kind = JobOutcome::Kind::failed;
    outcome.error = failed->error;
    const Backoff policy = backoff_for(job, worker != nullptr ? worker->backoff() : Backoff{});
    outcome.retry_at = now + micros(policy.delay(job.attempt, jitter_unit()));
  } else if (const auto* discard = std::get_if<Discard>(&result)) {
    outcome.kind = JobOutcome::Kind::discarded;
    outcome.error = discard->error;
  } else if (const auto* snooze = std::get_if<Snooze>(&result)) {
    outcome.kind = JobOutcome::Kind::snoozed;
    outcome.retry_at = now + micros(snooze->delay);
  }
  return outcome;
}

}  // namespace

JobOutcome Runner::outcome_of(const Job& job, const WorkResult& result, UnixMicros now) {
  const auto it = m_workers.find(job.worker);
  return outcome_for(job, result, it != m_workers.end() ? it->second.get() : nullptr, now);
}

core::Result<std::vector<JobRun>> run_jobs_now(core::JobStore& store, const WorkerDeps& deps,
                                               std::span<const std::int64_t> ids,
                                               const std::shared_ptr<spdlog::logger>& log) {
  const core::NodeInfo node = this_node();
  auto claimed = store.claim_ids(ids, node.id, core::now_micros());
  if (!claimed) {
    return tl::unexpected(claimed.error());
  }
  std::map<std::string, std::unique_ptr<Worker>> workers;
  std::vector<JobRun> runs;
  std::vector<JobOutcome> outcomes;
  for (const auto& job : *claimed) {
    auto& worker = workers[job.worker];
    if (!worker) {
      const WorkerKind* kind = find_worker_kind(job.worker);
      if (kind != nullptr) {
        worker = kind->make(deps);
      }
    }
    WorkResult result = Discard{fmt::format("no worker named '{}'", job.worker)};
    if (worker) {
      std::stop_source stop;
      const core::Millis timeout = job.timeout_ms > 0 ? core::Millis{job.timeout_ms} : worker->timeout();
      const JobContext context{job, stop.get_token(),
                               timeout.count() > 0 ? core::now_micros() + micros(timeout) : 0, log};
      try {
        result = worker->perform(context);
      } catch (const std::exception& e) {
        result = Failed{e.what()};
      }
    }
    outcomes.push_back(outcome_for(job, result, worker.get(), core::now_micros()));
    runs.push_back(JobRun{job, std::move(result)});
  }
  if (auto recorded = store.record(outcomes, core::now_micros()); !recorded) {
    return tl::unexpected(recorded.error());
  }
  return runs;
}

void Runner::abandon() {
  std::lock_guard lock{m_mutex};
  for (auto& [id, flight] : m_in_flight) {
    if (!flight->timed_out && !flight->abandoned) {
      flight->abandoned = true;
      flight->stop.request_stop();
    }
  }
}

core::Histogram Runner::run_seconds() {
  std::lock_guard lock{m_mutex};
  return m_run_seconds;
}

bool Runner::finish_locked(QueueState& queue, const Job& job, const WorkResult& result, bool timed_out) {
  auto it = m_in_flight.find(job.id);
  const bool already_recorded = it != m_in_flight.end() && it->second->timed_out && !timed_out;
  if (it != m_in_flight.end() && it->second->abandoned && !timed_out) {
    // Stopped at shutdown: back to the queue as if never started.
    m_abandoned.push_back(job.id);
  } else if (!already_recorded) {
    const UnixMicros now = core::now_micros();
    m_outcomes.push_back(outcome_of(job, result, now));
    if (job.attempted_at != 0 && now >= job.attempted_at) {
      m_run_seconds.observe(static_cast<double>(now - job.attempted_at) / 1e6);
    }
  }
  if (!timed_out) {
    // The worker returned: its slot is free again.
    --queue.busy;
    if (it != m_in_flight.end()) {
      m_in_flight.erase(it);
    }
  }
  // Wake the store thread when the local buffer is down to the concurrency
  // (a batch worth a round trip, with work left meanwhile), not for every job.
  const bool wake = queue.ready.size() <= queue.concurrency;
  m_wanted = m_wanted || wake;
  return wake;
}

void Runner::expire_timeouts(UnixMicros now) {
  std::vector<std::shared_ptr<InFlight>> expired;
  {
    std::lock_guard lock{m_mutex};
    for (auto& [id, flight] : m_in_flight) {
      if (flight->deadline != 0 && now >= flight->deadline && !flight->timed_out) {
        flight->timed_out = true;
        flight->stop.request_stop();
        expired.push_back(flight);
      }
    }
  }
  // The attempt fails now; whatever the worker returns later is dropped.
  for (const auto& flight : expired) {
    m_log->warn("job timed out id={} worker={} timeout={}", flight->job.id, flight->job.worker,
                core::format_duration(flight->timeout));
    bool wake = false;
    {
      std::lock_guard lock{m_mutex};
      wake = finish_locked(*flight->queue, flight->job,
                           Failed{fmt::format("timed out after {}", core::format_duration(flight->timeout))}, true);
    }
    if (wake) {
      m_wake.notify_all();
    }
  }
}

core::Result<void> Runner::heartbeat_and_rescue(UnixMicros now, RunSummary& summary) {
  if (auto ok = m_store.heartbeat(m_node, now); !ok) {
    return ok;
  }
  auto nodes = m_store.nodes();
  if (!nodes) {
    return tl::unexpected(nodes.error());
  }
  std::vector<std::string> dead;
  for (const auto& [node, last_beat] : *nodes) {
    if (node.id == m_node.id) {
      continue;
    }
    // Liveness, not elapsed time: on this host a node is dead only when its
    // process is gone, so a slow job of a live process is never run twice.
    // Elsewhere a missing heartbeat is all there is to go by.
    const bool local = node.host == m_node.host;
    if ((local && node_is_dead_locally(node)) || (!local && now - last_beat > micros(m_options.stale_after))) {
      dead.push_back(node.id);
    }
  }
  auto rescued = m_store.rescue(dead, m_node.id);
  if (!rescued) {
    return tl::unexpected(rescued.error());
  }
  if (*rescued > 0) {
    m_log->warn("rescued jobs={} dead_nodes={}", *rescued, dead.size());
    summary.rescued += *rescued;
  }
  return {};
}

std::vector<JobOutcome> Runner::take_outcomes() {
  std::vector<JobOutcome> outcomes;
  std::lock_guard lock{m_mutex};
  outcomes.swap(m_outcomes);
  return outcomes;
}

void Runner::put_back(std::vector<JobOutcome>& outcomes) {
  // A round that failed keeps its outcomes for the next: none is dropped.
  std::lock_guard lock{m_mutex};
  m_outcomes.insert(m_outcomes.begin(), outcomes.begin(), outcomes.end());
}

void Runner::count(const std::vector<JobOutcome>& outcomes, RunSummary& summary,
                   std::vector<std::int64_t>& failed_ids) {
  for (const auto& outcome : outcomes) {
    switch (outcome.kind) {
      case JobOutcome::Kind::completed: ++summary.completed; break;
      case JobOutcome::Kind::failed:
        ++summary.retryable;  // corrected at the end of run() for exhausted attempts
        failed_ids.push_back(outcome.id);
        break;
      case JobOutcome::Kind::discarded: ++summary.discarded; break;
      case JobOutcome::Kind::snoozed: ++summary.snoozed; break;
      case JobOutcome::Kind::cancelled: break;
    }
  }
}

core::Result<void> Runner::flush(RunSummary& summary, std::vector<std::int64_t>& failed_ids) {
  auto outcomes = take_outcomes();
  if (outcomes.empty()) {
    return {};
  }
  if (auto recorded = m_store.record(outcomes, core::now_micros()); !recorded) {
    put_back(outcomes);
    return recorded;
  }
  count(outcomes, summary, failed_ids);
  return {};
}

core::Result<RunSummary> Runner::run() {
  RunSummary summary;
  UnixMicros now = core::now_micros();
  if (auto ok = heartbeat_and_rescue(now, summary); !ok) {
    return tl::unexpected(ok.error());
  }
  for (auto& [name, queue] : m_queues) {
    for (std::size_t i = 0; i < queue->concurrency; ++i) {
      QueueState* q = queue.get();
      queue->threads.emplace_back([this, q](std::stop_token stop) { worker_loop(*q, stop); });
    }
  }
  UnixMicros next_heartbeat = now + micros(m_options.heartbeat);
  std::vector<std::int64_t> failed_ids;  // to tell retryable from exhausted at the end
  UnixMicros next_prune = now;
  int store_errors = 0;
  core::Result<RunSummary> result = summary;

  for (;;) {
    now = core::now_micros();
    auto step = [&]() -> core::Result<bool> {  // true: something was claimed
      if (now >= next_heartbeat) {
        if (auto ok = heartbeat_and_rescue(now, summary); !ok) {
          return tl::unexpected(ok.error());
        }
        next_heartbeat = now + micros(m_options.heartbeat);
      }
      if (m_options.prune_after.count() > 0 && now >= next_prune) {
        // Bounded batches inside prune_jobs keep each transaction short.
        auto pruned = m_store.prune_jobs(now - micros(m_options.prune_after), 10'000);
        if (!pruned) {
          return tl::unexpected(pruned.error());
        }
        if (*pruned > 0) {
          m_log->info("pruned jobs={} older_than={}", *pruned, core::format_duration(m_options.prune_after));
        }
        summary.pruned += *pruned;
        next_prune = now + micros(m_options.prune_every);
      }
      expire_timeouts(now);
      if (m_scheduler != nullptr) {
        if (auto ok = m_scheduler->insert_due(m_store, now); !ok) {
          return tl::unexpected(ok.error());
        }
      }
      // The outcomes since the last round are recorded in the same
      // transaction as the first claim: one commit per round.
      std::vector<JobOutcome> outcomes = take_outcomes();
      bool recorded = outcomes.empty();
      bool claimed_any = false;
      for (auto& [name, queue] : m_queues) {
        std::size_t free = 0;
        {
          std::lock_guard lock{m_mutex};
          if (m_stopping) {
            break;
          }
          // Claim beyond the concurrency (k_buffer_factor): buffered jobs
          // are executing in the store (a crash rescues them) and stop()
          // releases them.
          const std::size_t capacity = k_buffer_factor * queue->concurrency;
          free = capacity > queue->busy ? capacity - queue->busy : 0;
          if (free < queue->concurrency && queue->busy > 0) {
            free = 0;  // not worth a round yet
          }
        }
        if (free == 0) {
          continue;
        }
        auto jobs = m_store.exchange(recorded ? std::span<const JobOutcome>{} : std::span<const JobOutcome>{outcomes},
                                     name, std::min(free, m_options.claim_batch), m_node.id, now);
        if (!jobs) {
          if (!recorded) {
            put_back(outcomes);
          }
          return tl::unexpected(jobs.error());
        }
        if (!recorded) {
          count(outcomes, summary, failed_ids);
          recorded = true;
        }
        if (jobs->empty()) {
          continue;
        }
        claimed_any = true;
        // Build each job's bookkeeping before taking the lock, which the
        // worker threads are waiting for; only moves happen under it. Only
        // this thread changes m_workers, so it may read it unlocked.
        std::vector<QueueState::Item> items;
        items.reserve(jobs->size());
        for (auto& job : *jobs) {
          auto it = m_workers.find(job.worker);
          if (it == m_workers.end()) {
            const WorkerKind* kind = find_worker_kind(job.worker);
            auto made = kind ? kind->make(m_deps) : nullptr;
            std::lock_guard lock{m_mutex};
            it = m_workers.emplace(job.worker, std::move(made)).first;
          }
          Worker* worker = it->second.get();
          auto flight = std::make_shared<InFlight>();
          flight->timeout = job.timeout_ms > 0 ? core::Millis{job.timeout_ms}
                            : worker != nullptr ? worker->timeout()
                                                : core::Millis{0};
          flight->job = job;
          flight->queue = queue.get();
          items.push_back({std::move(job), worker, std::move(flight)});
        }
        {
          std::lock_guard lock{m_mutex};
          for (auto& item : items) {
            m_in_flight.emplace(item.job.id, item.flight);
            ++queue->busy;
            queue->ready.push_back(std::move(item));
          }
        }
        // One wake-up per job (a no-op once every thread is awake): waking
        // every thread for a few jobs costs more than the jobs.
        for (std::size_t i = 0; i < jobs->size(); ++i) {
          queue->has_work.notify_one();
        }
      }
      if (!recorded) {
        if (auto ok = m_store.record(outcomes, now); !ok) {
          put_back(outcomes);
          return tl::unexpected(ok.error());
        }
        count(outcomes, summary, failed_ids);
      }
      return claimed_any;
    };
    auto stepped = step();
    if (!stepped) {
      // A busy or failing store: log, back off briefly and try again; give
      // up only when it keeps failing, after letting running jobs finish.
      m_log->error("store error={} attempt={}", stepped.error().message, store_errors + 1);
      if (++store_errors >= 20) {
        result = tl::unexpected(stepped.error());
        stop();
      }
    } else {
      store_errors = 0;
    }

    std::unique_lock lock{m_mutex};
    if (m_stopping) {
      // Jobs claimed but not started go back to the queue, uncounted, and so
      // do jobs abandoned at shutdown.
      std::vector<std::int64_t> unstarted = std::exchange(m_abandoned, {});
      for (auto& [name, queue] : m_queues) {
        for (const auto& item : queue->ready) {
          unstarted.push_back(item.job.id);
          m_in_flight.erase(item.job.id);
        }
        queue->busy -= queue->ready.size();
        queue->ready.clear();
      }
      if (!unstarted.empty()) {
        lock.unlock();
        if (auto released = m_store.release(unstarted); !released) {
          m_log->error("release failed jobs={} error={} (they will be rescued)", unstarted.size(),
                       released.error().message);
        }
        lock.lock();
      }
    }
    std::size_t busy = 0;
    for (auto& [name, queue] : m_queues) {
      busy += queue->busy;
    }
    const bool idle = stepped && !*stepped && busy == 0 && m_outcomes.empty();
    if ((m_stopping && busy == 0 && m_outcomes.empty()) || (m_options.drain == Drain::yes && idle && !m_notified)) {
      break;
    }
    if (stepped && *stepped) {
      continue;  // more may be due right away
    }
    // Sleep until a worker reports, a job is inserted, stop, a timeout or
    // heartbeat is due, or the poll interval passes.
    UnixMicros wake_at = now + micros(stepped ? m_options.poll_interval : core::Millis{100});
    wake_at = std::min(wake_at, next_heartbeat);
    for (const auto& [id, flight] : m_in_flight) {
      if (flight->deadline != 0 && !flight->timed_out) {
        wake_at = std::min(wake_at, flight->deadline);
      }
    }
    m_notified = false;
    const auto wait_for = std::chrono::microseconds{std::max<UnixMicros>(0, wake_at - core::now_micros())};
    m_wake.wait_for(lock, wait_for, [&] { return m_stopping || m_notified || m_wanted; });
    m_wanted = false;
  }

  // Stop the worker threads (all idle now), record what is left.
  for (auto& [name, queue] : m_queues) {
    queue->threads.clear();
  }
  if (!m_abandoned.empty()) {
    if (auto released = m_store.release(m_abandoned); !released) {
      m_log->error("release failed jobs={} error={} (they will be rescued)", m_abandoned.size(),
                   released.error().message);
    }
    m_abandoned.clear();
  }
  if (auto ok = flush(summary, failed_ids); !ok && result) {
    result = tl::unexpected(ok.error());
  }
  (void)m_store.remove_node(m_node.id);
  if (!result) {
    return result;
  }
  // A failure that used the last attempt was recorded as discarded by the
  // store; count those from the jobs themselves.
  if (summary.retryable > 0) {
    std::size_t discarded = 0;
    for (const auto id : failed_ids) {
      auto job = m_store.job(id);
      if (job && *job && (*job)->state == core::JobState::discarded) {
        ++discarded;
      }
    }
    const std::size_t already = summary.discarded;
    const std::size_t extra = discarded > already ? discarded - already : 0;
    summary.discarded += extra;
    summary.retryable -= std::min(summary.retryable, extra);
  }
  return summary;
}

}  // namespace vibe::jobs
