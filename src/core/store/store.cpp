#include "core/store/store.hpp"

#include "core/config.hpp"
#include "core/store/sqlite_store.hpp"

#include <nlohmann/json.hpp>

namespace vibe::core {

std::string_view stream_state_name(StreamState state) {
  switch (state) {
    case StreamState::active: return "active";
    case StreamState::paused: return "paused";
    case StreamState::stopped: return "stopped";
  }
  return "?";
}

std::optional<StreamState> parse_stream_state(std::string_view text) {
  for (const auto state : {StreamState::active, StreamState::paused, StreamState::stopped}) {
    if (text == stream_state_name(state)) {
      return state;
    }
  }
  return std::nullopt;
}

Result<std::unique_ptr<Store>> open_store(const Config& config) {
  return open_sqlite_store(config.sqlite_path);
}

Result<std::unique_ptr<Store>> open_store_synced(const Config& config) {
  auto store = open_store(config);
  if (!store) {
    return store;
  }
  const auto [sources, streams] = catalog_of(config);
  if (auto synced = (*store)->sync_catalog(sources, streams); !synced) {
    return tl::unexpected(synced.error());
  }
  return store;
}

std::pair<std::vector<CatalogSource>, std::vector<CatalogStream>> catalog_of(const Config& config) {
  std::vector<CatalogSource> sources;
  for (const auto& source : config.sources) {
    nlohmann::json options = nlohmann::json::object();
    for (const auto& [name, value] : source.options.all()) {
      options[name] = value.display;
    }
    sources.push_back({source.id, source.type, options.dump()});
  }
  std::vector<CatalogStream> streams;
  for (const auto& stream : config.streams) {
    streams.push_back({stream.id, stream.title, stream.sources});
  }
  return {std::move(sources), std::move(streams)};
}

}  // namespace vibe::core
