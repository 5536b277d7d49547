#pragma once

#include "core/error.hpp"
#include "core/options.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <optional>
#include <span>
#include <string>
#include <string_view>

// Sinks: where a pipeline's new records go (DESIGN.md §2). A sink only
// delivers: it gets a batch of records and returns whether the receiver took
// them. The engine owns the rest: every batch is a job in the `deliver`
// queue, so retries with backoff, the attempts left and the errors are the
// job queue's (`vibe jobs`), and a sink that keeps failing holds up no other
// sink and no pipeline run.
namespace vibe::core {

struct Config;

// One record to deliver: `key` is its dedup key within the pipeline, stable
// across runs, retries and replays; `record` the mapped record.
struct SinkRecord {
  std::string key;
  nlohmann::json record;
};

// What a delivery knows: which pipeline's which sink, its checked options
// (secrets expanded: for use only, never to print) and the config (for
// fetch settings and paths).
struct SinkSpec {
  std::string pipeline_id;
  std::size_t index = 0;  // in the pipeline's sinks:
  std::string type;
  const OptionValues& options;
  const Config& config;
};

// Delivers `records` once. An error (any Errc) fails this attempt; its
// message is what `vibe jobs` shows, so it says what the receiver answered,
// and holds no secret. `cancel`, when set and turned true, ends it early.
using SinkDeliver = Result<void> (*)(const SinkSpec& spec, std::span<const SinkRecord> records,
                                     const std::atomic<bool>* cancel);

// Checks a sink's options beyond their types: a message, or nullopt.
using SinkCheck = std::optional<std::string> (*)(const OptionValues& options);

struct SinkKind {
  const char* name;
  const char* summary;
  std::span<const OptionSpec> options;
  SinkDeliver deliver;
  SinkCheck check = nullptr;
};

// The one list of sink kinds (src/core/sinks/registry.cpp).
std::span<const SinkKind> sink_kinds();
const SinkKind* find_sink_kind(std::string_view name);

// Option rows every sink has: how records are grouped into deliveries and
// how a failed delivery is retried (the job's attempts and backoff).
#define VIBE_SINK_OPTION_ROWS(default_batch)                                                                        \
  {"batch", OptionType::integer, default_batch, "records per delivery"},              \
      {"max_attempts", OptionType::integer, "20", "delivery attempts before a batch is discarded"},               \
      {"retry_base", OptionType::duration, "15s", "first retry delay; doubles per attempt (with 10% jitter)"},    \
      {"retry_max", OptionType::duration, "1h", "longest delay between two attempts"}

// The Idempotency-Key of a delivery: the same for every attempt and every
// replay of the same records to the same sink, different otherwise.
std::string idempotency_key(std::string_view pipeline_id, std::size_t sink_index,
                            std::span<const SinkRecord> records);

// Records as the body sinks send: one JSON object for a single record with
// batch 1, else a JSON array (webhook, http_api); NDJSON (file, command).
std::string records_json(std::span<const SinkRecord> records, bool single);
std::string records_ndjson(std::span<const SinkRecord> records);

}  // namespace vibe::core
