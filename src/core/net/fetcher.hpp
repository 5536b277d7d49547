#pragma once

#include "core/error.hpp"
#include "core/net/fetch.hpp"

#include <cstddef>
#include <atomic>
#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace vibe::core {

struct FetcherOptions {
  std::size_t max_concurrency = 32;  // transfers in flight at once
  // When set and it turns true, transfers still running end within about
  // 100 ms with Errc::cancelled (serve's shutdown timeout).
  const std::atomic<bool>* cancel = nullptr;
};

// Politeness towards one host (scheme://host:port), across every fetch in
// the process: at most `per_host` requests in flight, and `spacing` between
// the starts of two requests.
struct HostLimits {
  int per_host = 2;
  std::chrono::milliseconds spacing{0};
};
void configure_host_limits(HostLimits limits);
HostLimits host_limits();

// "host:port" of an http(s) URL (the default port filled in, lower case), or
// "" for other URLs (file:), which no host limit applies to.
std::string host_key(std::string_view url);

// Called once per request, on the thread that called fetch_all, as soon as
// that request finishes. `index` is its position in the request span.
using FetchDone = std::function<void(std::size_t index, Result<FetchResponse> response)>;

// Fetches every request concurrently with the libcurl multi interface:
// http, https and file: URLs; bounded redirects (never to file:); gzip,
// deflate and brotli as libcurl offers; conditional GET from the request's
// etag/last_modified; a body larger than max_bytes is an error. Any HTTP
// status is a response (callers judge it); failures to get one (DNS, connect,
// timeout, too large, unreadable file) are Errc::network errors naming the
// URL. Requests wait for their host's slot (HostLimits) without holding up
// requests to other hosts. Blocks until all requests are done.
void fetch_all(std::span<const FetchRequest> requests, const FetcherOptions& options, const FetchDone& on_done);

// The User-Agent vibe sends.
std::string user_agent();

// Hides credentials in a URL for logs and messages: userinfo and the values
// of query parameters that look like secrets (token, key, secret, password,
// sig, auth) become "***".
std::string redact_url(std::string_view url);

}  // namespace vibe::core
