#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vibe::core {

// The feed types first, then anything (the rss source's Accept header).
inline constexpr const char* k_accept_feeds =
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, "
    "*/*;q=0.8";

// One HTTP(S) request (any method) or file: read. Empty `etag` /
// `last_modified` mean an unconditional request.
struct FetchRequest {
  std::string url;
  std::string display_url;  // how messages name the URL (no secrets); redact_url(url) when empty
  std::string method = "GET";
  // Extra request headers, sent as given ("Name", "value"). Values may hold
  // secrets (Authorization): never log them.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;             // sent when not empty (with the method given)
  std::string username;         // HTTP basic auth when not empty (secret: never log)
  std::string password;
  std::string accept = k_accept_feeds;
  std::string etag;
  std::string last_modified;
  std::string ca_bundle;        // a PEM file of CA certificates to trust instead of the system's
  std::chrono::milliseconds timeout{30'000};
  std::size_t max_bytes = 16 * 1024 * 1024;
  int max_redirects = 5;
  // For the source that made the request: which part of a poll it is.
  std::string tag;
  int page = 1;
};

struct FetchResponse {
  long status = 0;             // HTTP status; 200 for a file: URL that was read
  std::string body;
  std::string etag;
  std::string last_modified;
  std::string content_type;
  std::string effective_url;   // after redirects
  std::optional<std::chrono::seconds> retry_after;  // from a 429/503 (or 403 with Retry-After)
  std::chrono::microseconds elapsed{0};
  // Every header of the final response, names in lower case, in order.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header named `name` (lower case), or "" when absent.
  std::string_view header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) {
        return value;
      }
    }
    return {};
  }
};

}  // namespace vibe::core
