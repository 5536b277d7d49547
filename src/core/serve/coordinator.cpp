#include "core/serve/coordinator.hpp"

#include "core/serve/health.hpp"
#include "core/serve/offline.hpp"
#include "core/store/batch_writer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>

namespace vibe::core {

namespace asio = boost::asio;

namespace {

constexpr UnixMicros k_minute = 60 * k_micros_per_second;

UnixMicros micros(Millis d) {
  return d.count() * 1000;
}

HealthPolicy policy_of(const ServeConfig& serve) {
  HealthPolicy p;
  p.max_restarts = serve.max_restarts;
  p.window = serve.restart_window;
  p.backoff = serve.restart_backoff;
  p.backoff_max = serve.restart_backoff_max;
  p.breaker_failures = serve.breaker_failures;
  p.breaker_cooldown = serve.breaker_cooldown;
  return p;
}

// Whether two configurations of one source poll the same way. Values are
// compared too: a changed ${VAR} changes the source without changing its text.
bool same_source(const SourceConfig& a, const SourceConfig& b) {
  if (a.type != b.type || a.options.all().size() != b.options.all().size()) {
    return false;
  }
  for (const auto& [name, value] : a.options.all()) {
    const auto it = b.options.all().find(name);
    if (it == b.options.all().end() || it->second.value != value.value || it->second.display != value.display) {
      return false;
    }
  }
  return true;
}

}  // namespace

// One source under supervision. Guarded by Impl::mutex, except `timer`,
// whose operations also happen only under that mutex.
constexpr double k_poll_second_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

struct Slot {
  std::string id;
  std::shared_ptr<const Config> config;  // keeps `source` alive
  const SourceConfig* source = nullptr;
  std::shared_ptr<spdlog::logger> log;
  std::unique_ptr<asio::steady_timer> timer;
  SourceHealth health;
  std::uint64_t generation = 0;  // bumped to invalidate a pending timer
  bool wanted = false;           // runs: in no stream, or in an active one
  bool pushed = false;           // a webhook: never polled; takes requests while wanted
  UnixMicros last_push_at = 0;   // pushed: the last request that stored events
  bool removed = false;
  bool in_flight = false;
  bool poll_requested = false;   // poll again as soon as the one in flight ends
  bool restart_pending = false;  // the next poll is a restart after a crash
  UnixMicros last_poll_at = 0;
  UnixMicros next_poll_at = 0;   // 0: none scheduled
  Millis interval{0};            // the current poll interval (changes with every: auto); 0: not set yet
  // (when, new events) in the last minute, at most one entry a second: a
  // webhook source taking thousands of requests a second adds to the last
  // entry instead of growing this.
  std::deque<std::pair<UnixMicros, std::size_t>> recent;

  void count_new(UnixMicros now, std::size_t count) {
    forget_before(now - k_minute);
    if (!recent.empty() && now - recent.back().first < 1'000'000) {
      recent.back().second += count;
    } else {
      recent.emplace_back(now, count);
    }
  }

  void forget_before(UnixMicros when) {
    while (!recent.empty() && recent.front().first <= when) {
      recent.pop_front();
    }
  }

  std::size_t events_last_minute(UnixMicros now) {
    forget_before(now - k_minute);
    std::size_t n = 0;
    for (const auto& [when, count] : recent) {
      n += count;
    }
    return n;
  }
};

struct Coordinator::Impl {
  Deps deps;
  std::shared_ptr<spdlog::logger> log;
  asio::thread_pool pool;

  std::mutex mutex;
  std::condition_variable idle;  // a poll finished
  std::shared_ptr<const Config> config;
  std::map<std::string, std::shared_ptr<Slot>> slots;
  std::map<std::string, StreamRecord> streams;  // the configured ones
  bool stopping = false;
  std::atomic<bool> cancel{false};  // ends fetches in flight (shutdown timeout)
  // Guarded by mutex: what polls did, for /metrics.
  std::map<std::pair<std::string, std::string>, std::uint64_t> poll_counts;
  Histogram poll_seconds{k_poll_second_bounds};
  std::mt19937_64 rng{std::random_device{}()};

  Impl(Deps d, std::shared_ptr<const Config> c)
      : deps(d), log(d.logging.get("serve.coordinator")), pool(std::max<std::size_t>(1, d.poll_threads)),
        config(std::move(c)) {}

