#pragma once

#include "core/duration.hpp"
#include "core/error.hpp"
#include "core/options.hpp"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// vibe.yaml: the user's sources and streams. Loading checks the whole file
// against the option tables and reports every mistake at once, each as
// "FILE:LINE:COL: what is wrong" with a suggestion for a likely typo.
// Relative paths in the file (data_dir, store, file: URLs) are resolved
// against the directory of the file, so a config means the same thing from
// any working directory.
namespace vibe::core {

struct SourceConfig {
  std::string id;
  std::string type;
  OptionValues options;  // checked against the kind's option table
  int line = 0;          // 1-based line of the source's key in the file
};

// One of a pipeline's `sinks:`: where its new records go, through a job in
// the `deliver` queue each (src/core/sinks/).
struct SinkConfig {
  std::string type;
  OptionValues options;  // checked against the sink kind's table
  int line = 0;
};

// How a pipeline's scheduled runs execute: a job per run (the default), or a
// long-running worker in `vibe serve` that keeps its state between runs.
enum class Execution { job, worker };

// One of `pipelines:` (DESIGN.md §2): from -> map -> filter -> persist ->
// broadcast -> sinks. Its records are events of source id "pipeline:<id>".
struct PipelineConfig {
  std::string id;
  int line = 0;
  // `from:`: an inline source (its id is "pipeline:<id>"), a configured
  // source (a copy, under its own id), or nothing when chained.
  std::optional<SourceConfig> source;
  std::string from_pipeline;     // chained: `from: pipeline:<id>`
  Millis every{0};               // 0: no interval
  std::string cron;              // "" : no cron schedule
  std::string timezone;          // of `cron`
  Execution execution = Execution::job;
  nlohmann::json map;            // null: records pass as they come
  std::string filter;            // "" : every record passes
  bool persist = true;
  Millis keep{30LL * 24 * 3'600'000};  // raw-layer retention; 0: forever
  std::string stream;            // the stream whose timeline gets the records; "" : none
  std::vector<SinkConfig> sinks;

  // The source id its records are stored under.
  std::string topic_source() const { return "pipeline:" + id; }
  // Whether its source pushes (webhook): runs follow deliveries, not a clock.
  bool pushed() const;
};

struct StreamConfig {
  std::string id;
  std::string title;
  std::vector<std::string> sources;
};

// Group-commit limits of the single store writer (DESIGN.md §4).
struct BufferConfig {
  std::size_t max_events = 1000;
  Millis max_delay{5};
  std::size_t max_pending = 50'000;
};

// Politeness and trust for every HTTP fetch (the `fetch:` block).
struct FetchConfig {
  int per_host = 2;                  // requests in flight to one host
  Millis host_spacing{0};            // between the starts of two requests to one host
  std::filesystem::path ca_bundle;   // empty: the system's CA store
};

// How `vibe serve` runs (the `serve:` block).
struct ServeConfig {
  std::filesystem::path socket;           // absolute; default data_dir/vibe.sock
  Millis shutdown_timeout{30'000};        // on SIGTERM, polls and jobs in flight get this long to finish
  std::int64_t max_restarts = 10;         // more restarts than this within restart_window: the source is failed
  Millis restart_window{60'000};
  Millis restart_backoff{1'000};          // first restart delay; doubles, jittered, up to restart_backoff_max
  Millis restart_backoff_max{60'000};
  std::int64_t breaker_failures = 5;      // consecutive failed polls that open a source's circuit breaker
  Millis breaker_cooldown{300'000};       // how long an open breaker waits before one probe poll
  std::string http = "127.0.0.1:8787";     // the HTTP endpoint, or "off"
  bool http_explicit = false;             // set in the file: failing to listen on it stops serve
  std::size_t http_max_connections = 4096;
  Millis http_header_timeout{10'000};
  Millis http_body_timeout{30'000};
};

// One `cron:` entry: what to insert as a job at each fire time.
struct CronConfig {
  std::string name;          // identifies its fire times; defaults to a hash of the entry
  std::string schedule;      // checked: it parses and can fire
  std::string timezone;      // IANA name; "" = UTC
  bool catch_up_one = true;  // catch_up: one (true) | none
  std::string worker;        // "exec" for command:, "poll" for run: source:ID
  std::string args = "{}";   // JSON object
  std::string queue = "default";
  int priority = 0;
  int max_attempts = 20;
  std::int64_t timeout_ms = 0;
};

struct Config {
  std::filesystem::path path;      // the file, absolute
  std::filesystem::path data_dir;  // absolute
  std::string store;               // as written, e.g. "sqlite:.vibe/vibe.db"
  std::filesystem::path sqlite_path;  // absolute
  BufferConfig buffer;
  FetchConfig fetch;
  ServeConfig serve;
  std::vector<SourceConfig> sources;  // in file order
  std::vector<StreamConfig> streams;  // in file order
  std::vector<PipelineConfig> pipelines;  // in file order
  std::map<std::string, std::size_t> queues{{"default", 5}, {"poll", 10}, {"deliver", 5}};  // queue -> concurrency
  std::vector<CronConfig> cron;

  const SourceConfig* find_source(std::string_view id) const;
  const StreamConfig* find_stream(std::string_view id) const;
  const PipelineConfig* find_pipeline(std::string_view id) const;
  // The pipelines chained to `id` (`from: pipeline:<id>`), in file order.
  std::vector<const PipelineConfig*> downstream_of(std::string_view id) const;
  // The first stream (in file order) that lists `source_id`, or "".
  std::string stream_of(std::string_view source_id) const;
};

// Reads an environment variable; nullopt when unset. Injected so tests need
// not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup process_env();

// Parses config text. `path` names the file in messages and anchors relative
// paths. Errors: Errc::config with one "FILE:LINE:COL: ..." line per mistake,
// joined by '\n'.
// `workers`, when given, lists the job workers a `cron:` entry may name
// (the job layer owns that list; core cannot see it).
Result<Config> parse_config(std::string_view text, const std::filesystem::path& path,
                            const EnvLookup& env, const std::vector<std::string>* workers = nullptr);

// Reads and parses the file at `path`.
Result<Config> load_config(const std::filesystem::path& path, const EnvLookup& env,
                           const std::vector<std::string>* workers = nullptr);

// Which file to use: `flag` (-c) if given, else $VIBE_CONFIG, else ./vibe.yaml.
std::filesystem::path resolve_config_path(const std::optional<std::string>& flag, const EnvLookup& env);

// Levenshtein-nearest candidate within distance 2, or "" (for "did you mean").
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace vibe::core
