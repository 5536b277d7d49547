#include "core/topic.hpp"

#include <fmt/format.h>

#include <optional>
#include <vector>

namespace vibe::core {

namespace {

std::string suggestion(std::string_view id, const std::vector<std::string>& known) {
  const std::string guess = nearest(id, known);
  if (!guess.empty()) {
    return fmt::format(" (did you mean '{}'?)", guess);
  }
  if (known.empty()) {
    return " (none are configured)";
  }
  return fmt::format(" (known: {})", fmt::join(known, ", "));
}

// "no KIND named 'ID'" with a suggestion from the configured ids, or
// nullopt when `id` is one of `items` (streams, sources or pipelines).
template <typename Items>
std::optional<Error> unknown(std::string_view kind, const std::string& id, const Items& items) {
  std::vector<std::string> known;
  for (const auto& item : items) {
    if (item.id == id) {
      return std::nullopt;
    }
    known.push_back(item.id);
  }
  return Error{Errc::usage, fmt::format("no {} named '{}'{}", kind, id, suggestion(id, known))};
}

}  // namespace

Result<EventQuery> topic_query(std::string_view topic, const Config& config) {
  EventQuery query;
  if (topic.empty()) {
    return query;
  }
  const auto colon = topic.find(':');
  const std::string_view kind = colon == std::string_view::npos ? std::string_view{} : topic.substr(0, colon);
  const std::string id{colon == std::string_view::npos ? std::string_view{} : topic.substr(colon + 1)};
  if (kind == "stream") {
    if (auto missing = unknown("stream", id, config.streams)) {
      return tl::unexpected(*missing);
    }
    query.stream_id = id;
    return query;
  }
  if (kind == "source") {
    if (auto missing = unknown("source", id, config.sources)) {
      return tl::unexpected(*missing);
    }
    query.source_id = id;
    return query;
  }
  if (kind == "pipeline") {
    if (auto missing = unknown("pipeline", id, config.pipelines)) {
      return tl::unexpected(*missing);
    }
    query.source_id = "pipeline:" + id;
    return query;
  }
  return fail(Errc::usage,
              fmt::format("'{}' is not a topic (write stream:<id>, source:<id> or pipeline:<id>)", topic));
}

Result<UnixMicros> parse_time_or_ago(std::string_view text, UnixMicros now) {
  if (auto at = parse_rfc3339(text)) {
    return *at;
  }
  if (auto ago = parse_duration(text)) {
    return now - std::chrono::duration_cast<std::chrono::microseconds>(*ago).count();
  }
  return fail(Errc::usage,
              fmt::format("'{}' is neither a duration (10m, 2h) nor a time (2025-03-14T16:45:00Z)", text));
}

}  // namespace vibe::core
