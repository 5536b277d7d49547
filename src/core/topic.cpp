#include "core/topic.hpp"

#include <fmt/format.h>

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
    if (config.find_stream(id) == nullptr) {
      std::vector<std::string> known;
      for (const auto& s : config.streams) {
        known.push_back(s.id);
      }
      return fail(Errc::usage, fmt::format("no stream named '{}'{}", id, suggestion(id, known)));
    }
    query.stream_id = id;
    return query;
  }
  if (kind == "source") {
    if (config.find_source(id) == nullptr) {
      std::vector<std::string> known;
      for (const auto& s : config.sources) {
        known.push_back(s.id);
      }
      return fail(Errc::usage, fmt::format("no source named '{}'{}", id, suggestion(id, known)));
    }
    query.source_id = id;
    return query;
  }
  if (kind == "pipeline") {
    if (config.find_pipeline(id) == nullptr) {
      std::vector<std::string> known;
      for (const auto& p : config.pipelines) {
        known.push_back(p.id);
      }
      return fail(Errc::usage, fmt::format("no pipeline named '{}'{}", id, suggestion(id, known)));
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
