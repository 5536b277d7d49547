#pragma once

#include "core/time.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace vibe::core {

// One item on a timeline (DESIGN.md §2). `id` is assigned by the store when
// the event is committed and is monotonic; it is 0 before that.
// `(source_id, dedup_key)` is unique: storing the same pair twice keeps the first.
struct Event {
  std::int64_t id = 0;
  std::string stream_id;  // the first stream that lists the source; empty if none
  std::string source_id;
  std::string type;        // e.g. "feed_item"
  UnixMicros occurred_at = 0;  // from the source; the fetch time when it gives none
  UnixMicros ingested_at = 0;  // set when the event is written
  std::string content;     // a JSON object, serialized
  std::string url;
  std::string dedup_key;
  // Read from a stream: milliseconds from the start of the stream session
  // the event arrived in to its arrival (unset outside a session).
  std::optional<std::int64_t> stream_offset_ms;
};

}  // namespace vibe::core

#include <nlohmann/json_fwd.hpp>

namespace vibe::core {

// The event as vibe prints it (`--json`): times RFC 3339 UTC, content as a
// JSON object, empty fields omitted.
nlohmann::json to_json(const Event& event);

// The inverse of to_json(), for events read back from serve's socket. Fields
// it cannot read keep their defaults.
Event event_from_json(const nlohmann::json& json);

}  // namespace vibe::core
