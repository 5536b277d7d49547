#include "core/pipeline/run.hpp"

#include "core/pipeline/filter.hpp"
#include "core/pipeline/mapping.hpp"
#include "core/sink.hpp"
#include "core/store/batch_writer.hpp"
#include "core/store/store.hpp"

#include <fmt/format.h>

#include <deque>
#include <unordered_set>
#include <map>
#include <mutex>

namespace vibe::core::pipeline {

namespace {

constexpr std::size_t k_recent_kept = 100;

std::mutex g_recent_mutex;
std::map<std::string, std::deque<Event>> g_recent;  // guarded by g_recent_mutex

void remember(const std::string& pipeline_id, std::span<const Event> records) {
  std::lock_guard lock{g_recent_mutex};
  auto& kept = g_recent[pipeline_id];
  for (const auto& record : records) {
    kept.push_back(record);
    if (kept.size() > k_recent_kept) {
      kept.pop_front();
    }
  }
}

std::string dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The compiled map and filter of a pipeline (both optional).
struct Stages {
  std::optional<Mapping> mapping;
  std::optional<Filter> filter;
};

Result<Stages> stages_of(const PipelineConfig& pipeline) {
  Stages stages;
  if (!pipeline.map.is_null()) {
    auto mapping = Mapping::compile(pipeline.map);
    if (!mapping) {
      return fail(Errc::config, fmt::format("pipeline {}: map.{}", pipeline.id, mapping.error().message));
    }
    stages.mapping = std::move(*mapping);
  }
  if (!pipeline.filter.empty()) {
    auto filter = Filter::parse(pipeline.filter);
    if (!filter) {
      return fail(Errc::config, fmt::format("pipeline {}: filter: column {}: {}", pipeline.id, filter.error().column,
                                            filter.error().message));
    }
    stages.filter = std::move(*filter);
  }
  return stages;
}

// Counts of one pass of map and filter.
struct Pass {
  std::vector<Event> records;          // passed the filter, as events of the pipeline
  std::vector<nlohmann::json> values;  // the same records as JSON
  std::vector<std::string> rejected;   // keys of inputs that failed to map or were filtered out
  std::size_t mapped = 0;
  std::size_t map_failed = 0;
  std::size_t missing = 0;
  std::size_t filtered_out = 0;
  std::string example;           // the first record that failed to map, and why
  std::string filtered_example;  // the first record the filter rejected
};

// Maps and filters `inputs` (events whose content is the record).
Pass map_and_filter(const PipelineConfig& pipeline, const Stages& stages, std::span<const Event> inputs) {
  Pass pass;
  for (const auto& input : inputs) {
    nlohmann::json record = nlohmann::json::parse(input.content, nullptr, false);
    if (record.is_discarded()) {
      ++pass.map_failed;
      pass.rejected.push_back(input.dedup_key);
      if (pass.example.empty()) {
        pass.example = fmt::format("record {}: its content is not JSON", input.dedup_key);
      }
      continue;
    }
    if (stages.mapping) {
      auto outcome = stages.mapping->apply(record);
      if (!outcome) {
        ++pass.map_failed;
        pass.rejected.push_back(input.dedup_key);
        if (pass.example.empty()) {
          pass.example = fmt::format("record {}: {}", input.dedup_key, outcome.error().message);
        }
        continue;
      }
      pass.missing += outcome->missing.size();
      record = std::move(outcome->record);
    }
    ++pass.mapped;
    if (stages.filter && !stages.filter->matches(record)) {
      ++pass.filtered_out;
      pass.rejected.push_back(input.dedup_key);
      if (pass.filtered_example.empty()) {
        std::string shown = dump(record);
        if (shown.size() > 200) {
          shown = shown.substr(0, 200) + "...";
        }
        pass.filtered_example = fmt::format("record {}: {}", input.dedup_key, shown);
      }
      continue;
    }
    Event event;
    event.stream_id = pipeline.stream;
    event.source_id = pipeline.topic_source();
    event.type = input.type;
    event.occurred_at = input.occurred_at;
    event.url = input.url;
    event.dedup_key = input.dedup_key;
    event.content = dump(record);
    pass.records.push_back(std::move(event));
    pass.values.push_back(std::move(record));
  }
  return pass;
}

// The delivery jobs of `records` (those `take` selects), per sink in
// batches of the sink's size. Args hold records, never a sink's secrets:
// the worker reads those from the config.
std::vector<NewJob> delivery_jobs(const PipelineConfig& pipeline, const std::vector<nlohmann::json>& values,
                                  const std::vector<Event>& records, const std::vector<bool>& take) {
  std::vector<NewJob> jobs;
  for (std::size_t s = 0; s < pipeline.sinks.size(); ++s) {
    const SinkConfig& sink = pipeline.sinks[s];
    const auto batch = static_cast<std::size_t>(std::max<std::int64_t>(1, sink.options.integer("batch")));
    nlohmann::json chunk = nlohmann::json::array();
    auto flush = [&] {
      if (chunk.empty()) {
        return;
      }
      NewJob job;
      job.worker = "deliver";
      job.queue = "deliver";
      job.args = dump(nlohmann::json{{"pipeline", pipeline.id}, {"sink", s}, {"type", sink.type}, {"records", chunk}});
      job.max_attempts = static_cast<int>(std::clamp<std::int64_t>(sink.options.integer("max_attempts"), 1, 1000));
      job.meta = dump(nlohmann::json{{"backoff",
                                      {{"kind", "exponential"},
                                       {"base", sink.options.display("retry_base")},
                                       {"max", sink.options.display("retry_max")}}}});
      job.tags = {"pipeline:" + pipeline.id, "sink:" + sink.type};
      jobs.push_back(std::move(job));
      chunk = nlohmann::json::array();
    };
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (!take[i]) {
        continue;
      }
      chunk.push_back({{"key", records[i].dedup_key}, {"record", values[i]}});
      if (chunk.size() >= batch) {
        flush();
      }
    }
    flush();
  }
  return jobs;
}

// Inputs as the raw layer keeps them when no response brought them.
RawRecord raw_of_events(const PipelineConfig& pipeline, std::string_view input, std::span<const Event> inputs,
                        UnixMicros now) {
  RawRecord raw;
  raw.pipeline_id = pipeline.id;
  raw.fetched_at = now;
  raw.kind = "events";
  raw.url = std::string{input};
  for (const auto& event : inputs) {
    if (event.content.empty() || event.content.find_first_of("\r\n") != std::string::npos) {
      raw.body += dump(to_json(event));  // content as one line
    } else {
      // The line to_json() would give, with the content (JSON text already)
      // spliced in instead of parsed and dumped again: most of a local
      // source's run went into that.
      nlohmann::json meta{{"id", event.id},
                          {"source_id", event.source_id},
                          {"type", event.type},
                          {"occurred_at", format_rfc3339(event.occurred_at)},
                          {"dedup_key", event.dedup_key}};
      if (!event.url.empty()) {
        meta["url"] = event.url;
      }
      std::string line = dump(meta);
      line.pop_back();  // the closing brace
      raw.body += line;
      raw.body += ",\"content\":";
      raw.body += event.content;
      raw.body += '}';
    }
    raw.body += '\n';
  }
  return raw;
}

// Stores one pass with its raw records and the source's state, queues the
// deliveries of the new records, and feeds the chained pipelines.
Result<void> commit(const Config& config, const PipelineConfig& pipeline, Pass moved, std::vector<RawRecord> raw,
                    std::optional<SourceStateUpdate> state, Store& store, BatchWriter& writer,
                    const RunOptions& options, RunReport& report) {
  const UnixMicros now = now_micros();
  // Shared with the jobs callback, which runs on the writer thread.
  const auto shared = std::make_shared<const Pass>(std::move(moved));
  const Pass& pass = *shared;
  WriteRequest write;
  write.mode = pipeline.persist ? WriteRequest::Mode::insert : WriteRequest::Mode::keys_only;
  write.events = pass.records;
  write.state = std::move(state);
  for (auto& r : raw) {
    r.pipeline_id = pipeline.id;
  }
  report.raw_records = raw.size();
  write.raw = std::move(raw);
  if (pipeline.keep.count() > 0) {
    write.prune_raw = std::pair{pipeline.id, now - std::chrono::duration_cast<std::chrono::microseconds>(pipeline.keep).count()};
  }
  if (!pipeline.sinks.empty()) {
    const PipelineConfig* p = &pipeline;
    write.jobs = [p, shared](const WriteResult& result) {
      std::vector<bool> take(result.ids.size());
      for (std::size_t i = 0; i < result.ids.size(); ++i) {
        take[i] = result.ids[i] != 0;
      }
      return delivery_jobs(*p, shared->values, shared->records, take);
    };
  }
  auto written = writer.submit(std::move(write)).get();
  if (!written) {
    report.error = fmt::format("pipeline {}: {}", pipeline.id, written.error().message);
    return tl::unexpected(written.error());
  }
  report.new_records = written->inserted;
  report.duplicates = written->duplicates;
  report.deliveries = written->job_ids;
  std::vector<Event> fresh;
  for (std::size_t i = 0; i < pass.records.size(); ++i) {
    if (written->ids[i] != 0) {
      Event event = pass.records[i];
      event.id = std::max<std::int64_t>(0, written->ids[i]);
      event.ingested_at = now;
      fresh.push_back(std::move(event));
    }
  }
  remember(pipeline.id, fresh);
  report.records = fresh;
  if (pass.map_failed > 0) {
    options.log->warn("pipeline.map_failed pipeline={} records={} example={}", pipeline.id, pass.map_failed,
                      pass.example);
  }
  if (pass.filtered_out > 0) {
    options.log->info("pipeline.filtered_out pipeline={} records={} example={}", pipeline.id, pass.filtered_out,
                      pass.filtered_example);
  }
  options.log->info("pipeline.run pipeline={} input={} fetched={} mapped={} filtered_out={} new={} deliveries={}",
                    pipeline.id, report.input, report.fetched, pass.mapped, pass.filtered_out, report.new_records,
                    report.deliveries.size());
  if (fresh.empty()) {
    return {};
  }
  for (const PipelineConfig* down : config.downstream_of(pipeline.id)) {
    auto fed = feed_pipeline(config, *down, "pipeline:" + pipeline.id, fresh, store, writer, options);
    if (!fed) {
      RunReport failed;
      failed.pipeline_id = down->id;
      failed.input = "pipeline:" + pipeline.id;
      failed.error = fed.error().message;
      report.downstream.push_back(std::move(failed));
    } else {
      report.downstream.push_back(std::move(*fed));
    }
  }
  return {};
}

void count(const Pass& pass, RunReport& report) {
  report.mapped = pass.mapped;
  report.map_failed = pass.map_failed;
  report.missing = pass.missing;
  report.filtered_out = pass.filtered_out;
  report.map_example = pass.example;
}

}  // namespace

