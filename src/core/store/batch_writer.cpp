// Group commit. Producers append requests to one queue and wait on a future.
// The writer thread sleeps until the queue is non-empty, then waits until
// either `max_events` events are pending or the oldest request has waited
// `max_delay`, takes everything queued, and commits it as one transaction.
// While it commits, new requests pile up; the next batch takes them all. So
// when idle a lone request waits at most `max_delay`, and under load the
// batch size grows to match the commit time, which is what makes SQLite fast
// (one fsync and one pass over the unique index per batch, PERF-NOTES.md).
// If a commit fails, every request in that batch gets the error.
#include "core/store/batch_writer.hpp"

#include <fmt/format.h>

namespace vibe::core {

BatchWriter::BatchWriter(Store& store, BufferConfig limits, std::shared_ptr<spdlog::logger> log)
    : m_store(store), m_limits(limits), m_log(std::move(log)), m_thread([this] { run(); }) {}

BatchWriter::~BatchWriter() {
  stop();
}

std::future<Result<WriteResult>> BatchWriter::submit(WriteRequest request) {
  Pending pending{std::move(request), {}, std::chrono::steady_clock::now()};
  auto future = pending.done.get_future();
  const std::size_t count = pending.request.events.size();
  std::unique_lock lock{m_mutex};
  // A request larger than max_pending on its own is let through when the
  // queue is empty, or it could never be written.
  m_space.wait(lock, [&] {
    return m_stopping || m_pending_events == 0 || m_pending_events + count <= m_limits.max_pending;
  });
  if (m_stopping) {
    pending.done.set_value(fail(Errc::cancelled, "store writer is stopping"));
    return future;
  }
  m_pending_events += count;
  m_queue.push_back(std::move(pending));
  lock.unlock();
  m_wake.notify_one();
  return future;
}

void BatchWriter::stop() {
  {
    std::lock_guard lock{m_mutex};
    if (m_stopping && !m_thread.joinable()) {
      return;
    }
    m_stopping = true;
  }
  m_wake.notify_one();
  m_space.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

BatchWriter::Counters BatchWriter::counters() const {
  std::lock_guard lock{m_mutex};
  Counters out = m_counters;
  out.pending_events = m_pending_events;
  return out;
}

void BatchWriter::run() {
  std::unique_lock lock{m_mutex};
  for (;;) {
    m_wake.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
    if (m_queue.empty()) {
      return;  // stopping, and everything queued is committed
    }
    const auto deadline = m_queue.front().queued_at + m_limits.max_delay;
    m_wake.wait_until(lock, deadline, [&] { return m_stopping || m_pending_events >= m_limits.max_events; });
    std::deque<Pending> batch;
    batch.swap(m_queue);
    lock.unlock();
    commit(batch);
    lock.lock();
  }
}

void BatchWriter::commit(std::deque<Pending>& batch) {
  std::vector<WriteRequest> requests;
  requests.reserve(batch.size());
  std::size_t events = 0;
  for (auto& pending : batch) {
    events += pending.request.events.size();
    requests.push_back(std::move(pending.request));
  }
  auto results = m_store.write(requests, now_micros());
  {
    std::lock_guard lock{m_mutex};
    m_pending_events -= events;
    ++m_counters.batches;
    if (results) {
      m_counters.events += events;
    } else {
      ++m_counters.failed_batches;
    }
  }
  m_space.notify_all();
  if (!results) {
    m_log->error("batch commit failed requests={} events={} error={}", batch.size(), events, results.error().message);
    for (auto& pending : batch) {
      pending.done.set_value(tl::unexpected(results.error()));
    }
    return;
  }
  m_log->debug("batch committed requests={} events={}", batch.size(), events);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].done.set_value(std::move((*results)[i]));
  }
}

}  // namespace vibe::core
