#pragma once

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "core/store/store.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace vibe::core {

// The single writer of the store (DESIGN.md §4, the hot path). Collects
// write requests from many producers and commits them in one transaction per
// batch. submit() returns a future that completes when the request is
// durable or its batch failed; callers acknowledge upstream (webhook 2xx,
// job done, "new" counts) only then. Thread-safe.
//
// A batch closes when `max_events` events wait, the oldest request has
// waited `max_delay` (0: as soon as the previous commit ends), or a request
// that a client waits on (`waited_on`: a webhook's 202) is queued, and takes
// at most `max_events` events (a single larger request goes alone). The
// delay batches background writes (polls, jobs) that nobody waits for; a
// waiting client sends nothing more until it is answered, so delaying its
// commit would cap its rate at (its connections / max_delay) without making
// batches larger. Under load batches still grow: whatever arrives during a
// commit goes into the next. Requests queue per producer (their source) and
// batches take from the producers round-robin, one request each per turn,
// so a flooding source delays another's events by at most one batch. Above `max_pending` queued events
// submit() blocks and try_submit() refuses at once: memory stays bounded at
// any input rate. A failed commit fails every request of that batch with the
// error; the writer then waits (backoff, doubling up to 5 s) before the next
// commit and reports itself degraded until one succeeds.
class BatchWriter {
public:
  struct Counters {
    std::uint64_t batches = 0;
    std::uint64_t events = 0;          // committed
    std::uint64_t failed_batches = 0;
    std::uint64_t pending_events = 0;  // queued, not yet committed
    std::uint64_t rejected = 0;        // try_submit() refusals
    bool degraded = false;             // the last commit failed
    std::string last_error;            // of the last failed commit
    UnixMicros last_commit_at = 0;     // of the last successful commit; 0: none yet
  };

  BatchWriter(Store& store, BufferConfig limits, std::shared_ptr<spdlog::logger> log);
  ~BatchWriter();  // stop()
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Queues `request`, blocking while more than `max_pending` events wait.
  // After stop() the future holds Errc::cancelled.
  std::future<Result<WriteResult>> submit(WriteRequest request);

  // Like submit(), but never blocks: above `max_pending` it returns
  // Errc::unavailable with the reason (callers answer 429/503 + Retry-After).
  Result<std::future<Result<WriteResult>>> try_submit(WriteRequest request);

  // Like try_submit(), but the outcome goes to `done`, called once on the
  // writer thread after the commit or its failure; `done` must not block.
  // A request refused (Errc::unavailable) or coming after stop()
  // (Errc::cancelled) is not queued and `done` is not called.
  using Done = std::function<void(Result<WriteResult>)>;
  Result<void> try_submit(WriteRequest request, Done done);

  // Called on the writer thread after each successful commit, before the
  // producers learn of it, with the batch's requests, their results (ids;
  // 0 for a duplicate) and the ingest time: how committed events reach the
  // bus. Set it before the first submit.
  using OnCommit =
      std::function<void(std::span<const WriteRequest>, std::span<const WriteResult>, UnixMicros ingested_at)>;
  void set_on_commit(OnCommit on_commit) { m_on_commit = std::move(on_commit); }

  // From now on every batch closes as if a client waited on it (no
  // max_delay): at shutdown, producers waiting on commits finish at once.
  void stop_delaying();

  // Commits what is queued, then joins the writer thread. Idempotent.
  void stop();

  Counters counters() const;
  // Batch sizes (events) and commit durations (seconds).
  Histogram batch_sizes() const;
  Histogram commit_seconds() const;

private:
  struct Pending {
    WriteRequest request;
    std::promise<Result<WriteResult>> done;  // unless `then` is set
    Done then;
    std::chrono::steady_clock::time_point queued_at;

    void settle(Result<WriteResult> result) {
      if (then) {
        then(std::move(result));
      } else {
        done.set_value(std::move(result));
      }
    }
  };

  // Whether `count` more events may queue; counts a refusal. REQUIRES: m_mutex is held.
  Result<void> admit_locked(std::size_t count);

  // REQUIRES: m_mutex is held.
  void enqueue_locked(Pending pending);
  std::deque<Pending> take_batch_locked();
  std::chrono::steady_clock::time_point oldest_locked() const;

  void run();
  bool commit(std::deque<Pending>& batch);

  Store& m_store;
  BufferConfig m_limits;
  std::shared_ptr<spdlog::logger> m_log;
  OnCommit m_on_commit;

  mutable std::mutex m_mutex;
  std::condition_variable m_wake;        // the writer: work arrived or stop
  std::condition_variable m_space;       // producers: pending dropped below max_pending
  // Guarded by m_mutex: queued requests per producer, and the round-robin
  // order of producers with something queued (m_turn: who goes next).
  std::map<std::string, std::deque<Pending>> m_queues;
  std::deque<std::string> m_turn;
  std::size_t m_queued_requests = 0;
  std::size_t m_queued_waited_on = 0;  // queued requests with waited_on set
  std::size_t m_pending_events = 0;
  bool m_stopping = false;
  bool m_no_delay = false;  // stop_delaying()
  Counters m_counters;
  Histogram m_batch_sizes;
  Histogram m_commit_seconds;
  std::thread m_thread;
};

}  // namespace vibe::core
