#include "core/sources/http_common.hpp"

#include "core/feed/date.hpp"
#include "core/hash.hpp"
#include "core/net/fetcher.hpp"
#include "core/time.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cmath>

namespace vibe::core::http_common {

std::optional<std::string> check_auth(const OptionValues& options) {
  const std::string& auth = options.get("auth");
  if (auth == "none") {
    return std::nullopt;
  }
  if (auth == "bearer") {
    return options.get("token").empty() ? std::optional<std::string>{"auth: bearer needs token"} : std::nullopt;
  }
  if (auth == "api_key") {
    if (options.get("api_key").empty() || options.get("api_key_header").empty()) {
      return "auth: api_key needs api_key (and api_key_header, default X-API-Key)";
    }
    return std::nullopt;
  }
  if (auth == "basic") {
    return options.get("username").empty() ? std::optional<std::string>{"auth: basic needs username (and password)"}
                                            : std::nullopt;
  }
  return fmt::format("auth: '{}' is not one of none, bearer, api_key, basic", auth);
}

std::optional<std::string> check_pointer(const OptionValues& options, std::string_view name) {
  const std::string& pointer = options.get(name);
  if (pointer.empty()) {
    return std::nullopt;
  }
  try {
    nlohmann::json::json_pointer parsed{pointer};
    (void)parsed;
  } catch (const std::exception&) {
    return fmt::format("{}: '{}' is not a JSON Pointer (like /data/items; \"\" for the whole document)", name,
                       pointer);
  }
  return std::nullopt;
}

void apply_auth(const OptionValues& options, FetchRequest& request) {
  const std::string& auth = options.get("auth");
  if (auth == "bearer") {
    request.headers.emplace_back("Authorization", "Bearer " + options.get("token"));
  } else if (auth == "api_key") {
    request.headers.emplace_back(options.get("api_key_header"), options.get("api_key"));
  } else if (auth == "basic") {
    request.username = options.get("username");
    request.password = options.get("password");
  }
}

const nlohmann::json* at_pointer(const nlohmann::json& document, std::string_view pointer) {
  if (pointer.empty()) {
    return &document;
  }
  try {
    const nlohmann::json::json_pointer parsed{std::string{pointer}};
    if (!document.contains(parsed)) {
      return nullptr;
    }
    return &document.at(parsed);
  } catch (const std::exception&) {
    return nullptr;  // a pointer through a scalar, or an array index that is not a number
  }
}

std::string scalar_text(const nlohmann::json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<UnixMicros> parse_time_value(const nlohmann::json& value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (auto t = parse_rfc3339(text)) {
      return t;
    }
    return feed::parse_date(text);
  }
  if (value.is_number()) {
    const double seconds = value.get<double>();
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e15) {
      return std::nullopt;
    }
    const double scaled = seconds > 1e11 ? seconds / 1000.0 : seconds;  // epoch milliseconds
    return static_cast<UnixMicros>(scaled * 1e6);
  }
  return std::nullopt;
}

Event record_to_event(const nlohmann::json& record, const SourceSpec& spec, const RecordFields& fields,
                      UnixMicros fetched_at, std::vector<std::string>& warnings) {
  Event event;
  event.stream_id = spec.stream_id;
  event.source_id = spec.id;
  event.type = fields.type;
  event.content = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  event.occurred_at = fetched_at;
  const nlohmann::json* id = fields.id_pointer.empty() ? nullptr : at_pointer(record, fields.id_pointer);
  if (id != nullptr && !id->is_null() && !id->is_structured()) {
    event.dedup_key = scalar_text(*id);
  } else {
    if (!fields.id_pointer.empty()) {
      warnings.push_back(fmt::format("a record has no id at {}: keyed by a hash of its content", fields.id_pointer));
    }
    event.dedup_key = "sha256:" + sha256_hex(event.content).substr(0, 32);
  }
  if (!fields.time_pointer.empty()) {
    const nlohmann::json* time = at_pointer(record, fields.time_pointer);
    if (time != nullptr) {
      if (auto t = parse_time_value(*time)) {
        event.occurred_at = *t;
      } else {
        warnings.push_back(fmt::format("record {}: time {} is not a date: {}", event.dedup_key, fields.time_pointer,
                                       scalar_text(*time).substr(0, 80)));
      }
    }
  }
  if (!fields.url_pointer.empty()) {
    const nlohmann::json* url = at_pointer(record, fields.url_pointer);
    if (url != nullptr && url->is_string()) {
      event.url = url->get<std::string>();
    }
  }
  return event;
}

