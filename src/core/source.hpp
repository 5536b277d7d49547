#pragma once

#include "core/error.hpp"
#include "core/event.hpp"
#include "core/net/fetch.hpp"
#include "core/options.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
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
  UnixMicros retry_not_before = 0;  // no poll before this (Retry-After, rate limits, Cache-Control)
  std::string memo;                 // what the source keeps besides (JSON it owns; "" at first)
};

// The result of one response (or one local poll): new candidate events
// (dedup happens in the store), items the source dropped with a reason, and
// more requests that belong to the same poll (the next page).
struct Poll {
  std::vector<Event> events;
  std::vector<std::string> skipped;
  std::vector<std::string> warnings;
  std::vector<FetchRequest> more;
};

// What one poll carries from request to request. `state` is what the store
// held before the poll; `etag`, `last_modified` and `memo` start from it, a
// source changes them as it learns, and they are stored, with the events,
// only when every part of the poll succeeded.
struct PollContext {
  const PollState& state;
  std::string etag;
  std::string last_modified;
  nlohmann::json memo;  // the stored memo parsed; null when there is none
};

// One configured pull source. The engine owns the network, timers, retries,
// rate limits and storage: a source says what to fetch and turns responses
// into events. HTTP kinds implement requests() and parse(); local kinds
// (command, file) implement poll_local(). Implementations need no locking;
// the engine calls one source from one thread at a time.
class Source {
public:
  virtual ~Source() = default;

  virtual bool is_local() const { return false; }

  // HTTP kinds: the first requests of a poll.
  virtual std::vector<FetchRequest> requests(PollContext& context) const;

  // HTTP kinds: one response with a 2xx status (a 304 never comes here: the
  // engine counts it as "not modified" for that request). `fetched_at`
  // stands in for items without a date. An error (Errc::parse) fails the
  // whole poll: nothing of it is stored.
  virtual Result<Poll> parse(const FetchRequest& request, const FetchResponse& response, PollContext& context,
                             UnixMicros fetched_at) const;

  // Local kinds: one poll, on the calling thread; `cancel`, when set and
  // turned true, ends it early (serve's shutdown).
  virtual Result<Poll> poll_local(PollContext& context, UnixMicros now, const std::atomic<bool>* cancel) const;
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
  // Ends what a source keeps between polls (a running stream command, an
  // open file), when it stops running or changes. nullptr: nothing kept.
  void (*release)(const std::string& source_id) = nullptr;
};

// A source's poll interval: `every`, or with `every: auto` one that adapts
// between every_min and every_max: halved after a poll with new events,
// grown by half after a poll without.
struct PollInterval {
  bool adaptive = false;
  Millis fixed{0};
  Millis min{0};
  Millis max{0};

  Millis initial() const { return adaptive ? min : fixed; }
  Millis next(Millis current, std::size_t new_events) const;
};
PollInterval poll_interval(const OptionValues& options);

// The one list of source kinds (src/core/sources/registry.cpp).
std::span<const SourceKind> source_kinds();
const SourceKind* find_source_kind(std::string_view name);

// Calls the kind's release hook for source `id` of type `type`, if it has one.
void release_source(std::string_view type, const std::string& id);

// Whether sources of this type are pushed to vibe (webhook) rather than polled.
bool is_pushed_kind(std::string_view type);

// Adds a kind to the list. Only for test builds, which add test-only kinds
// (tests/support/) from a static initializer, before main() runs.
bool register_source_kind(const SourceKind& kind);

}  // namespace vibe::core
