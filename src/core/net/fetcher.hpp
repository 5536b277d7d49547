#pragma once

#include "core/error.hpp"
#include "core/net/fetch.hpp"

#include <cstddef>
#include <atomic>
#include <functional>
#include <span>
#include <string>

namespace vibe::core {

struct FetcherOptions {
  std::size_t max_concurrency = 32;  // transfers in flight at once
  // When set and it turns true, transfers still running end within about
  // 100 ms with Errc::cancelled (serve's shutdown timeout).
  const std::atomic<bool>* cancel = nullptr;
};

// Called once per request, on the thread that called fetch_all, as soon as
// that request finishes. `index` is its position in the request span.
using FetchDone = std::function<void(std::size_t index, Result<FetchResponse> response)>;

// Fetches every request concurrently with the libcurl multi interface:
// http, https and file: URLs; bounded redirects (never to file:); gzip,
// deflate and brotli as libcurl offers; conditional GET from the request's
// etag/last_modified; a body larger than max_bytes is an error. Any HTTP
// status is a response (callers judge it); failures to get one (DNS, connect,
// timeout, too large, unreadable file) are Errc::network errors naming the
// URL. Blocks until all requests are done.
void fetch_all(std::span<const FetchRequest> requests, const FetcherOptions& options, const FetchDone& on_done);

// The User-Agent vibe sends.
std::string user_agent();

// Hides credentials in a URL for logs and messages: userinfo and the values
// of query parameters that look like secrets (token, key, secret, password,
// sig, auth) become "***".
std::string redact_url(std::string_view url);

}  // namespace vibe::core
