#pragma once

#include "core/duration.hpp"
#include "core/error.hpp"

#include <spdlog/logger.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// vibe serve's HTTP/1.1 server (Boost.Beast's parser on Asio; the only
// file that includes Beast is http.cpp). It knows nothing of webhooks or
// metrics: it reads a request's head, asks the routes whether to read the
// body and up to what size, reads it, and writes the routes' response, with
// keep-alive and pipelined requests answered in order.
//
// It runs on event-loop threads of its own (`threads`, one io_context
// each); a connection stays on the thread that accepted it, so nothing of a
// connection needs a lock. Answers given from other threads (the store
// writer, after a commit) are handed to a connection's thread in batches:
// one wake-up per thread per commit, not one per answer.
//
// Slow clients cannot hold it up: a request head must arrive within
// `header_timeout` of the server starting to wait for it (also between
// keep-alive requests), a body within `body_timeout`, and above
// `max_connections` new connections are closed at once. Deadlines are
// checked four times a second.
namespace vibe::core {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query, as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer;  // "ip:port"
  // What the routes' head() looked up, kept for their handle() (opaque here).
  std::shared_ptr<const void> route_state;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After
  std::string body;
};

// Sends the response; callable once, from any thread.
using Respond = std::function<void(HttpResponse)>;

struct HttpRoutes {
  // Looks at a request's head (no body yet): a response to send at once,
  // after which the connection is closed (the body is never read), or
  // nullopt to read a body of at most `body_limit` bytes (a larger one is
  // answered 413 by the server).
  std::function<std::optional<HttpResponse>(HttpRequest& head, std::uint64_t& body_limit)> head;
  // The whole request.
  std::function<void(HttpRequest request, Respond respond)> handle;
  // Told of a request the server answered itself after head() let it pass
  // (413: the body was over the limit). Optional.
  std::function<void(const HttpRequest& head, int status)> answered_by_server;
};

struct HttpLimits {
  std::size_t max_connections = 4096;
  Millis header_timeout{10'000};
  Millis body_timeout{30'000};
  std::size_t threads = 2;  // event-loop threads (named vibe-http-N)
};

class HttpServer {
public:
  // Starts the event-loop threads.
  HttpServer(HttpRoutes routes, HttpLimits limits, std::shared_ptr<spdlog::logger> log);
  ~HttpServer();  // shutdown()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Listens on `address` ("127.0.0.1:8787", "[::1]:8787", "0.0.0.0:0" for
  // any free port). Errors: Errc::config for an address that does not
  // parse, Errc::network when it cannot be bound (with the reason).
  Result<void> listen(const std::string& address);
  // The address it listens on, with the real port.
  std::string local_address() const;
  // Stops accepting; open connections finish what they are doing.
  void stop_accepting();
  // Closes every connection: at once when it waits for a request, else once
  // its response is written.
  void close_all();
  std::size_t connections() const;
  // Stops the threads and drops every connection. Idempotent.
  void shutdown();

  struct Impl;  // in http.cpp (its sessions hold it)

private:
  std::shared_ptr<Impl> m_impl;
};

}  // namespace vibe::core
