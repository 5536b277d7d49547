#pragma once

#include "core/config.hpp"
#include "core/store/store.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

namespace vibe::core {

// The single writer of the store. Collects write requests from many producers
// and commits them in one transaction per batch. submit() returns a future
// that completes when the request is durable or its batch failed; callers
// acknowledge upstream (webhook 2xx, job done, "new" counts) only then.
// Thread-safe. A batch closes at `max_events` pending events or when its
// oldest request has waited `max_delay`, whichever comes first; under load a
// batch takes everything queued, so batches grow as producers outpace commits.
class BatchWriter {
public:
  struct Counters {
    std::uint64_t batches = 0;
    std::uint64_t events = 0;
    std::uint64_t failed_batches = 0;
    std::uint64_t pending_events = 0;  // queued, not yet committed
  };

  BatchWriter(Store& store, BufferConfig limits, std::shared_ptr<spdlog::logger> log);
  ~BatchWriter();  // stop()
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Queues `request`. Blocks while more than `max_pending` events wait
  // (back-pressure instead of unbounded memory). After stop() the future
  // holds Errc::cancelled.
  std::future<Result<WriteResult>> submit(WriteRequest request);

  // Commits what is queued, then joins the writer thread. Idempotent.
  void stop();

  Counters counters() const;

private:
  struct Pending {
    WriteRequest request;
    std::promise<Result<WriteResult>> done;
    std::chrono::steady_clock::time_point queued_at;
  };

  void run();
  void commit(std::deque<Pending>& batch);

  Store& m_store;
  BufferConfig m_limits;
  std::shared_ptr<spdlog::logger> m_log;

  mutable std::mutex m_mutex;
  std::condition_variable m_wake;        // the writer: work arrived or stop
  std::condition_variable m_space;       // producers: pending dropped below max_pending
  std::deque<Pending> m_queue;           // guarded by m_mutex
  std::size_t m_pending_events = 0;      // guarded by m_mutex
  bool m_stopping = false;               // guarded by m_mutex
  Counters m_counters;                   // guarded by m_mutex
  std::thread m_thread;
};

}  // namespace vibe::core
