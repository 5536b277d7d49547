#include "core/hash.hpp"
#include "core/sink.hpp"
#include "core/sinks/command.hpp"
#include "core/sinks/file.hpp"
#include "core/sinks/http.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vibe::core {

namespace {

// The one list of sink kinds: adding a kind is one file plus one row here.
const SinkKind k_sink_kinds[] = {
    {"webhook", "POST records as JSON to a URL, signed with HMAC-SHA256 when a secret is set", http_sink::k_options,
     &http_sink::deliver, &http_sink::check},
    {"http_api", "send records as JSON to an API (method, headers, auth), like webhook", http_sink::k_options,
     &http_sink::deliver, &http_sink::check},
    {"file", "append records to a file as NDJSON", file_sink::k_options, &file_sink::deliver, &file_sink::check},
    {"command", "run a shell command with the records as NDJSON on its stdin", command_sink::k_options,
     &command_sink::deliver, &command_sink::check},
};

}  // namespace

std::span<const SinkKind> sink_kinds() {
  return k_sink_kinds;
}

const SinkKind* find_sink_kind(std::string_view name) {
  const auto it = std::find_if(std::begin(k_sink_kinds), std::end(k_sink_kinds),
                               [&](const SinkKind& kind) { return name == kind.name; });
  return it == std::end(k_sink_kinds) ? nullptr : &*it;
}

std::string idempotency_key(std::string_view pipeline_id, std::size_t sink_index, std::span<const SinkRecord> records) {
  std::string material = fmt::format("{}\x1f{}", pipeline_id, sink_index);
  for (const auto& record : records) {
    material += '\x1f';
    material += record.key;
  }
  return "vibe-" + sha256_hex(material).substr(0, 40);
}

std::string records_json(std::span<const SinkRecord> records, bool single) {
  if (single && records.size() == 1) {
    return records.front().record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out = "[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += records[i].record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  out += ']';
  return out;
}

std::string records_ndjson(std::span<const SinkRecord> records) {
  std::string out;
  for (const auto& record : records) {
    out += record.record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

}  // namespace vibe::core