  // REQUIRES: mutex held.
  bool wanted_locked(const std::string& source_id) const {
    bool member = false;
    for (const auto& stream : config->streams) {
      if (std::find(stream.sources.begin(), stream.sources.end(), source_id) == stream.sources.end()) {
        continue;
      }
      member = true;
      const auto it = streams.find(stream.id);
      if (it == streams.end() || it->second.desired == StreamState::active) {
        return true;
      }
    }
    return !member;
  }

  std::shared_ptr<Slot> make_slot(const SourceConfig& source) {
    auto slot = std::make_shared<Slot>();
    slot->id = source.id;
    slot->config = config;
    slot->source = &source;
    slot->log = deps.logging.get("source." + source.type + "." + source.id);
    slot->timer = std::make_unique<asio::steady_timer>(deps.loop);
    slot->health = SourceHealth{policy_of(config->serve)};
    slot->pushed = is_pushed_kind(source.type);
    return slot;
  }

  // Arms the slot's timer for `at`. REQUIRES: mutex held.
  void schedule_locked(const std::shared_ptr<Slot>& slot, UnixMicros at) {
    const UnixMicros now = now_micros();
    at = std::max(at, now);
    slot->next_poll_at = at;
    const std::uint64_t generation = ++slot->generation;
    slot->timer->expires_after(std::chrono::microseconds{at - now});
    slot->timer->async_wait([this, slot, generation](const boost::system::error_code& ec) {
      if (!ec) {
        fire(slot, generation);
      }
    });
  }

  // REQUIRES: mutex held.
  void cancel_locked(const std::shared_ptr<Slot>& slot) {
    ++slot->generation;
    slot->next_poll_at = 0;
    slot->timer->cancel();
  }

  void fire(const std::shared_ptr<Slot>& slot, std::uint64_t generation) {
    std::shared_ptr<const Config> config_now;
    const SourceConfig* source = nullptr;
    {
      std::lock_guard lock{mutex};
      if (generation != slot->generation || stopping || slot->removed || !slot->wanted || slot->in_flight ||
          slot->health.health() == Health::failed) {
        return;
      }
      slot->in_flight = true;
      slot->next_poll_at = 0;
      if (slot->restart_pending) {
        slot->restart_pending = false;
        log->info("worker.restarted source={} restarts={}", slot->id, slot->health.restarts());
      }
      config_now = slot->config;
      source = slot->source;
    }
    asio::post(pool, [this, slot, config_now, source] { poll(slot, config_now, *source); });
  }

  // On a pool thread: one poll of one source, then what comes next.
  void poll(const std::shared_ptr<Slot>& slot, const std::shared_ptr<const Config>& config_then,
            const SourceConfig& source) {
    const UnixMicros started = now_micros();
    const std::string ids[] = {source.id};
    Result<PollReport> report = fail(Errc::cancelled, "");
    try {
      report = poll_sources(*config_then, ids, &deps.store, &deps.writer, DryRun::no, slot->log, {}, &cancel);
    } catch (const std::exception& e) {
      report = fail(Errc::parse, fmt::format("poll threw: {}", e.what()));
    }
    SourceReport r;
    if (!report) {
      r.outcome = PollOutcome::failed;
      r.error = report.error().message;
    } else {
      r = std::move(report->sources.at(0));
    }
    finish(slot, source, r, started, r.not_before);
  }

