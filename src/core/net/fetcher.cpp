// Concurrent fetching with the libcurl multi interface. At most
// `max_concurrency` easy handles are attached at once; as each finishes, its
// result is reported and the next request is attached, so transfer timeouts
// never count time spent waiting in a queue. One thread drives everything
// with curl_multi_poll(), which scales to hundreds of feeds without a thread
// per feed.
#include "core/net/fetcher.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace vibe::core {

namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

void ensure_curl_initialized() {
  // curl_global_init is not thread-safe on every build; run it exactly once.
  static CurlGlobal global;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return std::string{s};
}

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) {
      return false;
    }
  }
  return true;
}

struct Transfer {
  std::size_t index = 0;
  const FetchRequest* request = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  FetchResponse response;
  std::string retry_after;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy != nullptr) {
      curl_easy_cleanup(easy);
    }
    curl_slist_free_all(headers);
  }
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (t->response.body.size() + bytes > t->request->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, bytes);
  return bytes;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line{data, size * count};
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a redirect or a 100 Continue): forget the last one's headers.
    t->response.etag.clear();
    t->response.last_modified.clear();
    t->response.content_type.clear();
    t->retry_after.clear();
  } else if (iequals_prefix(line, "etag")) {
    t->response.etag = trim(line.substr(5));
  } else if (iequals_prefix(line, "last-modified")) {
    t->response.last_modified = trim(line.substr(14));
  } else if (iequals_prefix(line, "content-type")) {
    t->response.content_type = trim(line.substr(13));
  } else if (iequals_prefix(line, "retry-after")) {
    t->retry_after = trim(line.substr(12));
  }
  return size * count;
}

std::optional<std::chrono::seconds> parse_retry_after(const std::string& value) {
  if (value.empty()) {
    return std::nullopt;
  }
  if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 9) {
      return std::chrono::seconds{86400};
    }
    return std::chrono::seconds{std::stol(value)};
  }
  const time_t when = curl_getdate(value.c_str(), nullptr);
  if (when < 0) {
    return std::nullopt;
  }
  const time_t now = time(nullptr);
  return std::chrono::seconds{std::max<time_t>(0, when - now)};
}

std::unique_ptr<Transfer> start(std::size_t index, const FetchRequest& request) {
  auto t = std::make_unique<Transfer>();
  t->index = index;
  t->request = &request;
  t->easy = curl_easy_init();
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(request.max_redirects));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<std::int64_t>(request.timeout.count(), 10'000)));
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding this libcurl decodes
  curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent().c_str());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  if (request.max_bytes > 0) {
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_bytes));
  }
  t->headers = curl_slist_append(t->headers,
                                 "Accept: application/rss+xml, application/atom+xml, application/feed+json, "
                                 "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8");
  if (!request.etag.empty()) {
    t->headers = curl_slist_append(t->headers, ("If-None-Match: " + request.etag).c_str());
  }
  if (!request.last_modified.empty()) {
    t->headers = curl_slist_append(t->headers, ("If-Modified-Since: " + request.last_modified).c_str());
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  return t;
}

Result<FetchResponse> finish(Transfer& t, CURLcode code) {
  const std::string shown = t.request->display_url.empty() ? redact_url(t.request->url) : t.request->display_url;
  if (t.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return fail(Errc::network, fmt::format("{}: response larger than {} bytes", shown, t.request->max_bytes));
  }
  if (code != CURLE_OK) {
    const std::string detail = t.error[0] != '\0' ? t.error : curl_easy_strerror(code);
    return fail(Errc::network, fmt::format("{}: {}", shown, detail));
  }
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  const char* effective = nullptr;
  curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective);
  curl_off_t total_us = 0;
  curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &total_us);
  FetchResponse response = std::move(t.response);
  response.status = status == 0 ? 200 : status;  // file: URLs have no status
  response.effective_url = effective != nullptr ? effective : t.request->url;
  response.elapsed = std::chrono::microseconds{total_us};
  if (status == 429 || status == 503) {
    response.retry_after = parse_retry_after(t.retry_after);
  }
  return response;
}

}  // namespace

std::string user_agent() {
  static const std::string k_agent =
      fmt::format("vibe/{} (+feed poller; libcurl/{})", VIBE_VERSION, curl_version_info(CURLVERSION_NOW)->version);
  return k_agent;
}

std::string redact_url(std::string_view url) {
  std::string out{url};
  const auto scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const auto host_start = scheme_end + 3;
    const auto path_start = out.find_first_of("/?#", host_start);
    const auto at = out.rfind('@', path_start == std::string::npos ? out.size() : path_start);
    if (at != std::string::npos && at > host_start) {
      out.replace(host_start, at - host_start, "***");
    }
  }
  static constexpr std::string_view k_secret_names[] = {"token", "key", "secret", "password", "sig", "auth"};
  auto query = out.find('?');
  while (query != std::string::npos && query < out.size()) {
    const auto name_start = query + 1;
    const auto eq = out.find('=', name_start);
    auto end = out.find_first_of("&#", name_start);
    if (eq == std::string::npos || (end != std::string::npos && eq > end)) {
      query = end == std::string::npos || out[end] == '#' ? std::string::npos : end;
      continue;
    }
    std::string name = out.substr(name_start, eq - name_start);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    const bool secret = std::any_of(std::begin(k_secret_names), std::end(k_secret_names),
                                    [&](std::string_view s) { return name.find(s) != std::string::npos; });
    if (secret) {
      const auto value_end = end == std::string::npos ? out.size() : end;
      out.replace(eq + 1, value_end - eq - 1, "***");
      end = out.find_first_of("&#", eq + 1);
    }
    query = end == std::string::npos || out[end] == '#' ? std::string::npos : end;
  }
  return out;
}

void fetch_all(std::span<const FetchRequest> requests, const FetcherOptions& options, const FetchDone& on_done) {
  ensure_curl_initialized();
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(options.max_concurrency));
  std::vector<std::unique_ptr<Transfer>> active(requests.size());
  std::size_t next = 0;
  std::size_t in_flight = 0;
  const std::size_t limit = std::max<std::size_t>(1, options.max_concurrency);

  auto attach_more = [&] {
    while (next < requests.size() && in_flight < limit) {
      active[next] = start(next, requests[next]);
      if (curl_multi_add_handle(multi, active[next]->easy) != CURLM_OK) {
        on_done(next, fail(Errc::network, fmt::format("{}: cannot start transfer", redact_url(requests[next].url))));
        active[next].reset();
      } else {
        ++in_flight;
      }
      ++next;
    }
  };

  attach_more();
  while (in_flight > 0) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) {
        continue;
      }
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      const CURLcode code = msg->data.result;
      curl_multi_remove_handle(multi, msg->easy_handle);
      --in_flight;
      auto result = finish(*t, code);
      const std::size_t index = t->index;
      active[index].reset();
      on_done(index, std::move(result));
    }
    if (options.cancel != nullptr && options.cancel->load()) {
      for (std::size_t i = 0; i < requests.size(); ++i) {
        if (i >= next || active[i]) {
          if (active[i]) {
            curl_multi_remove_handle(multi, active[i]->easy);
            active[i].reset();
          }
          on_done(i, fail(Errc::cancelled, fmt::format("{}: cancelled (shutting down)", redact_url(requests[i].url))));
        }
      }
      break;
    }
    attach_more();
    if (in_flight > 0) {
      curl_multi_poll(multi, nullptr, 0, options.cancel != nullptr ? 100 : 1000, nullptr);
    }
  }
  curl_multi_cleanup(multi);
}

}  // namespace vibe::core
