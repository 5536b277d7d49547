#include "core/serve/offline.hpp"

#include <fmt/format.h>

namespace vibe::core {

nlohmann::json time_or_null(UnixMicros t) {
  return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(format_rfc3339(t));
}

namespace {

Result<nlohmann::json> stream_json(const StreamConfig& stream, const std::vector<StreamRecord>& records,
                                   Store& store, bool with_sources) {
  const StreamRecord* record = nullptr;
  for (const auto& r : records) {
    if (r.id == stream.id) {
      record = &r;
    }
  }
  const StreamState desired = record != nullptr ? record->desired : StreamState::active;
  nlohmann::json out{
      {"id", stream.id},
      {"title", stream.title},
      {"status", desired == StreamState::active ? std::string{"pending"} : std::string{stream_state_name(desired)}},
      {"session_started_at", time_or_null(record != nullptr ? record->session_started_at : 0)},
      {"sources", nlohmann::json::array()},
  };
  for (const auto& id : stream.sources) {
    nlohmann::json s{{"id", id}};
    if (with_sources) {
      auto state = store.poll_state(id);
      if (!state) {
        return tl::unexpected(state.error());
      }
      s["health"] = state->last_error.empty() ? "idle" : "error";
      s["last_error"] = state->last_error;
      s["last_poll_at"] = time_or_null(state->last_poll_at);
      s["next_poll_at"] = nullptr;
      s["consecutive_failures"] = state->consecutive_failures;
      s["restarts"] = 0;
      s["running"] = false;
    }
    out["sources"].push_back(std::move(s));
  }
  return out;
}

}  // namespace

Error unknown_stream(const Config& config, const std::string& id) {
  std::vector<std::string> ids;
  for (const auto& s : config.streams) {
    ids.push_back(s.id);
  }
  const std::string guess = nearest(id, ids);
  return Error{Errc::usage, fmt::format("no stream named '{}' in {}{}", id, config.path.string(),
                                            guess.empty() ? "" : fmt::format(" (did you mean '{}'?)", guess))};
}

Result<nlohmann::json> offline_streams_json(const Config& config, Store& store) {
  auto records = store.streams();
  if (!records) {
    return tl::unexpected(records.error());
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& stream : config.streams) {
    auto one = stream_json(stream, *records, store, false);
    if (!one) {
      return one;
    }
    for (auto& s : (*one)["sources"]) {
      if (const SourceConfig* source = config.find_source(s["id"].get<std::string>())) {
        s["type"] = source->type;
      }
    }
    out.push_back(std::move(*one));
  }
  return out;
}

Result<nlohmann::json> offline_stream_json(const Config& config, Store& store, const std::string& id) {
  const StreamConfig* stream = config.find_stream(id);
  if (stream == nullptr) {
    return tl::unexpected(unknown_stream(config, id));
  }
  auto records = store.streams();
  if (!records) {
    return tl::unexpected(records.error());
  }
  auto out = stream_json(*stream, *records, store, true);
  if (out) {
    for (auto& s : (*out)["sources"]) {
      if (const SourceConfig* source = config.find_source(s["id"].get<std::string>())) {
        s["type"] = source->type;
      }
    }
  }
  return out;
}

Result<StreamRecord> record_stream_state(const Config& config, Store& store, const std::string& id,
                                         StreamState state) {
  if (config.find_stream(id) == nullptr) {
    return tl::unexpected(unknown_stream(config, id));
  }
  return store.set_stream_state(id, state, now_micros());
}

}  // namespace vibe::core