  void finish(const std::shared_ptr<Slot>& slot, const SourceConfig& source, const SourceReport& r,
              UnixMicros started, UnixMicros not_before) {
    std::lock_guard lock{mutex};
    slot->in_flight = false;
    slot->last_poll_at = started;
    idle.notify_all();
    ++poll_counts[{slot->id, std::string{outcome_name(r.outcome)}}];
    poll_seconds.observe(static_cast<double>(now_micros() - started) / 1e6);
    if (slot->removed) {
      return;
    }
    const UnixMicros now = now_micros();
    const PollInterval interval = poll_interval(source.options);
    if (slot->interval.count() == 0) {
      slot->interval = interval.initial();
    }
    UnixMicros next = started + micros(slot->interval);
    switch (r.outcome) {
      case PollOutcome::ok:
      case PollOutcome::not_modified:
        slot->health.succeeded();
        slot->interval = interval.next(slot->interval, r.new_events);
        next = std::max(started + micros(slot->interval), r.not_before);
        if (r.new_events > 0) {
          slot->count_new(now, r.new_events);
          log->info("events.created source={} count={}", slot->id, r.new_events);
        }
        break;
      case PollOutcome::deferred:
        next = std::max(next, not_before);
        break;
      case PollOutcome::failed: {
        const HealthDecision d = slot->health.failed(r.error);
        // Repeated failures back off exponentially: the interval doubled per
        // failure after the first, up to breaker_cooldown (or the interval).
        const auto failures = std::min<std::int64_t>(slot->health.consecutive_failures(), 20);
        if (failures > 1) {
          const Millis cap = std::max(slot->interval, config->serve.breaker_cooldown);
          Millis delay = slot->interval;
          for (std::int64_t k = 1; k < failures && delay < cap; ++k) {
            delay *= 2;
          }
          next = std::max(next, started + micros(std::min(delay, cap)));
        }
        if (d.next == HealthDecision::Next::probe) {
          next = now + micros(d.delay);
          log->warn("source.backing_off source={} failures={} probe_in={} error={}", slot->id,
                    slot->health.consecutive_failures(), format_duration(d.delay), r.error);
        }
        next = std::max(next, not_before);
        break;
      }
      case PollOutcome::crashed: {
        log->warn("worker.died source={} error={}", slot->id, r.error);
        const double jitter = std::uniform_real_distribution<double>{0.0, 1.0}(rng);
        const HealthDecision d = slot->health.crashed(now, r.error, jitter);
        if (d.next == HealthDecision::Next::give_up) {
          log->error("source.failed source={} restarts={} window={} error={}", slot->id, slot->health.restarts(),
                     format_duration(config->serve.restart_window), r.error);
          slot->next_poll_at = 0;
          return;
        }
        slot->restart_pending = true;
        next = now + micros(d.delay);
        break;
      }
    }
    if (stopping || !slot->wanted) {
      return;
    }
    if (slot->poll_requested) {
      slot->poll_requested = false;
      next = now;
    }
    schedule_locked(slot, next);
  }

  // Reads the poll states of `ids` (off the lock: store reads block), then
  // schedules each slot that still wants to run: once, soon, if it is
  // overdue. Overdue polls are spread over up to 10 ms per source launched
  // (never more than the source's interval), so a thousand sources starting
  // together do not all hit their servers in the same instant, and keep
  // that spread on later rounds.
  void launch(const std::vector<std::shared_ptr<Slot>>& to_launch) {
    std::vector<UnixMicros> last(to_launch.size(), 0);
    for (std::size_t i = 0; i < to_launch.size(); ++i) {
      if (auto state = deps.store.poll_state(to_launch[i]->id)) {
        last[i] = state->last_poll_at;
      }
    }
    std::lock_guard lock{mutex};
    const UnixMicros now = now_micros();
    const UnixMicros spread = static_cast<UnixMicros>(to_launch.size()) * 10'000;
    for (std::size_t i = 0; i < to_launch.size(); ++i) {
      const auto& slot = to_launch[i];
      if (stopping || slot->removed || !slot->wanted || slot->in_flight || slot->pushed) {
        continue;
      }
      if (slot->interval.count() == 0) {
        slot->interval = poll_interval(slot->source->options).initial();
      }
      const UnixMicros every = micros(slot->interval);
      UnixMicros at = last[i] == 0 ? now : last[i] + every;
      if (at <= now && to_launch.size() > 1) {
        at = now + std::uniform_int_distribution<UnixMicros>{0, std::min(spread, every)}(rng);
      }
      schedule_locked(slot, at);
    }
  }

  // Recomputes which slots run. Returns the ones that started running and
  // the ones that stopped. REQUIRES: mutex held.
  std::pair<std::vector<std::shared_ptr<Slot>>, std::vector<std::shared_ptr<Slot>>> rewant_locked() {
    std::vector<std::shared_ptr<Slot>> started;
    std::vector<std::shared_ptr<Slot>> stopped;
    for (auto& [id, slot] : slots) {
      const bool wanted = wanted_locked(id);
      if (wanted && !slot->wanted) {
        slot->wanted = true;
        started.push_back(slot);
      } else if (!wanted && slot->wanted) {
        slot->wanted = false;
        slot->poll_requested = false;
        cancel_locked(slot);
        stopped.push_back(slot);
      }
    }
    return {started, stopped};
  }

