#pragma once

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/poller.hpp"
#include "core/store/store.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vibe::core {

class BatchWriter;

// The stream coordinator of `vibe serve`: which sources run, when each polls,
// and how each is supervised.
//
// A source runs when it belongs to no stream or to at least one active one
// (a source shared by two active streams is polled once). Each running pull
// source has a timer on the event loop; when it fires the poll itself runs
// on a pool of poll threads (curl and SQLite stay off the loop), and polls of
// one source never overlap. After downtime a source polls once, at once,
// not once per missed interval.
//
// Supervision (SourceHealth): an adapter that throws is restarted with
// capped, jittered backoff and marked failed after too many restarts in the
// window; consecutive failed polls open a circuit breaker that probes once
// after a cool-down. Thread-safe.
class Coordinator final : public PollTrigger {
public:
  struct Deps {
    Store& store;
    BatchWriter& writer;
    const Logging& logging;
    boost::asio::io_context& loop;
    std::size_t poll_threads = 10;
  };

  struct ReloadSummary {
    std::vector<std::string> added;
    std::vector<std::string> removed;
    std::vector<std::string> changed;
  };

  Coordinator(Deps deps, std::shared_ptr<const Config> config);
  ~Coordinator() override;
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Reads the streams' desired states and launches the sources that run.
  Result<void> start();

  // Switches to `config` (already checked, its catalog already synced):
  // added sources start, removed ones stop, changed ones restart; the others
  // keep running untouched.
  Result<ReloadSummary> apply(std::shared_ptr<const Config> config);

  // Records and applies a stream's desired state. Returns once no poll of a
  // source that stopped running is in flight, so a paused stream's sources
  // send no more requests. Starting a stream also clears its failed sources.
  Result<StreamRecord> set_stream(const std::string& id, StreamState state);

  Result<void> poll_now(const std::string& source_id) override;

  // Whether a pushed source (webhook) takes a request now.
  enum class PushCheck { accept, unknown, not_pushed, paused, stopping };
  PushCheck push_check(const std::string& source_id);
  // Records that a request to pushed source `source_id` stored `new_events`.
  void pushed(const std::string& source_id, std::size_t new_events);

  // For /metrics: polls by source and outcome, and their durations.
  struct PollMetrics {
    std::map<std::pair<std::string, std::string>, std::uint64_t> counts;  // (source, outcome) -> polls
    Histogram seconds;
  };
  PollMetrics poll_metrics();

  // JSON for the control socket (documented in vibe-serve(1)).
  nlohmann::json streams_json();
  Result<nlohmann::json> stream_json(const std::string& id);
  nlohmann::json summary_json();

  // Starts no more polls and waits up to `timeout` for those in flight (their
  // events are committed when they return). Returns whether all finished.
  bool stop(Millis timeout);
  // Ends the fetches of polls still in flight (after stop() timed out); their
  // results are not stored.
  void cancel_polls();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace vibe::core
