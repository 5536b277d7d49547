// Group commit. Producers append requests to their own queue and wait on a
// future. The writer thread sleeps until something is queued, then waits
// until either `max_events` events are pending or the oldest request has
// waited `max_delay` (or a client waits on one of them), takes up to
// `max_events` events round-robin across the producers, and commits them as
// one transaction. While it commits, new requests pile up; the next batch
// takes them. So when idle a lone background request waits at most
// `max_delay` (a waited-on one not at all), and under load batches fill up
// to `max_events`, which is what makes SQLite fast (one fsync and one pass
// over the unique index per batch, PERF-NOTES.md).
#include "core/store/batch_writer.hpp"

#include <fmt/format.h>

#include <algorithm>

#include <pthread.h>

namespace vibe::core {

namespace {

constexpr double k_batch_size_bounds[] = {1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000};
constexpr double k_commit_second_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
constexpr Millis k_max_failure_backoff{5'000};

// Which producer a request comes from: its source.
std::string producer_of(const WriteRequest& request) {
  if (request.state) {
    return request.state->source_id;
  }
  return request.events.empty() ? std::string{} : request.events.front().source_id;
}

}  // namespace

BatchWriter::BatchWriter(Store& store, BufferConfig limits, std::shared_ptr<spdlog::logger> log)
    : m_store(store),
      m_limits(limits),
      m_log(std::move(log)),
      m_batch_sizes(k_batch_size_bounds),
      m_commit_seconds(k_commit_second_bounds),
      m_thread([this] { run(); }) {
  ::pthread_setname_np(m_thread.native_handle(), "vibe-writer");
}

BatchWriter::~BatchWriter() {
  stop();
}

void BatchWriter::enqueue_locked(Pending pending) {
  std::string producer = producer_of(pending.request);
  m_pending_events += pending.request.events.size();
  ++m_queued_requests;
  m_queued_waited_on += pending.request.waited_on ? 1 : 0;
  auto& queue = m_queues[producer];
  if (queue.empty()) {
    m_turn.push_back(std::move(producer));
  }
  queue.push_back(std::move(pending));
}

std::future<Result<WriteResult>> BatchWriter::submit(WriteRequest request) {
  Pending pending{std::move(request), {}, {}, std::chrono::steady_clock::now()};
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
  enqueue_locked(std::move(pending));
  lock.unlock();
  m_wake.notify_one();
  return future;
}

Result<void> BatchWriter::admit_locked(std::size_t count) {
  if (m_stopping) {
    return fail(Errc::cancelled, "store writer is stopping");
  }
  if (m_pending_events != 0 && m_pending_events + count > m_limits.max_pending) {
    ++m_counters.rejected;
    return fail(Errc::unavailable, fmt::format("the store writer is full: {} events wait to be committed "
                                               "(buffer.max_pending {}); try again shortly",
                                               m_pending_events, m_limits.max_pending));
  }
  return {};
}

Result<std::future<Result<WriteResult>>> BatchWriter::try_submit(WriteRequest request) {
  std::unique_lock lock{m_mutex};
  if (auto ok = admit_locked(request.events.size()); !ok) {
    return tl::unexpected(ok.error());
  }
  Pending pending{std::move(request), {}, {}, std::chrono::steady_clock::now()};
  auto future = pending.done.get_future();
  enqueue_locked(std::move(pending));
  lock.unlock();
  m_wake.notify_one();
  return future;
}

Result<void> BatchWriter::try_submit(WriteRequest request, Done done) {
  std::unique_lock lock{m_mutex};
  if (auto ok = admit_locked(request.events.size()); !ok) {
    return ok;
  }
  enqueue_locked(Pending{std::move(request), {}, std::move(done), std::chrono::steady_clock::now()});
  lock.unlock();
  m_wake.notify_one();
  return {};
}

void BatchWriter::stop_delaying() {
  {
    std::lock_guard lock{m_mutex};
    m_no_delay = true;
  }
  m_wake.notify_one();
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

Histogram BatchWriter::batch_sizes() const {
  std::lock_guard lock{m_mutex};
  return m_batch_sizes;
}

Histogram BatchWriter::commit_seconds() const {
  std::lock_guard lock{m_mutex};
  return m_commit_seconds;
}

std::chrono::steady_clock::time_point BatchWriter::oldest_locked() const {
  auto oldest = std::chrono::steady_clock::time_point::max();
  for (const auto& producer : m_turn) {
    oldest = std::min(oldest, m_queues.at(producer).front().queued_at);
  }
  return oldest;
}

std::deque<BatchWriter::Pending> BatchWriter::take_batch_locked() {
  std::deque<Pending> batch;
  std::size_t events = 0;
  // One request per producer per turn, until the batch is full or all is taken.
  while (!m_turn.empty()) {
    std::string producer = std::move(m_turn.front());
    m_turn.pop_front();
    auto it = m_queues.find(producer);
    const std::size_t size = it->second.front().request.events.size();
    if (!batch.empty() && events + size > m_limits.max_events) {
      m_turn.push_front(std::move(producer));  // its turn comes first next batch
      break;
    }
    events += size;
    m_queued_waited_on -= it->second.front().request.waited_on ? 1 : 0;
    batch.push_back(std::move(it->second.front()));
    it->second.pop_front();
    --m_queued_requests;
    if (it->second.empty()) {
      m_queues.erase(it);
    } else {
      m_turn.push_back(std::move(producer));
    }
    if (events >= m_limits.max_events) {
      break;
    }
  }
  return batch;
}

void BatchWriter::run() {
  Millis backoff{0};
  std::unique_lock lock{m_mutex};
  for (;;) {
    m_wake.wait(lock, [&] { return m_stopping || m_queued_requests != 0; });
    if (m_queued_requests == 0) {
      return;  // stopping, and everything queued is committed
    }
    const auto deadline = oldest_locked() + m_limits.max_delay;
    m_wake.wait_until(lock, deadline, [&] {
      return m_stopping || m_no_delay || m_pending_events >= m_limits.max_events || m_queued_waited_on != 0;
    });
    std::deque<Pending> batch = take_batch_locked();
    lock.unlock();
    const bool ok = commit(batch);
    if (!ok) {
      // Disk full, a lock held elsewhere: give it a moment, longer each time.
      backoff = std::min(k_max_failure_backoff, std::max(Millis{50}, backoff * 2));
      lock.lock();
      m_wake.wait_for(lock, backoff, [&] { return m_stopping; });
      continue;
    }
    backoff = Millis{0};
    lock.lock();
  }
}

bool BatchWriter::commit(std::deque<Pending>& batch) {
  std::vector<WriteRequest> requests;
  requests.reserve(batch.size());
  std::size_t events = 0;
  for (auto& pending : batch) {
    events += pending.request.events.size();
    requests.push_back(std::move(pending.request));
  }
  const auto started = std::chrono::steady_clock::now();
  const UnixMicros now = now_micros();
  auto results = m_store.write(requests, now);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard lock{m_mutex};
    m_pending_events -= events;
    ++m_counters.batches;
    m_batch_sizes.observe(static_cast<double>(events));
    m_commit_seconds.observe(seconds);
    if (results) {
      m_counters.events += events;
      m_counters.degraded = false;
      m_counters.last_commit_at = now;
    } else {
      ++m_counters.failed_batches;
      m_counters.degraded = true;
      m_counters.last_error = results.error().message;
    }
  }
  m_space.notify_all();
  if (!results) {
    m_log->error("batch commit failed requests={} events={} error={}", batch.size(), events, results.error().message);
    for (auto& pending : batch) {
      pending.settle(tl::unexpected(results.error()));
    }
    return false;
  }
  m_log->debug("batch committed requests={} events={} seconds={:.6f}", batch.size(), events, seconds);
  if (m_on_commit) {
    m_on_commit(requests, *results, now);
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].settle(std::move((*results)[i]));
  }
  return true;
}

}  // namespace vibe::core