  // Ends what stopped sources keep between polls (a stream command, an open
  // file). Their polls have settled (wait_settled).
  void release(const std::vector<std::shared_ptr<Slot>>& stopped) {
    for (const auto& slot : stopped) {
      std::string type;
      {
        std::lock_guard lock{mutex};
        if (slot->wanted && !slot->removed) {
          continue;  // running again meanwhile
        }
        type = slot->source->type;
      }
      release_source(type, slot->id);
    }
  }

  // Waits until none of `slots_` has a poll in flight (bounded).
  void wait_settled(const std::vector<std::shared_ptr<Slot>>& waiting, Millis timeout) {
    std::unique_lock lock{mutex};
    idle.wait_for(lock, timeout, [&] {
      return std::none_of(waiting.begin(), waiting.end(), [](const auto& s) { return s->in_flight; });
    });
  }

  Result<void> load_streams() {
    auto records = deps.store.streams();
    if (!records) {
      return tl::unexpected(records.error());
    }
    std::lock_guard lock{mutex};
    streams.clear();
    for (auto& record : *records) {
      if (config->find_stream(record.id) != nullptr) {
        streams.emplace(record.id, std::move(record));
      }
    }
    return {};
  }

  nlohmann::json slot_json(Slot& slot, UnixMicros now) {
    nlohmann::json out{
        {"id", slot.id},
        {"type", slot.source->type},
        {"running", slot.wanted},
        {"polling_now", slot.in_flight},
        {"health", slot.wanted || slot.health.health() == Health::failed
                       ? std::string{health_name(slot.health.health())}
                       : std::string{"idle"}},
        {"last_error", slot.health.last_error()},
        {"last_poll_at", time_or_null(slot.last_poll_at)},
        {"next_poll_at", time_or_null(slot.next_poll_at)},
        {"events_last_minute", slot.events_last_minute(now)},
        {"restarts", slot.health.restarts()},
        {"consecutive_failures", slot.health.consecutive_failures()},
    };
    if (slot.pushed) {
      out["health"] = slot.wanted ? "ok" : "idle";
      out["last_received_at"] = time_or_null(slot.last_push_at);
    }
    return out;
  }

