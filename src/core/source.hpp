#pragma once

#include "core/error.hpp"
#include "core/event.hpp"
#include "core/net/fetch.hpp"
#include "core/options.hpp"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vibe::core {

// What the store remembers about a pull source between polls.
struct PollState {
  std::string etag;
  std::string last_modified;
  UnixMicros last_poll_at = 0;     // 0 = never polled
  UnixMicros last_success_at = 0;
  std::string last_error;          // empty after a success
  std::int64_t consecutive_failures = 0;
  UnixMicros retry_not_before = 0;  // set from Retry-After on 429/503
};

// The result of one poll: new candidate events (dedup happens in the store)
// and items the source dropped, each with a reason.
struct Poll {
  std::vector<Event> events;
  std::vector<std::string> skipped;
  std::vector<std::string> warnings;
};

// One configured HTTP pull source. The engine owns the network, timers,
// retries and storage: a source only says what to fetch and turns a response
// body into events. Implementations are pure and need no locking; the engine
// calls one source from one thread at a time.
class Source {
public:
  virtual ~Source() = default;

  // The request for the next poll, conditional on what `state` remembers.
  virtual FetchRequest request(const PollState& state) const = 0;

  // Turns a 200 response into events. `fetched_at` stands in for items
  // without a date. Errors (Errc::parse) mean nothing from this body is stored.
  virtual Result<Poll> parse(const FetchResponse& response, UnixMicros fetched_at) const = 0;
};

// Everything a factory gets: the source's id and its checked options.
struct SourceSpec {
  std::string id;
  std::string type;
  std::string stream_id;
  OptionValues options;
};

using SourceFactory = std::unique_ptr<Source> (*)(const SourceSpec& spec);

// Checks a source's options beyond their types (at config load): a message, or nullopt.
using SourceCheck = std::optional<std::string> (*)(const OptionValues& options);

struct SourceKind {
  const char* name;
  const char* summary;
  std::span<const OptionSpec> options;
  SourceFactory make;          // nullptr: a pushed kind (webhook), never polled
  SourceCheck check = nullptr;
};

// The one list of source kinds (src/core/sources/registry.cpp).
std::span<const SourceKind> source_kinds();
const SourceKind* find_source_kind(std::string_view name);

// Whether sources of this type are pushed to vibe (webhook) rather than polled.
bool is_pushed_kind(std::string_view type);

// Adds a kind to the list. Only for test builds, which add test-only kinds
// (tests/support/) from a static initializer, before main() runs.
bool register_source_kind(const SourceKind& kind);

}  // namespace vibe::core
