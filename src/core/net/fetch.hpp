#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace vibe::core {

// One HTTP(S) or file: GET. Empty `etag` / `last_modified` mean an
// unconditional request.
struct FetchRequest {
  std::string url;
  std::string display_url;  // how messages name the URL (no secrets); redact_url(url) when empty
  std::string etag;
  std::string last_modified;
  std::chrono::milliseconds timeout{30'000};
  std::size_t max_bytes = 16 * 1024 * 1024;
  int max_redirects = 5;
};

struct FetchResponse {
  long status = 0;             // HTTP status; 200 for a file: URL that was read
  std::string body;
  std::string etag;
  std::string last_modified;
  std::string content_type;
  std::string effective_url;   // after redirects
  std::optional<std::chrono::seconds> retry_after;  // from a 429/503
  std::chrono::microseconds elapsed{0};
};

}  // namespace vibe::core
