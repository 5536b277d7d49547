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
#include <deque>
#include <map>
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

// What every transfer in the process shares, whichever fetch_all() runs it:
// open connections (a source polled again reuses its keep-alive connection
// instead of connecting anew), DNS answers and TLS sessions. libcurl locks
// each kind of data through these callbacks, so polls on different threads
// may share it.
class CurlShare {
public:
  CurlShare() : m_share(curl_share_init()) {
    curl_share_setopt(m_share, CURLSHOPT_LOCKFUNC, &CurlShare::lock);
    curl_share_setopt(m_share, CURLSHOPT_UNLOCKFUNC, &CurlShare::unlock);
    curl_share_setopt(m_share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(m_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(m_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(m_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~CurlShare() { curl_share_cleanup(m_share); }
  CurlShare(const CurlShare&) = delete;
  CurlShare& operator=(const CurlShare&) = delete;

  CURLSH* get() const { return m_share; }

private:
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<CurlShare*>(user)->mutex_for(data).lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<CurlShare*>(user)->mutex_for(data).unlock();
  }
  std::mutex& mutex_for(curl_lock_data data) {
    const auto i = static_cast<std::size_t>(data);
    return m_mutexes[i < std::size(m_mutexes) ? i : 0];
  }

  CURLSH* m_share;
  std::mutex m_mutexes[CURL_LOCK_DATA_LAST];
};

CURLSH* curl_share() {
  ensure_curl_initialized();
  static CurlShare share;
  return share.get();
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
    t->response.headers.clear();
    t->retry_after.clear();
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return size * count;  // the blank line that ends the head, or a malformed line
  }
  std::string name{line.substr(0, colon)};
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string value = trim(line.substr(colon + 1));
  if (name == "etag") {
    t->response.etag = value;
  } else if (name == "last-modified") {
    t->response.last_modified = value;
  } else if (name == "content-type") {
    t->response.content_type = value;
  } else if (name == "retry-after") {
    t->retry_after = value;
  }
  if (t->response.headers.size() < 200) {  // a server sending thousands of headers gets the first 200 kept
    t->response.headers.emplace_back(std::move(name), std::move(value));
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
  curl_easy_setopt(e, CURLOPT_SHARE, curl_share());
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
  if (!request.accept.empty()) {
    t->headers = curl_slist_append(t->headers, ("Accept: " + request.accept).c_str());
  }
  for (const auto& [name, value] : request.headers) {
    // "Name;" is how libcurl sends a header with an empty value.
    const std::string line = value.empty() ? name + ";" : name + ": " + value;
    t->headers = curl_slist_append(t->headers, line.c_str());
  }
  if (request.method != "GET" || !request.body.empty()) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.body.empty() || request.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    // A body to re-send is not what a redirect should do with it: keep the method.
    curl_easy_setopt(e, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
  }
  if (!request.username.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, request.username.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, request.password.c_str());
  }
  if (!request.ca_bundle.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, request.ca_bundle.c_str());
  }
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
  if (status == 429 || status == 503 || status == 403) {
    response.retry_after = parse_retry_after(t.retry_after);
  }
  return response;
}

}  // namespace

std::string user_agent() {
  static const std::string k_agent =
      fmt::format("vibe/{} (libcurl/{})", VIBE_VERSION, curl_version_info(CURLVERSION_NOW)->version);
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

namespace {

// The process-wide per-host limits (set from the config's `fetch:` block).
class HostGate {
public:
  void configure(HostLimits limits) {
    std::lock_guard lock{m_mutex};
    m_limits = limits;
  }

  HostLimits limits() const {
    std::lock_guard lock{m_mutex};
    return m_limits;
  }

  // Takes a slot for `host` if it has one free and its spacing has passed.
  bool try_acquire(const std::string& host) {
    if (host.empty()) {
      return true;
    }
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock{m_mutex};
    Host& h = m_hosts[host];
    if (h.in_flight >= std::max(1, m_limits.per_host)) {
      return false;
    }
    if (h.started_any && now - h.last_start < m_limits.spacing) {
      return false;
    }
    ++h.in_flight;
    h.last_start = now;
    h.started_any = true;
    return true;
  }

  void release(const std::string& host) {
    if (host.empty()) {
      return;
    }
    std::lock_guard lock{m_mutex};
    auto it = m_hosts.find(host);
    if (it != m_hosts.end() && it->second.in_flight > 0) {
      --it->second.in_flight;
    }
  }

private:
  struct Host {
    int in_flight = 0;
    bool started_any = false;
    std::chrono::steady_clock::time_point last_start;
  };
  mutable std::mutex m_mutex;
  HostLimits m_limits;
  std::map<std::string, Host> m_hosts;
};

HostGate& host_gate() {
  static HostGate gate;
  return gate;
}

}  // namespace

void configure_host_limits(HostLimits limits) {
  host_gate().configure(limits);
}

HostLimits host_limits() {
  return host_gate().limits();
}

std::string host_key(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return {};
  }
  std::string scheme{url.substr(0, scheme_end)};
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https") {
    return {};  // file: reads are not limited
  }
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    rest.remove_prefix(at + 1);
  }
  std::string host{rest};
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool has_port = !host.empty() && host.front() == '[' ? host.find("]:") != std::string::npos
                                                             : host.find(':') != std::string::npos;
  if (!has_port) {
    host += scheme == "https" ? ":443" : ":80";
  }
  return host;
}