  // REQUIRES: mutex held.
  nlohmann::json stream_json_locked(const StreamConfig& stream, UnixMicros now) {
    nlohmann::json out{{"id", stream.id}, {"title", stream.title}};
    const auto it = streams.find(stream.id);
    const StreamState state = it == streams.end() ? StreamState::active : it->second.desired;
    out["status"] = stream_state_name(state);
    out["session_started_at"] = time_or_null(it == streams.end() ? 0 : it->second.session_started_at);
    out["sources"] = nlohmann::json::array();
    for (const auto& id : stream.sources) {
      if (auto s = slots.find(id); s != slots.end()) {
        out["sources"].push_back(slot_json(*s->second, now));
      }
    }
    return out;
  }
};

Coordinator::Coordinator(Deps deps, std::shared_ptr<const Config> config)
    : m_impl(std::make_unique<Impl>(deps, std::move(config))) {}

Coordinator::~Coordinator() {
  stop(Millis{0});
  cancel_polls();
  m_impl->pool.join();
  for (const auto& [id, slot] : m_impl->slots) {
    release_source(slot->source->type, id);  // stream commands end with serve
  }
}

void Coordinator::cancel_polls() {
  m_impl->cancel = true;
}

Result<void> Coordinator::start() {
  Impl& m = *m_impl;
  if (auto ok = m.load_streams(); !ok) {
    return ok;
  }
  std::vector<std::shared_ptr<Slot>> started;
  {
    std::lock_guard lock{m.mutex};
    for (const auto& source : m.config->sources) {
      m.slots.emplace(source.id, m.make_slot(source));
    }
    started = m.rewant_locked().first;
    for (const auto& [id, record] : m.streams) {
      m.log->info("stream.{} stream={} session_started_at={}",
                  record.desired == StreamState::active ? "started" : stream_state_name(record.desired), id,
                  record.session_started_at == 0 ? "-" : format_rfc3339(record.session_started_at));
    }
  }
  m.launch(started);
  return {};
}

Result<Coordinator::ReloadSummary> Coordinator::apply(std::shared_ptr<const Config> config) {
  Impl& m = *m_impl;
  ReloadSummary summary;
  std::vector<std::shared_ptr<Slot>> to_launch;
  std::vector<std::shared_ptr<Slot>> stopped;
  std::vector<std::pair<std::string, std::string>> to_release;  // (type, id) of changed sources
  {
    std::lock_guard lock{m.mutex};
    std::set<std::string> seen;
    for (const auto& source : config->sources) {
      seen.insert(source.id);
      auto it = m.slots.find(source.id);
      if (it == m.slots.end()) {
        summary.added.push_back(source.id);
        continue;
      }
      const auto& slot = it->second;
      const bool changed = !same_source(*slot->source, source);
      const std::string old_type = slot->source->type;  // the old config may go with the next line
      slot->config = config;
      slot->source = &source;
      slot->pushed = is_pushed_kind(source.type);
      if (changed) {
        summary.changed.push_back(source.id);
        slot->health = SourceHealth{policy_of(config->serve)};
        slot->restart_pending = false;
        slot->interval = Millis{0};  // from the new options
        // A changed command or path starts afresh; released below, off the
        // lock (ending a command may take its grace period).
        to_release.emplace_back(old_type, source.id);
        if (slot->wanted) {
          m.cancel_locked(slot);
          if (slot->in_flight) {
            slot->poll_requested = true;
          } else {
            to_launch.push_back(slot);
          }
        }
      }
    }
    for (auto it = m.slots.begin(); it != m.slots.end();) {
      if (seen.count(it->first) != 0) {
        ++it;
        continue;
      }
      summary.removed.push_back(it->first);
      it->second->removed = true;
      it->second->wanted = false;
      m.cancel_locked(it->second);
      stopped.push_back(it->second);
      it = m.slots.erase(it);
    }
    m.config = config;
    for (const auto& id : summary.added) {
      m.slots.emplace(id, m.make_slot(*config->find_source(id)));
    }
  }
  for (const auto& [type, id] : to_release) {
    release_source(type, id);
  }
  if (auto ok = m.load_streams(); !ok) {
    return tl::unexpected(ok.error());
  }
  {
    std::lock_guard lock{m.mutex};
    auto [started, no_longer] = m.rewant_locked();
    to_launch.insert(to_launch.end(), started.begin(), started.end());
    stopped.insert(stopped.end(), no_longer.begin(), no_longer.end());
  }
  // Changed sources poll at once (their URL or options may be new); added
  // and resumed ones when their interval says.
  std::vector<std::shared_ptr<Slot>> fresh;
  {
    std::lock_guard lock{m.mutex};
    for (const auto& slot : to_launch) {
      const bool changed = std::find(summary.changed.begin(), summary.changed.end(), slot->id) != summary.changed.end();
      if (changed && slot->wanted && !slot->in_flight && !m.stopping) {
        m.schedule_locked(slot, 0);
      } else {
        fresh.push_back(slot);
      }
    }
  }
  m.launch(fresh);
  m.wait_settled(stopped, Millis{30'000});
  m.release(stopped);
  return summary;
}

Result<StreamRecord> Coordinator::set_stream(const std::string& id, StreamState state) {
  Impl& m = *m_impl;
  {
    std::lock_guard lock{m.mutex};
    if (m.config->find_stream(id) == nullptr) {
      return tl::unexpected(unknown_stream(*m.config, id));
    }
  }
  auto record = m.deps.store.set_stream_state(id, state, now_micros());
  if (!record) {
    return record;
  }
  std::vector<std::shared_ptr<Slot>> started;
  std::vector<std::shared_ptr<Slot>> stopped;
  {
    std::lock_guard lock{m.mutex};
    m.streams[id] = *record;
    if (state == StreamState::active) {
      // Starting a stream again is how a user retries its failed sources.
      for (const auto& source_id : m.config->find_stream(id)->sources) {
        if (auto it = m.slots.find(source_id);
            it != m.slots.end() && it->second->health.health() == Health::failed) {
          it->second->health.reset();
          if (it->second->wanted) {
            started.push_back(it->second);
          }
        }
      }
    }
    auto [now_running, not_running] = m.rewant_locked();
    started.insert(started.end(), now_running.begin(), now_running.end());
    stopped = std::move(not_running);
    m.log->info("stream.{} stream={} session_started_at={}",
                state == StreamState::active ? "started" : stream_state_name(state), id,
                record->session_started_at == 0 ? "-" : format_rfc3339(record->session_started_at));
  }
  m.launch(started);
  m.wait_settled(stopped, Millis{30'000});
  m.release(stopped);
  return record;
}

Result<void> Coordinator::poll_now(const std::string& source_id) {
  Impl& m = *m_impl;
  std::lock_guard lock{m.mutex};
  const auto it = m.slots.find(source_id);
  if (it == m.slots.end()) {
    return fail(Errc::not_found, fmt::format("no source named '{}'", source_id));
  }
  const auto& slot = it->second;
  if (slot->pushed) {
    return fail(Errc::usage, fmt::format("source '{}' is a {}: it is pushed, not polled", source_id,
                                         slot->source->type));
  }
  if (m.stopping || !slot->wanted || slot->health.health() == Health::failed) {
    m.log->debug("poll_now skipped source={} (not running)", source_id);
    return {};
  }
  if (slot->in_flight) {
    slot->poll_requested = true;
  } else {
    m.schedule_locked(slot, 0);
  }
  return {};
}

Coordinator::PushCheck Coordinator::push_check(const std::string& source_id) {
  Impl& m = *m_impl;
  std::lock_guard lock{m.mutex};
  const auto it = m.slots.find(source_id);
  if (it == m.slots.end()) {
    return PushCheck::unknown;
  }
  if (!it->second->pushed) {
    return PushCheck::not_pushed;
  }
  if (m.stopping) {
    return PushCheck::stopping;
  }
  return it->second->wanted ? PushCheck::accept : PushCheck::paused;
}

void Coordinator::pushed(const std::string& source_id, std::size_t new_events) {
  Impl& m = *m_impl;
  std::lock_guard lock{m.mutex};
  if (const auto it = m.slots.find(source_id); it != m.slots.end() && new_events > 0) {
    const UnixMicros now = now_micros();
    it->second->count_new(now, new_events);
    it->second->last_push_at = now;
  }
}

Coordinator::PollMetrics Coordinator::poll_metrics() {
  Impl& m = *m_impl;
  std::lock_guard lock{m.mutex};
  return PollMetrics{m.poll_counts, m.poll_seconds};
}

nlohmann::json Coordinator::streams_json() {
  Impl& m = *m_impl;
  std::lock_guard lock{m.mutex};
  const UnixMicros now = now_micros();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& stream : m.config->streams) {
    out.push_back(m.stream_json_locked(stream, now));
  }
  return out;
}

Result<nlohmann::json> Coordinator::stream_json(const std::string& id) {
  Impl& m = *m_impl;
  std::lock_guard lock{m.mutex};
  const StreamConfig* stream = m.config->find_stream(id);
  if (stream == nullptr) {
    return tl::unexpected(unknown_stream(*m.config, id));
  }
  return m.stream_json_locked(*stream, now_micros());
}

nlohmann::json Coordinator::summary_json() {
  Impl& m = *m_impl;
  std::lock_guard lock{m.mutex};
  std::map<std::string, int> streams{{"active", 0}, {"paused", 0}, {"stopped", 0}};
  for (const auto& stream : m.config->streams) {
    const auto it = m.streams.find(stream.id);
    ++streams[std::string{stream_state_name(it == m.streams.end() ? StreamState::active : it->second.desired)}];
  }
  int running = 0;
  int idle = 0;
  int backing_off = 0;
  int failed = 0;
  int in_flight = 0;
  for (const auto& [id, slot] : m.slots) {
    running += slot->wanted ? 1 : 0;
    idle += slot->wanted ? 0 : 1;
    in_flight += slot->in_flight ? 1 : 0;
    backing_off += slot->health.health() == Health::backing_off ? 1 : 0;
    failed += slot->health.health() == Health::failed ? 1 : 0;
  }
  return nlohmann::json{
      {"streams", streams},
      {"sources",
       {{"total", m.slots.size()},
        {"running", running},
        {"idle", idle},
        {"polling_now", in_flight},
        {"backing_off", backing_off},
        {"failed", failed}}},
  };
}

bool Coordinator::stop(Millis timeout) {
  Impl& m = *m_impl;
  std::unique_lock lock{m.mutex};
  m.stopping = true;
  for (auto& [id, slot] : m.slots) {
    m.cancel_locked(slot);
  }
  return m.idle.wait_for(lock, timeout, [&] {
    return std::none_of(m.slots.begin(), m.slots.end(), [](const auto& kv) { return kv.second->in_flight; });
  });
}

}  // namespace vibe::core
