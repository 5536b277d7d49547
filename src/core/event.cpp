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

}  // namespace vibe::core