void fetch_all(std::span<const FetchRequest> requests, const FetcherOptions& options, const FetchDone& on_done) {
  ensure_curl_initialized();
  HostGate& gate = host_gate();
  CURLM* multi = curl_multi_init();
  std::vector<std::unique_ptr<Transfer>> active(requests.size());
  std::vector<std::string> hosts(requests.size());
  std::deque<std::size_t> waiting;  // not started yet, in order
  for (std::size_t i = 0; i < requests.size(); ++i) {
    hosts[i] = host_key(requests[i].url);
    waiting.push_back(i);
  }
  std::size_t in_flight = 0;
  const std::size_t limit = std::max<std::size_t>(1, options.max_concurrency);

  // Starts what the overall and per-host limits allow, in order; a request
  // whose host is busy waits without holding up the others.
  auto attach_more = [&] {
    for (auto it = waiting.begin(); it != waiting.end() && in_flight < limit;) {
      const std::size_t i = *it;
      if (!gate.try_acquire(hosts[i])) {
        ++it;
        continue;
      }
      it = waiting.erase(it);
      active[i] = start(i, requests[i]);
      if (curl_multi_add_handle(multi, active[i]->easy) != CURLM_OK) {
        gate.release(hosts[i]);
        active[i].reset();
        on_done(i, fail(Errc::network, fmt::format("{}: cannot start transfer", redact_url(requests[i].url))));
      } else {
        ++in_flight;
      }
    }
  };

  attach_more();
  while (in_flight > 0 || !waiting.empty()) {
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
      const std::size_t index = t->index;
      gate.release(hosts[index]);
      auto result = finish(*t, code);
      active[index].reset();
      on_done(index, std::move(result));
    }
    if (options.cancel != nullptr && options.cancel->load()) {
      for (std::size_t i = 0; i < requests.size(); ++i) {
        const bool queued_still = std::find(waiting.begin(), waiting.end(), i) != waiting.end();
        if (active[i] || queued_still) {
          if (active[i]) {
            curl_multi_remove_handle(multi, active[i]->easy);
            gate.release(hosts[i]);
            active[i].reset();
          }
          on_done(i, fail(Errc::cancelled, fmt::format("{}: cancelled (shutting down)", redact_url(requests[i].url))));
        }
      }
      break;
    }
    attach_more();
    if (in_flight > 0 || !waiting.empty()) {
      // Requests held back by a busy host are retried every 10 ms.
      const int wait_ms = !waiting.empty() ? 10 : options.cancel != nullptr ? 100 : 1000;
      curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
    }
  }
  curl_multi_cleanup(multi);
}

}  // namespace vibe::core
