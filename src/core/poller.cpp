#include "core/poller.hpp"

#include "core/feed/date.hpp"
#include "core/net/fetcher.hpp"
#include "core/source.hpp"
#include "core/store/batch_writer.hpp"
#include "core/store/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <optional>

namespace vibe::core {

std::string_view outcome_name(PollOutcome outcome) {
  switch (outcome) {
    case PollOutcome::ok: return "ok";
    case PollOutcome::not_modified: return "not-modified";
    case PollOutcome::deferred: return "deferred";
    case PollOutcome::failed: return "error";
    case PollOutcome::crashed: return "crashed";
  }
  return "?";
}

bool PollReport::any_failed() const {
  return std::any_of(sources.begin(), sources.end(),
                     [](const SourceReport& r) {
                       return r.outcome == PollOutcome::failed || r.outcome == PollOutcome::crashed;
                     });
}

namespace {

// A poll asks for at most this many requests, whatever its source says (a
// safety net under each kind's own page limit).
constexpr std::size_t k_max_requests_per_poll = 200;
// Floors for the next poll (Cache-Control, Expires, rate-limit resets,
// Retry-After) beyond this are not believed.
constexpr UnixMicros k_max_cache_floor = 24LL * 3600 * k_micros_per_second;

struct Target {
  const SourceConfig* config = nullptr;
  std::unique_ptr<Source> source;
  PollState state;
  std::optional<PollContext> context;
  std::size_t outstanding = 0;  // requests of this poll not answered yet
  std::size_t requested = 0;
  bool failed = false;
  bool any_changed = false;     // a 2xx (not every answer a 304)
  Poll gathered;
  std::vector<RawRecord> raw;  // captured responses (a pipeline's poll)
  std::optional<std::future<Result<WriteResult>>> write;
};

// A 2xx response as the raw layer keeps it: the body, the headers a parse
// may need, and which request of the poll it answered (never its secrets).
RawRecord raw_record_of(const FetchRequest& request, const FetchResponse& response, const std::string& shown,
                        UnixMicros fetched_at) {
  RawRecord raw;
  raw.fetched_at = fetched_at;
  raw.kind = "response";
  raw.url = shown;
  raw.method = request.method;
  raw.status = response.status;
  nlohmann::json headers = nlohmann::json::object();
  for (const char* name : {"content-type", "etag", "last-modified", "date", "link"}) {
    if (const std::string_view value = response.header(name); !value.empty()) {
      headers[name] = std::string{value};
    }
  }
  raw.headers = headers.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  raw.request = nlohmann::json{{"tag", request.tag}, {"page", request.page}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  raw.body = response.body;
  return raw;
}

std::string http_reason(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 410: return "Gone";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

std::optional<std::int64_t> header_int(const FetchResponse& response, std::string_view name) {
  const std::string_view value = response.header(name);
  if (value.empty() || value.size() > 18 ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoll(std::string{value});
}

// When a spent rate limit resets (X-RateLimit-Remaining: 0 with
// X-RateLimit-Reset in epoch seconds), or 0.
UnixMicros rate_limit_reset(const FetchResponse& response) {
  const auto remaining = header_int(response, "x-ratelimit-remaining");
  const auto reset = header_int(response, "x-ratelimit-reset");
  if (remaining && *remaining == 0 && reset) {
    return *reset * k_micros_per_second;
  }
  return 0;
}

// How long a response may be reused: Cache-Control max-age (s-maxage is for
// shared caches; no-store/no-cache mean nothing here), else Expires.
UnixMicros cache_floor(const FetchResponse& response, UnixMicros fetched_at) {
  const std::string_view control = response.header("cache-control");
  const auto at = control.find("max-age=");
  if (at != std::string_view::npos && (at == 0 || control[at - 1] == ' ' || control[at - 1] == ',')) {
    std::int64_t seconds = 0;
    std::size_t i = at + 8;
    for (; i < control.size() && control[i] >= '0' && control[i] <= '9' && seconds < 10'000'000; ++i) {
      seconds = seconds * 10 + (control[i] - '0');
    }
    if (i > at + 8) {
      return fetched_at + std::min(seconds * k_micros_per_second, k_max_cache_floor);
    }
  }
  const std::string_view expires = response.header("expires");
  if (!expires.empty()) {
    if (auto when = feed::parse_date(expires)) {
      return std::min(*when, fetched_at + k_max_cache_floor);
    }
  }
  return 0;
}

}  // namespace

namespace {

// Where a poll's results go: the writer, the caller (dry run), or the caller
// with the state and raw responses (a pipeline's capture).
struct Capture {
  std::vector<CapturedPoll>* out = nullptr;
};

Result<PollReport> poll_selected(const Config& config, std::span<const SourceConfig* const> selected, Store* store,
                                 BatchWriter* writer, DryRun dry_run, const std::shared_ptr<spdlog::logger>& log,
                                 const PollProgress& progress, const std::atomic<bool>* cancel, Capture capture);

}  // namespace

Result<CapturedPoll> poll_capture(const Config& config, const SourceConfig& source, Store& store,
                                  std::shared_ptr<spdlog::logger> log, const std::atomic<bool>* cancel) {
  std::vector<CapturedPoll> out(1);
  const SourceConfig* selected[] = {&source};
  auto report = poll_selected(config, selected, &store, nullptr, DryRun::no, log, {}, cancel, Capture{&out});
  if (!report) {
    return tl::unexpected(report.error());
  }
  out.front().report = std::move(report->sources.front());
  return std::move(out.front());
}

Result<PollReport> poll_sources(const Config& config, std::span<const std::string> source_ids, Store* store,
                                BatchWriter* writer, DryRun dry_run, std::shared_ptr<spdlog::logger> log,
                                const PollProgress& progress, const std::atomic<bool>* cancel) {
  std::vector<const SourceConfig*> selected;
  if (source_ids.empty()) {
    for (const auto& source : config.sources) {
      if (!is_pushed_kind(source.type)) {
        selected.push_back(&source);
      }
    }
  } else {
    for (const auto& id : source_ids) {
      const SourceConfig* source = config.find_source(id);
      if (source == nullptr) {
        std::vector<std::string> ids;
        for (const auto& s : config.sources) {
          ids.push_back(s.id);
        }
        const std::string guess = nearest(id, ids);
        return fail(Errc::usage, fmt::format("no source named '{}' in {}{}", id, config.path.string(),
                                             guess.empty() ? "" : fmt::format(" (did you mean '{}'?)", guess)));
      }
      if (is_pushed_kind(source->type)) {
        return fail(Errc::usage, fmt::format("source '{}' is a {}: it is pushed to vibe serve, not polled", id,
                                             source->type));
      }
      selected.push_back(source);
    }
  }

  return poll_selected(config, selected, store, writer, dry_run, log, progress, cancel, Capture{});
}

namespace {

Result<PollReport> poll_selected(const Config& config, std::span<const SourceConfig* const> selected, Store* store,
                                 BatchWriter* writer, DryRun dry_run, const std::shared_ptr<spdlog::logger>& log,
                                 const PollProgress& progress, const std::atomic<bool>* cancel, Capture capture) {
  configure_host_limits(HostLimits{config.fetch.per_host, config.fetch.host_spacing});
  const UnixMicros started = now_micros();
  PollReport report;
  report.sources.resize(selected.size());
  std::vector<Target> targets(selected.size());
  std::vector<FetchRequest> round;
  std::vector<std::size_t> round_target;  // request index -> target index
  std::vector<std::size_t> local;         // targets of local kinds
  std::size_t fetched = 0;
  std::size_t total = 0;

  auto crashed = [&](std::size_t i, const char* what) {
    targets[i].failed = true;
    report.sources[i].outcome = PollOutcome::crashed;
    report.sources[i].error = fmt::format("source {}: the {} adapter threw: {}", selected[i]->id,
                                          selected[i]->type, what);
    log->debug("poll crashed source={} error={}", selected[i]->id, what);
  };
  // A failure of any part fails the poll: nothing of it is stored.
  auto record_failure = [&](std::size_t i, std::string message) {
    Target& target = targets[i];
    if (target.failed) {
      return;
    }
    target.failed = true;
    report.sources[i].outcome = PollOutcome::failed;
    report.sources[i].error = std::move(message);
    log->info("poll failed source={} error={}", target.config->id, report.sources[i].error);
  };
  auto defer = [&](std::size_t i, UnixMicros until, std::string why) {
    Target& target = targets[i];
    SourceReport& r = report.sources[i];
    until = std::min(until, now_micros() + k_max_cache_floor);  // a bogus reset must not park a source for years
    r.not_before = std::max(r.not_before, until);
    if (target.failed) {
      return;
    }
    target.failed = true;  // nothing of this poll is stored, but it is no failure
    r.outcome = PollOutcome::deferred;
    r.error = std::move(why);
    log->info("poll deferred source={} until={}", target.config->id, format_rfc3339_seconds(until));
  };

  for (std::size_t i = 0; i < selected.size(); ++i) {
    Target& target = targets[i];
    target.config = selected[i];
    report.sources[i].source_id = selected[i]->id;
    const SourceKind* kind = find_source_kind(selected[i]->type);
    try {
      target.source = kind->make(SourceSpec{selected[i]->id, selected[i]->type, config.stream_of(selected[i]->id),
                                            selected[i]->options});
    } catch (const std::exception& e) {
      crashed(i, e.what());
      continue;
    }
    if (dry_run == DryRun::no) {
      auto state = store->poll_state(selected[i]->id);
      if (!state) {
        return tl::unexpected(state.error());
      }
      target.state = *state;
      if (target.state.retry_not_before > started) {
        report.sources[i].outcome = PollOutcome::deferred;
        report.sources[i].not_before = target.state.retry_not_before;
        report.sources[i].error =
            fmt::format("server asked to wait until {}", format_rfc3339_seconds(target.state.retry_not_before));
        target.failed = true;
        continue;
      }
    }
    nlohmann::json memo = nullptr;
    if (!target.state.memo.empty()) {
      memo = nlohmann::json::parse(target.state.memo, nullptr, false);
      if (memo.is_discarded()) {
        memo = nullptr;  // unreadable: start over, as on a first poll
      }
    }
    target.context.emplace(PollContext{target.state, target.state.etag, target.state.last_modified, std::move(memo)});
    if (target.source->is_local()) {
      local.push_back(i);
      continue;
    }
    try {
      for (auto& request : target.source->requests(*target.context)) {
        round.push_back(std::move(request));
        round_target.push_back(i);
        ++target.outstanding;
        ++target.requested;
      }
    } catch (const std::exception& e) {
      crashed(i, e.what());
      continue;
    }
  }
  total = round.size() + local.size();

  // Writes a finished target's events and new state (not in a dry run).
  auto finish_target = [&](std::size_t i) {
    Target& target = targets[i];
    SourceReport& r = report.sources[i];
    if (r.outcome == PollOutcome::crashed && !target.context) {
      return;  // made nothing: no state to record
    }
    const UnixMicros fetched_at = now_micros();
    SourceStateUpdate update{target.config->id, target.state, 0, {}};
    update.state.last_poll_at = fetched_at;
    if (r.outcome == PollOutcome::deferred) {
      update.state.retry_not_before = r.not_before;
      update.state.last_error = r.error;
    } else if (target.failed) {
      update.state.last_error = r.error;
      ++update.state.consecutive_failures;
      update.state.retry_not_before = r.not_before;
    } else {
      r.outcome = target.any_changed || target.requested == 0 ? PollOutcome::ok : PollOutcome::not_modified;
      r.skipped = target.gathered.skipped.size();
      r.notes = target.gathered.skipped;
      r.notes.insert(r.notes.end(), target.gathered.warnings.begin(), target.gathered.warnings.end());
      for (const auto& note : r.notes) {
        log->info("source={} {}", target.config->id, note);
      }
      update.skipped = static_cast<std::int64_t>(r.skipped);
      update.notes = r.notes;
      update.state.etag = target.context->etag;
      update.state.last_modified = target.context->last_modified;
      update.state.memo = target.context->memo.is_null()
                              ? std::string{}
                              : target.context->memo.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      update.state.last_error.clear();
      update.state.consecutive_failures = 0;
      update.state.last_success_at = fetched_at;
      update.state.retry_not_before = r.not_before;
    }
    r.next = update.state;
    if (dry_run == DryRun::yes) {
      if (!target.failed) {
        r.new_events = target.gathered.events.size();
        for (auto& event : target.gathered.events) {
          report.events.push_back(std::move(event));
        }
      }
      return;
    }
    if (capture.out != nullptr) {
      CapturedPoll& captured = (*capture.out)[i];
      if (!target.failed) {
        captured.events = std::move(target.gathered.events);
        captured.raw = std::move(target.raw);
      }
      captured.state = std::move(update);
      return;
    }
    WriteRequest write;
    if (!target.failed) {
      write.events = std::move(target.gathered.events);
    }
    write.state = std::move(update);
    target.write = writer->submit(std::move(write));
  };

  // Runs on this thread as each fetch completes: parse, gather, and once a
  // source's poll has no request left, hand it to the writer without
  // waiting, so committing overlaps with the transfers still in flight.
  for (std::size_t i = 0; i < targets.size(); ++i) {
    Target& target = targets[i];
    if (target.context && !target.failed && !target.source->is_local() && target.requested == 0) {
      finish_target(i);  // nothing to ask for this time
    }
  }

  std::vector<FetchRequest> next_round;
  std::vector<std::size_t> next_target;

  while (!round.empty()) {
    next_round.clear();
    next_target.clear();
    auto handle = [&](std::size_t request_index, Result<FetchResponse> response) {
      const std::size_t i = round_target[request_index];
      Target& target = targets[i];
      SourceReport& r = report.sources[i];
      const FetchRequest& request = round[request_index];
      --target.outstanding;
      const UnixMicros fetched_at = now_micros();
      const std::string shown = request.display_url.empty() ? redact_url(request.url) : request.display_url;
      if (!response) {
        r.requests.push_back({shown, request.method, 0, {}});
        if (response.error().code == Errc::cancelled) {
          // Not the source's fault: nothing to remember about it.
          target.failed = true;
          r.outcome = PollOutcome::failed;
          r.error = response.error().message;
          target.context.reset();
        } else {
          record_failure(i, fmt::format("source {}: {}", target.config->id, response.error().message));
        }
      } else if (target.failed) {
        r.requests.push_back({shown, request.method, response->status, response->elapsed});
      } else {
        r.http_status = response->status;
        r.elapsed += response->elapsed;
        r.requests.push_back({shown, request.method, response->status, response->elapsed});
        const long status = response->status;
        const UnixMicros reset = rate_limit_reset(*response);
        if (status == 304 || (status >= 200 && status < 300)) {
          r.not_before = std::max({r.not_before, std::min(reset, fetched_at + k_max_cache_floor),
                                   cache_floor(*response, fetched_at)});
        }
        if (status == 304) {
          // Not modified: this part has nothing new.
        } else if (status >= 200 && status < 300) {
          target.any_changed = true;
          if (capture.out != nullptr) {
            target.raw.push_back(raw_record_of(request, *response, shown, fetched_at));
          }
          Result<Poll> parsed = fail(Errc::parse, "");
          try {
            parsed = target.source->parse(request, *response, *target.context, fetched_at);
          } catch (const std::exception& e) {
            crashed(i, e.what());
          }
          if (r.outcome == PollOutcome::crashed) {
            // reported by crashed()
          } else if (!parsed) {
            record_failure(i, parsed.error().message);
          } else {
            auto& g = target.gathered;
            std::move(parsed->events.begin(), parsed->events.end(), std::back_inserter(g.events));
            std::move(parsed->skipped.begin(), parsed->skipped.end(), std::back_inserter(g.skipped));
            std::move(parsed->warnings.begin(), parsed->warnings.end(), std::back_inserter(g.warnings));
            for (auto& more : parsed->more) {
              if (target.requested >= k_max_requests_per_poll) {
                g.warnings.push_back(fmt::format("stopped after {} requests in one poll", k_max_requests_per_poll));
                break;
              }
              next_round.push_back(std::move(more));
              next_target.push_back(i);
              ++target.outstanding;
              ++target.requested;
              ++total;
            }
          }
        } else if ((status == 403 || status == 429) && (reset > 0 || (status == 403 && response->retry_after))) {
          // A spent rate limit (GitHub's 403 or 429 with X-RateLimit-Remaining: 0,
          // or a 403 with Retry-After): wait for it, no error.
          const UnixMicros until =
              reset > 0 ? reset : fetched_at + response->retry_after->count() * k_micros_per_second;
          defer(i, until, fmt::format("source {}: {}: rate limited (HTTP {}); next poll after {}", target.config->id,
                                      shown, status, format_rfc3339_seconds(until)));
        } else {
          const std::string reason = http_reason(status);
          std::string message = fmt::format("source {}: {}: HTTP {}{}{}", target.config->id, shown, status,
                                            reason.empty() ? "" : " ", reason);
          if (response->retry_after) {
            r.not_before = std::max(r.not_before, fetched_at + std::min(response->retry_after->count() * k_micros_per_second,
                                                                        k_max_cache_floor));
            message += fmt::format(" (retry after {}s)", response->retry_after->count());
          }
          record_failure(i, std::move(message));
        }
      }
      if (target.outstanding == 0 && target.context) {
        finish_target(i);
      }
      if (progress) {
        progress(++fetched, total);
      }
    };
    for (auto& request : round) {
      if (request.ca_bundle.empty()) {
        request.ca_bundle = config.fetch.ca_bundle.string();
      }
    }
    FetcherOptions fetch_options;
    fetch_options.cancel = cancel;
    fetch_all(round, fetch_options, handle);
    // Follow-up requests of failed polls are dropped.
    std::vector<FetchRequest> keep;
    std::vector<std::size_t> keep_target;
    for (std::size_t k = 0; k < next_round.size(); ++k) {
      Target& target = targets[next_target[k]];
      if (target.failed) {
        if (--target.outstanding == 0 && target.context) {
          finish_target(next_target[k]);
        }
        continue;
      }
      keep.push_back(std::move(next_round[k]));
      keep_target.push_back(next_target[k]);
    }
    round = std::move(keep);
    round_target = std::move(keep_target);
  }

  // Local kinds (command, file): each on a thread of its own, so a slow
  // command does not hold up the others.
  {
    std::vector<std::future<void>> running;
    std::vector<Result<Poll>> results(local.size(), fail(Errc::cancelled, ""));
    for (std::size_t k = 0; k < local.size(); ++k) {
      running.push_back(std::async(std::launch::async, [&, k] {
        Target& target = targets[local[k]];
        try {
          results[k] = target.source->poll_local(*target.context, now_micros(), cancel);
        } catch (const std::exception& e) {
          results[k] = fail(Errc::parse, e.what());
          report.sources[local[k]].outcome = PollOutcome::crashed;
        }
      }));
    }
    for (std::size_t k = 0; k < local.size(); ++k) {
      running[k].wait();
      const std::size_t i = local[k];
      Target& target = targets[i];
      if (report.sources[i].outcome == PollOutcome::crashed) {
        crashed(i, results[k].error().message.c_str());
      } else if (!results[k]) {
        record_failure(i, results[k].error().message);
      } else {
        target.any_changed = true;
        target.gathered = std::move(*results[k]);
      }
      finish_target(i);
      if (progress) {
        progress(++fetched, total);
      }
    }
  }

  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!targets[i].write) {
      continue;
    }
    auto written = targets[i].write->get();
    SourceReport& r = report.sources[i];
    if (!written) {
      r.outcome = PollOutcome::failed;
      r.error = written.error().message;
      continue;
    }
    r.new_events = written->inserted;
    r.duplicates = written->duplicates;
    log->debug("polled source={} outcome={} new={} duplicate={} skipped={}", r.source_id, outcome_name(r.outcome),
               r.new_events, r.duplicates, r.skipped);
  }
  return report;
}

}  // namespace

}  // namespace vibe::core