void add_line(std::string_view line, const SourceSpec& spec, const RecordFields& fields, bool ndjson, std::string key,
              std::string_view where, UnixMicros now, Poll& poll) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (line.empty()) {
    return;
  }
  if (line.size() > k_max_line) {
    poll.skipped.push_back(fmt::format("{}a line of {} bytes (over {})", where, line.size(), k_max_line));
    return;
  }
  if (ndjson) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object()) {
      poll.skipped.push_back(fmt::format("{}not a JSON object: {}", where, std::string{line.substr(0, 80)}));
      return;
    }
    Event event = record_to_event(record, spec, fields, now, poll.warnings);
    if (fields.id_pointer.empty() && !key.empty()) {
      event.dedup_key = std::move(key);
    }
    poll.events.push_back(std::move(event));
    return;
  }
  Event event;
  event.stream_id = spec.stream_id;
  event.source_id = spec.id;
  event.type = fields.type;
  event.occurred_at = now;
  event.content =
      nlohmann::json{{"line", std::string{line}}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  event.dedup_key = key.empty() ? "sha256:" + sha256_hex(line).substr(0, 32) : std::move(key);
  poll.events.push_back(std::move(event));
}

std::string next_link(std::string_view header) {
  // <url>; rel="next", <url>; rel="last"
  std::size_t pos = 0;
  while (pos < header.size()) {
    const auto open = header.find('<', pos);
    if (open == std::string_view::npos) {
      break;
    }
    const auto close = header.find('>', open);
    if (close == std::string_view::npos) {
      break;
    }
    const std::string_view url = header.substr(open + 1, close - open - 1);
    auto end = header.find('<', close);
    const std::string_view params = header.substr(close + 1, end == std::string_view::npos ? std::string_view::npos
                                                                                           : end - close - 1);
    std::string lowered{params};
    for (auto& c : lowered) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    for (std::string_view want : {"rel=\"next\"", "rel=next", "rel=\"next ", " next\""}) {
      if (lowered.find(want) != std::string::npos) {
        return std::string{url};
      }
    }
    pos = close + 1;
  }
  return {};
}

FetchRequest base_request(const OptionValues& options, std::string url) {
  FetchRequest request;
  request.display_url = redact_url(url);
  request.url = std::move(url);
  request.accept = "application/json";
  request.timeout = options.duration("timeout");
  request.max_bytes = static_cast<std::size_t>(options.size("max_size"));
  if (options.has("headers")) {
    const nlohmann::json headers = options.json("headers");  // items() of a temporary would dangle
    for (const auto& [name, value] : headers.items()) {
      request.headers.emplace_back(name, value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  apply_auth(options, request);
  return request;
}

Result<nlohmann::json> parse_body(const SourceSpec& spec, const FetchRequest& request, const FetchResponse& response) {
  try {
    return nlohmann::json::parse(response.body);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    if (const auto colon = what.find("] "); colon != std::string::npos) {
      what = what.substr(colon + 2);  // drop nlohmann's "[json.exception.parse_error.101] "
    }
    const std::string shown = request.display_url.empty() ? redact_url(request.url) : request.display_url;
    return fail(Errc::parse, fmt::format("source {}: {}: the response is not JSON: {}", spec.id, shown, what));
  }
}

}  // namespace vibe::core::http_common
