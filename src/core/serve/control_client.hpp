#pragma once

#include "core/duration.hpp"
#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

// The client side of serve's control socket (protocol in vibe-serve(1)):
// one JSON object per line each way. A request is {"cmd": NAME, ...args};
// the reply is {"ok": true, "result": ...} or
// {"ok": false, "error": {"code": CODE, "message": TEXT}}.
namespace vibe::core {

// Sends one request and waits for its reply (up to `timeout`).
// Errors: Errc::unavailable when no serve listens on `socket` (no file, or a
// stale file nobody accepts on); the error a failed reply carries, with its
// code; Errc::network for a broken or timed-out connection.
Result<nlohmann::json> control_request(const std::filesystem::path& socket, const nlohmann::json& request,
                                       Millis timeout);

// The error code names used on the wire.
std::string_view errc_name(Errc code);
Errc errc_from_name(std::string_view name);

}  // namespace vibe::core
