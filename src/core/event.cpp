#include "core/event.hpp"

#include <nlohmann/json.hpp>

namespace vibe::core {

nlohmann::json to_json(const Event& event) {
  nlohmann::json out;
  out["id"] = event.id;
  if (!event.stream_id.empty()) {
    out["stream_id"] = event.stream_id;
  }
  out["source_id"] = event.source_id;
  out["type"] = event.type;
  out["occurred_at"] = format_rfc3339(event.occurred_at);
  if (event.ingested_at != 0) {
    out["ingested_at"] = format_rfc3339(event.ingested_at);
  }
  if (!event.url.empty()) {
    out["url"] = event.url;
  }
  out["dedup_key"] = event.dedup_key;
  if (event.stream_offset_ms) {
    out["stream_offset_ms"] = *event.stream_offset_ms;
  }
  // Content is stored as JSON text; a row that is somehow not JSON is shown
  // as a string rather than failing the whole listing.
  out["content"] = nlohmann::json::parse(event.content, nullptr, false);
  if (out["content"].is_discarded()) {
    out["content"] = event.content;
  }
  return out;
}

Event event_from_json(const nlohmann::json& json) {
  Event event;
  if (!json.is_object()) {
    return event;
  }
  auto text = [&](const char* key) {
    const auto it = json.find(key);
    return it != json.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  auto time = [&](const char* key) -> UnixMicros {
    auto parsed = parse_rfc3339(text(key));
    return parsed ? *parsed : 0;
  };
  if (const auto it = json.find("id"); it != json.end() && it->is_number_integer()) {
    event.id = it->get<std::int64_t>();
  }
  event.stream_id = text("stream_id");
  event.source_id = text("source_id");
  event.type = text("type");
  event.occurred_at = time("occurred_at");
  event.ingested_at = time("ingested_at");
  event.url = text("url");
  event.dedup_key = text("dedup_key");
  if (const auto it = json.find("content"); it != json.end()) {
    event.content = it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (const auto it = json.find("stream_offset_ms"); it != json.end() && it->is_number_integer()) {
    event.stream_offset_ms = it->get<std::int64_t>();
  }
  return event;
}

}  // namespace vibe::core