std::vector<Event> recent_records(const std::string& pipeline_id, std::size_t count) {
  std::lock_guard lock{g_recent_mutex};
  const auto it = g_recent.find(pipeline_id);
  if (it == g_recent.end()) {
    return {};
  }
  const auto& kept = it->second;
  const std::size_t from = kept.size() > count ? kept.size() - count : 0;
  return {kept.begin() + static_cast<long>(from), kept.end()};
}

Result<RunReport> run_pipeline(const Config& config, const PipelineConfig& pipeline, Store& store,
                               BatchWriter& writer, const RunOptions& options) {
  if (!pipeline.from_pipeline.empty()) {
    return fail(Errc::usage, fmt::format("pipeline '{}' takes its records from pipeline '{}': run that one",
                                         pipeline.id, pipeline.from_pipeline));
  }
  if (!pipeline.source || pipeline.pushed()) {
    return fail(Errc::usage, fmt::format("pipeline '{}' takes its records from a {} source: they arrive when pushed "
                                         "to vibe serve", pipeline.id, pipeline.source ? pipeline.source->type : "?"));
  }
  auto stages = stages_of(pipeline);
  if (!stages) {
    return tl::unexpected(stages.error());
  }
  // The pipeline's own view of its source: its state is kept under
  // "pipeline:<id>", apart from the source's polls in a stream.
  SourceConfig source = *pipeline.source;
  source.id = pipeline.topic_source();
  auto captured = poll_capture(config, source, store, options.log, options.cancel);
  if (!captured) {
    return tl::unexpected(captured.error());
  }
  RunReport report;
  report.pipeline_id = pipeline.id;
  report.input = "fetch";
  report.fetch = captured->report.outcome;
  report.requests = captured->report.requests;
  if (captured->report.outcome == PollOutcome::failed || captured->report.outcome == PollOutcome::crashed ||
      captured->report.outcome == PollOutcome::deferred) {
    report.error = captured->report.error;
    if (!options.dry_run && captured->state) {
      // Remember the failure (backoff, Retry-After), store nothing else.
      WriteRequest write;
      write.state = std::move(captured->state);
      if (auto written = writer.submit(std::move(write)).get(); !written) {
        return tl::unexpected(written.error());
      }
    }
    if (captured->report.outcome == PollOutcome::deferred) {
      report.error.clear();  // not a failure: the server asked to wait
    }
    options.log->info("pipeline.run pipeline={} fetch={} error={}", pipeline.id, outcome_name(report.fetch),
                      captured->report.error);
    return report;
  }
  report.fetched = captured->events.size();
  Pass pass = map_and_filter(pipeline, *stages, captured->events);
  count(pass, report);
  std::vector<RawRecord> raw = std::move(captured->raw);
  if (raw.empty() && !captured->events.empty()) {
    raw.push_back(raw_of_events(pipeline, source.type, captured->events, now_micros()));  // a local kind
  }
  if (options.dry_run) {
    // What would be new: not stored yet under the pipeline's topic.
    std::vector<std::string> keys;
    for (const auto& record : pass.records) {
      keys.push_back(record.dedup_key);
    }
    auto ids = pipeline.persist ? store.event_ids(pipeline.topic_source(), keys)
                                : Result<std::vector<std::int64_t>>{std::vector<std::int64_t>(keys.size(), 0)};
    if (!ids) {
      return tl::unexpected(ids.error());
    }
    for (std::size_t i = 0; i < pass.records.size(); ++i) {
      if ((*ids)[i] == 0) {
        ++report.new_records;
        report.records.push_back(pass.records[i]);
      } else {
        ++report.duplicates;
      }
    }
    report.raw_records = raw.size();
    return report;
  }
  // A store failure is in the report (error), as a fetch failure is.
  (void)commit(config, pipeline, std::move(pass), std::move(raw), std::move(captured->state), store, writer, options,
               report);
  return report;
}

