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

// A connection whose reply is a stream of JSON lines (the "tail" request).
class ControlStream {
public:
  // Connects and sends `request`. Errors as control_request().
  static Result<ControlStream> open(const std::filesystem::path& socket, const nlohmann::json& request);

  ControlStream(ControlStream&& other) noexcept;
  ControlStream& operator=(ControlStream&&) = delete;
  ControlStream(const ControlStream&) = delete;
  ~ControlStream();

  // The next line, waiting up to `timeout`: nullopt when none came in time.
  // Errors: Errc::unavailable when serve closed the connection;
  // Errc::network for a line that is not a JSON object.
  Result<std::optional<nlohmann::json>> next(Millis timeout);

private:
  explicit ControlStream(int fd) : m_fd(fd) {}
  int m_fd = -1;
  std::string m_buffer;
};

// The error code names used on the wire.
std::string_view errc_name(Errc code);
Errc errc_from_name(std::string_view name);

}  // namespace vibe::core
