#pragma once

#include "core/bus.hpp"
#include "core/config.hpp"
#include "core/store/store.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

// One `vibe tail` client of serve's control socket (protocol in
// vibe-serve(1), request "tail"). The session subscribes to the bus first,
// then streams the requested history from the store in id order, then the
// live events, skipping what the history already sent: no gap and no
// duplicate at the seam.
namespace vibe::core {

struct TailRequest {
  std::vector<std::string> topics;        // "stream:<id>" / "source:<id>"
  std::vector<EventQuery> queries;        // one per topic, for history
  bool history = false;                   // from_id or since given
  std::int64_t from_id = 0;               // history: ids above this
  std::optional<UnixMicros> since;        // history: ingested at or after this
  std::string type;                       // only this event type
  std::string source;                     // only this source
};

// Checks a "tail" request against the config. Errors: Errc::usage.
Result<TailRequest> parse_tail_request(const nlohmann::json& request, const Config& config);

// Runs the session on the connected socket `fd` (taking ownership) until
// the client goes away or `stopping` turns true. Blocking: run it on its
// own thread.
void run_tail_session(int fd, TailRequest request, Store& store, Bus& bus, const std::atomic<bool>& stopping);

}  // namespace vibe::core