Result<RunReport> feed_pipeline(const Config& config, const PipelineConfig& pipeline, std::string input,
                                std::vector<Event> inputs, Store& store, BatchWriter& writer,
                                const RunOptions& options) {
  auto stages = stages_of(pipeline);
  if (!stages) {
    return tl::unexpected(stages.error());
  }
  RunReport report;
  report.pipeline_id = pipeline.id;
  report.input = input;
  report.fetched = inputs.size();
  Pass pass = map_and_filter(pipeline, *stages, inputs);
  count(pass, report);
  if (options.dry_run) {
    report.records = std::move(pass.records);
    return report;
  }
  std::vector<RawRecord> raw;
  raw.push_back(raw_of_events(pipeline, input, inputs, now_micros()));
  (void)commit(config, pipeline, std::move(pass), std::move(raw), std::nullopt, store, writer, options, report);
  return report;
}

Result<ReplayReport> replay_pipeline(const Config&, const PipelineConfig& pipeline, Store& store,
                                     BatchWriter& writer, const ReplayOptions& options) {
  auto stages = stages_of(pipeline);
  if (!stages) {
    return tl::unexpected(stages.error());
  }
  std::unique_ptr<Source> source;
  if (pipeline.source) {
    const SourceKind* kind = find_source_kind(pipeline.source->type);
    if (kind != nullptr && kind->make != nullptr) {
      source = kind->make(SourceSpec{pipeline.topic_source(), pipeline.source->type, "", pipeline.source->options});
    }
  }
  ReplayReport report;
  // Newest raw record first: a record fetched many times is rebuilt (and
  // delivered) once, from its latest version.
  std::unordered_set<std::string> seen;
  std::int64_t before_id = 0;
  for (;;) {
    auto page = store.raw_records(pipeline.id, options.since, options.until, before_id, 200);
    if (!page) {
      return tl::unexpected(page.error());
    }
    if (page->empty()) {
      break;
    }
    for (const auto& raw : *page) {
      before_id = raw.id;
      ++report.raw_records;
      // The records this raw record held, as the source made them.
      std::vector<Event> inputs;
      if (raw.kind == "events") {
        std::size_t start = 0;
        while (start < raw.body.size()) {
          std::size_t end = raw.body.find('\n', start);
          end = end == std::string::npos ? raw.body.size() : end;
          auto json = nlohmann::json::parse(std::string_view{raw.body}.substr(start, end - start), nullptr, false);
          if (json.is_object()) {
            inputs.push_back(event_from_json(json));
          }
          start = end + 1;
        }
      } else if (source && !source->is_local()) {
        const auto request_json = nlohmann::json::parse(raw.request, nullptr, false);
        FetchRequest request;
        request.url = raw.url;
        request.method = raw.method;
        if (request_json.is_object()) {
          request.tag = request_json.value("tag", "");
          request.page = request_json.value("page", 1);
        }
        FetchResponse response;
        response.status = raw.status;
        response.body = raw.body;
        response.effective_url = raw.url;
        const auto headers = nlohmann::json::parse(raw.headers, nullptr, false);
        if (headers.is_object()) {
          for (const auto& [name, value] : headers.items()) {
            if (value.is_string()) {
              response.headers.emplace_back(name, value.get<std::string>());
            }
          }
          response.content_type = headers.value("content-type", "");
          response.etag = headers.value("etag", "");
          response.last_modified = headers.value("last-modified", "");
        }
        PollState state;
        PollContext context{state, "", "", nullptr};
        Result<Poll> parsed = fail(Errc::parse, "");
        try {
          parsed = source->parse(request, response, context, raw.fetched_at);
        } catch (const std::exception& e) {
          parsed = fail(Errc::parse, e.what());
        }
        if (!parsed) {
          ++report.skipped;
          if (report.example.empty()) {
            report.example = fmt::format("raw record {} ({}): {}", raw.id, raw.url, parsed.error().message);
          }
          continue;
        }
        inputs = std::move(parsed->events);
      } else {
        ++report.skipped;
        if (report.example.empty()) {
          report.example = fmt::format("raw record {}: the pipeline's source no longer reads {} records", raw.id,
                                       raw.kind);
        }
        continue;
      }
      std::erase_if(inputs, [&](const Event& input) { return !seen.insert(input.dedup_key).second; });
      report.inputs += inputs.size();
      const auto shared = std::make_shared<const Pass>(map_and_filter(pipeline, *stages, inputs));
      const Pass& pass = *shared;
      report.mapped += pass.mapped;
      report.map_failed += pass.map_failed;
      report.filtered_out += pass.filtered_out;
      if (report.example.empty()) {
        report.example = pass.example;
      }
      WriteRequest write;
      write.mode = pipeline.persist ? WriteRequest::Mode::replace : WriteRequest::Mode::keys_only;
      write.events = pass.records;
      if (pipeline.persist) {
        write.forget_source = pipeline.topic_source();
        write.forget = pass.rejected;
      }
      if (options.deliver && !pipeline.sinks.empty()) {
        const PipelineConfig* p = &pipeline;
        write.jobs = [p, shared](const WriteResult&) {
          return delivery_jobs(*p, shared->values, shared->records, std::vector<bool>(shared->records.size(), true));
        };
      }
      auto written = writer.submit(std::move(write)).get();
      if (!written) {
        return tl::unexpected(written.error());
      }
      report.rebuilt += pass.records.size();
      report.removed += written->forgotten;
      report.deliveries.insert(report.deliveries.end(), written->job_ids.begin(), written->job_ids.end());
    }
  }
  options.log->info("pipeline.replay pipeline={} raw={} rebuilt={} removed={} deliveries={}", pipeline.id,
                    report.raw_records, report.rebuilt, report.removed, report.deliveries.size());
  return report;
}

}  // namespace vibe::core::pipeline
