#include "core/poller.hpp"

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

struct Target {
  const SourceConfig* config = nullptr;
  std::unique_ptr<Source> source;
  PollState state;
  std::optional<std::future<Result<WriteResult>>> write;
};

std::string http_reason(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 410: return "Gone";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace

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

  const UnixMicros started = now_micros();
  PollReport report;
  report.sources.resize(selected.size());
  std::vector<Target> targets(selected.size());
  std::vector<FetchRequest> requests;
  std::vector<std::size_t> request_target;  // request index -> target index
  for (std::size_t i = 0; i < selected.size(); ++i) {
    Target& target = targets[i];
    target.config = selected[i];
    report.sources[i].source_id = selected[i]->id;
    auto crashed = [&](const char* what) {
      report.sources[i].outcome = PollOutcome::crashed;
      report.sources[i].error = fmt::format("source {}: the {} adapter threw: {}", selected[i]->id,
                                            selected[i]->type, what);
      log->debug("poll crashed source={} error={}", selected[i]->id, what);
    };
    const SourceKind* kind = find_source_kind(selected[i]->type);
    try {
      target.source = kind->make(SourceSpec{selected[i]->id, selected[i]->type, config.stream_of(selected[i]->id),
                                            selected[i]->options});
    } catch (const std::exception& e) {
      crashed(e.what());
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
        report.sources[i].error = fmt::format("server asked to wait until {}", format_rfc3339_seconds(target.state.retry_not_before));
        continue;
      }
    }
    try {
      requests.push_back(target.source->request(target.state));
    } catch (const std::exception& e) {
      crashed(e.what());
      continue;
    }
    request_target.push_back(i);
  }

  std::size_t fetched = 0;
  // Runs on this thread as each fetch completes: parse, then hand the result
  // to the writer without waiting, so parsing and committing overlap with
  // the transfers still in flight.
  auto on_done = [&](std::size_t request_index, Result<FetchResponse> response) {
    const std::size_t i = request_target[request_index];
    Target& target = targets[i];
    SourceReport& r = report.sources[i];
    const UnixMicros fetched_at = now_micros();
    SourceStateUpdate update{target.config->id, target.state, 0, {}};
    update.state.last_poll_at = fetched_at;
    WriteRequest write;
    auto record_failure = [&](std::string message) {
      r.outcome = PollOutcome::failed;
      r.error = message;
      update.state.last_error = std::move(message);
      ++update.state.consecutive_failures;
      log->info("poll failed source={} error={}", target.config->id, r.error);
    };
    if (!response && response.error().code == Errc::cancelled) {
      // Not the source's fault: nothing to remember about it.
      r.outcome = PollOutcome::failed;
      r.error = response.error().message;
      if (progress) {
        progress(++fetched, requests.size());
      }
      return;
    }
    if (!response) {
      record_failure(response.error().message);
    } else {
      r.http_status = response->status;
      r.elapsed = response->elapsed;
      const std::string shown = redact_url(target.config->options.display("url"));
      if (response->status == 304) {
        r.outcome = PollOutcome::not_modified;
        update.state.last_error.clear();
        update.state.consecutive_failures = 0;
        update.state.last_success_at = fetched_at;
        update.state.retry_not_before = 0;
      } else if (response->status >= 200 && response->status < 300) {
        Result<Poll> parsed = fail(Errc::parse, "");
        try {
          parsed = target.source->parse(*response, fetched_at);
        } catch (const std::exception& e) {
          parsed = fail(Errc::parse, fmt::format("the {} adapter threw: {}", target.config->type, e.what()));
          r.outcome = PollOutcome::crashed;
        }
        if (!parsed) {
          const bool threw = r.outcome == PollOutcome::crashed;
          record_failure(parsed.error().message);
          if (threw) {
            r.outcome = PollOutcome::crashed;
          }
        } else {
          r.skipped = parsed->skipped.size();
          r.notes = parsed->skipped;
          r.notes.insert(r.notes.end(), parsed->warnings.begin(), parsed->warnings.end());
          for (const auto& note : r.notes) {
            log->info("source={} {}", target.config->id, note);
          }
          update.skipped = static_cast<std::int64_t>(r.skipped);
          update.notes = r.notes;
          update.state.etag = response->etag;
          update.state.last_modified = response->last_modified;
          update.state.last_error.clear();
          update.state.consecutive_failures = 0;
          update.state.last_success_at = fetched_at;
          update.state.retry_not_before = 0;
          if (dry_run == DryRun::yes) {
            r.new_events = parsed->events.size();
            for (auto& event : parsed->events) {
              report.events.push_back(std::move(event));
            }
          } else {
            write.events = std::move(parsed->events);
          }
        }
      } else {
        const std::string reason = http_reason(response->status);
        std::string message = fmt::format("source {}: {}: HTTP {}{}{}", target.config->id, shown, response->status,
                                          reason.empty() ? "" : " ", reason);
        if (response->retry_after) {
          update.state.retry_not_before = fetched_at + response->retry_after->count() * k_micros_per_second;
          message += fmt::format(" (retry after {}s)", response->retry_after->count());
        }
        record_failure(std::move(message));
      }
    }
    if (dry_run == DryRun::no) {
      write.state = std::move(update);
      target.write = writer->submit(std::move(write));
    }
    if (progress) {
      progress(++fetched, requests.size());
    }
  };
  FetcherOptions fetch_options;
  fetch_options.cancel = cancel;
  fetch_all(requests, fetch_options, on_done);

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

}  // namespace vibe::core
