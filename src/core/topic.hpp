#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/store/store.hpp"

#include <string_view>

namespace vibe::core {

// Turns a topic ("stream:<id>", "source:<id>", or "" for everything) into the
// events it covers. The id must exist in `config`. Errors: Errc::usage, with
// a suggestion for a likely typo.
Result<EventQuery> topic_query(std::string_view topic, const Config& config);

// `--since`/`--until` values: a duration ago ("10m", "2h") or an RFC 3339
// time ("2025-03-14T16:45:00Z", "2025-03-14"). Errors: Errc::usage.
Result<UnixMicros> parse_time_or_ago(std::string_view text, UnixMicros now);

}  // namespace vibe::core
