#pragma once

#include "core/duration.hpp"
#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string_view>

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

// A connection whose reply is a stream of JSON lines (the "tail" request),
// or that carries many requests, answered in order (pipelined "ingest").
class ControlStream {
public:
  // Connects and sends `request`. Errors as control_request().
  static Result<ControlStream> open(const std::filesystem::path& socket, const nlohmann::json& request);
  // Connects. Errors as control_request().
  static Result<ControlStream> connect(const std::filesystem::path& socket);

  // Sends `request` as one line, then `body` as it is (a request with
  // "bytes": N is followed by N bytes). Errors: Errc::network.
  Result<void> send(const nlohmann::json& request, std::string_view body = {});

  ControlStream(ControlStream&& other) noexcept;
  ControlStream& operator=(ControlStream&&) = delete;
  ControlStream(const ControlStream&) = delete;
  ~ControlStream();

  // The next line, waiting up to `timeout`: nullopt when none came in time.
  // Errors: Errc::unavailable when serve closed the connection;
  // Errc::network for a line that is not a JSON object.
  Result<std::optional<nlohmann::json>> next(Millis timeout);
  // Like next(), but an error reply is returned as the line it is (see
  // reply_result()).
  Result<std::optional<nlohmann::json>> next_line(Millis timeout);

private:
  explicit ControlStream(int fd) : m_fd(fd) {}
  int m_fd = -1;
  std::string m_buffer;
};

// A reply's result ({"ok": true, "result": R} gives R), or the error it
// carries ({"ok": false, "error": {...}}), with its code.
Result<nlohmann::json> reply_result(const nlohmann::json& reply);

// The error code names used on the wire.
std::string_view errc_name(Errc code);
Errc errc_from_name(std::string_view name);

}  // namespace vibe::core
