#pragma once

#include "core/config.hpp"
#include "core/store/store.hpp"

#include <nlohmann/json.hpp>

// Stream state without a running `vibe serve`: read from and recorded in the
// store, in the same JSON shapes serve answers with (vibe-serve(1)). A stream
// wanted active is `pending` until serve runs it.
namespace vibe::core {

Result<nlohmann::json> offline_streams_json(const Config& config, Store& store);
Result<nlohmann::json> offline_stream_json(const Config& config, Store& store, const std::string& id);

// Records a stream's desired state for serve to apply when it runs.
// Errors: Errc::usage for a stream not in the config.
Result<StreamRecord> record_stream_state(const Config& config, Store& store, const std::string& id,
                                         StreamState state);

// A time as serve's JSON shows it: RFC 3339, or null for 0 (never).
nlohmann::json time_or_null(UnixMicros t);

// "no stream named 'x' in FILE (did you mean 'y'?)"
Error unknown_stream(const Config& config, const std::string& id);

}  // namespace vibe::core
