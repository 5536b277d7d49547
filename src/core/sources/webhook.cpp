#include "core/sources/webhook.hpp"

#include "core/hash.hpp"
#include "core/time.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace vibe::core::webhook {

const OptionSpec k_options[10] = {
    {"secret", OptionType::string, "", "HMAC-SHA256 key; when set, every request must be signed (write ${VAR})"},
    {"signature_header", OptionType::string, "",
     "another header carrying the signature, as <hex> or sha256=<hex> (X-Hub-Signature-256 and "
     "X-Webhook-Signature are always read)"},
    {"event_type", OptionType::string, "webhook", "event type when type_header gives none"},
    {"type_header", OptionType::string, "", "header whose value is the event type, e.g. X-GitHub-Event"},
    {"time_field", OptionType::string, "",
     "JSON Pointer to each event's time in the body (RFC 3339 or epoch seconds), e.g. /created_at; "
     "else the time of receipt"},
    {"delivery_header", OptionType::string, "",
     "another header carrying a delivery id (X-GitHub-Delivery, Idempotency-Key and X-Request-Id are always read)"},
    {"timestamp_header", OptionType::string, "",
     "header with the time the request was sent (epoch seconds); the signature then covers \"<timestamp>.<body>\""},
    {"timestamp_tolerance", OptionType::duration, "5m", "how far that timestamp may be from now"},
    {"rate_limit", OptionType::rate, "", "requests accepted per s, min or h, e.g. 100/min; more get 429"},
    {"max_body", OptionType::size, "1MiB", "largest body accepted; a larger one gets 413"},
};

std::optional<std::string> check(const OptionValues& options) {
  const std::string& pointer = options.get("time_field");
  if (pointer.empty()) {
    return std::nullopt;
  }
  try {
    (void)nlohmann::json::json_pointer{pointer};
  } catch (const nlohmann::json::exception&) {
    return fmt::format("time_field: '{}' is not a JSON Pointer (want /field or /field/sub, e.g. /created_at)",
                       pointer);
  }
  return std::nullopt;
}

Settings settings_of(const OptionValues& options) {
  Settings settings;
  settings.secret = options.get("secret");
  if (!settings.secret.empty()) {
    settings.key = std::make_shared<const HmacSha256Key>(settings.secret);
  }
  settings.signature_header = options.get("signature_header");
  settings.type = options.get("event_type");
  settings.type_header = options.get("type_header");
  settings.time_field = options.get("time_field");
  settings.delivery_header = options.get("delivery_header");
  settings.timestamp_header = options.get("timestamp_header");
  settings.timestamp_tolerance = options.duration("timestamp_tolerance");
  settings.rate_limit = options.rate("rate_limit");
  settings.max_body = options.size("max_body");
  return settings;
}

namespace {

// ASCII only, as header names are (and cheaper than the locale's tolower:
// every request looks up several headers).
constexpr char fold(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::optional<std::string_view> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (std::equal(key.begin(), key.end(), name.begin(), name.end(),
                   [](char a, char b) { return fold(a) == fold(b); })) {
      return std::string_view{value};
    }
  }
  return std::nullopt;
}

namespace {

// "sha256=<hex>" or "<hex>" as lowercase hex; "" when it is neither.
std::string signature_hex(std::string_view value) {
  while (!value.empty() && value.back() == ' ') {
    value.remove_suffix(1);
  }
  if (value.rfind("sha256=", 0) == 0) {
    value.remove_prefix(7);
  }
  std::string hex;
  hex.reserve(value.size());
  for (const char c : value) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return {};
    }
    hex += fold(c);
  }
  return hex;
}

}  // namespace

Result<void> verify(const Settings& settings, const Headers& headers, std::string_view body, UnixMicros now) {
  if (settings.secret.empty()) {
    return {};
  }
  std::string signed_text;
  std::string_view covered = body;
  if (!settings.timestamp_header.empty()) {
    const auto stamp = find_header(headers, settings.timestamp_header);
    if (!stamp) {
      return fail(Errc::usage, fmt::format("missing timestamp header {}", settings.timestamp_header));
    }
    std::int64_t seconds = 0;
    const auto [end, ec] = std::from_chars(stamp->data(), stamp->data() + stamp->size(), seconds);
    if (ec != std::errc{} || end != stamp->data() + stamp->size()) {
      return fail(Errc::usage, fmt::format("timestamp header {} is not epoch seconds", settings.timestamp_header));
    }
    const double skew_ms = std::abs(static_cast<double>(now) / 1000.0 - static_cast<double>(seconds) * 1000.0);
    if (skew_ms > static_cast<double>(settings.timestamp_tolerance.count())) {
      return fail(Errc::usage, fmt::format("timestamp header {} is {} s away from now (tolerance {})",
                                           settings.timestamp_header, static_cast<std::int64_t>(skew_ms / 1000),
                                           format_duration(settings.timestamp_tolerance)));
    }
    signed_text = fmt::format("{}.{}", *stamp, body);
    covered = signed_text;
  }
  std::vector<std::string_view> names{"X-Hub-Signature-256", "X-Webhook-Signature"};
  if (!settings.signature_header.empty()) {
    names.insert(names.begin(), settings.signature_header);
  }
  const std::string expected =
      settings.key != nullptr ? settings.key->hex(covered) : hmac_sha256_hex(settings.secret, covered);
  if (expected.empty()) {
    return fail(Errc::usage, "cannot compute signatures (OpenSSL failed)");
  }
  bool present = false;
  for (const auto name : names) {
    if (const auto value = find_header(headers, name)) {
      present = true;
      if (equal_constant_time(signature_hex(*value), expected)) {
        return {};
      }
    }
  }
  if (!present) {
    return fail(Errc::usage, "missing signature (X-Hub-Signature-256: sha256=<hex> or X-Webhook-Signature: <hex>)");
  }
  return fail(Errc::usage, "signature does not match the body");
}

std::optional<std::string> delivery_id(const Settings& settings, const Headers& headers) {
  std::vector<std::string_view> names{"X-GitHub-Delivery", "Idempotency-Key", "X-Request-Id"};
  if (!settings.delivery_header.empty()) {
    names.insert(names.begin(), settings.delivery_header);
  }
  for (const auto name : names) {
    if (const auto value = find_header(headers, name); value && !value->empty()) {
      return std::string{*value};
    }
  }
  return std::nullopt;
}

namespace {

std::optional<UnixMicros> time_of(const nlohmann::json& object, const std::string& pointer) {
  if (pointer.empty()) {
    return std::nullopt;
  }
  const nlohmann::json::json_pointer where{pointer};
  if (!object.contains(where)) {
    return std::nullopt;
  }
  const auto& value = object.at(where);
  if (value.is_string()) {
    return parse_rfc3339(value.get<std::string>());
  }
  if (value.is_number() && std::isfinite(value.get<double>()) && value.get<double>() >= 0 &&
      value.get<double>() < 253'402'300'800.0) {  // before year 10000
    return static_cast<UnixMicros>(std::llround(value.get<double>() * 1e6));
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<Event>> events_from_body(const Settings& settings, const std::string& source_id,
                                            const Headers& headers, std::string_view body, UnixMicros now,
                                            const std::string& unique) {
  std::string type = settings.type;
  if (!settings.type_header.empty()) {
    if (const auto value = find_header(headers, settings.type_header); value && !value->empty()) {
      type = std::string{*value};
    }
  }
  const std::optional<std::string> delivery = delivery_id(settings, headers);
  const std::string& key = delivery ? *delivery : unique;
  // The common case, one object and no time to pick out of it: checked
  // without building a document, and stored as it came.
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '{' && settings.time_field.empty() &&
      nlohmann::json::accept(body)) {
    Event event;
    event.source_id = source_id;
    event.type = type;
    event.occurred_at = now;
    event.content = std::string{body.substr(first, body.find_last_not_of(" \t\r\n") - first + 1)};
    event.dedup_key = key;
    return std::vector<Event>{std::move(event)};
  }
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    if (const auto at = what.find("parse error"); at != std::string::npos) {
      what = what.substr(at);
    }
    return fail(Errc::parse, std::move(what));
  }
  const bool many = parsed.is_array();
  if (!many && !parsed.is_object()) {
    return fail(Errc::parse, fmt::format("expected a JSON object or an array of objects, got {}", parsed.type_name()));
  }
  std::vector<Event> events;
  const std::size_t count = many ? parsed.size() : 1;
  events.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const nlohmann::json& object = many ? parsed[i] : parsed;
    if (!object.is_object()) {
      return fail(Errc::parse, fmt::format("element {} of the array is {}, not an object", i, object.type_name()));
    }
    Event event;
    event.source_id = source_id;
    event.type = type;
    event.occurred_at = time_of(object, settings.time_field).value_or(now);
    event.content = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    event.dedup_key = many ? fmt::format("{}#{}", key, i) : key;
    events.push_back(std::move(event));
  }
  return events;
}

std::optional<Millis> TokenBucket::take(UnixMicros now) {
  const double per_us = static_cast<double>(m_rate.per.count()) * 1000.0;
  const double capacity = static_cast<double>(m_rate.count);
  if (m_last != 0 && now > m_last) {
    m_tokens = std::min(capacity, m_tokens + static_cast<double>(now - m_last) * capacity / per_us);
  }
  m_last = std::max(m_last, now);
  if (m_tokens >= 1.0) {
    m_tokens -= 1.0;
    return std::nullopt;
  }
  const double wait_us = (1.0 - m_tokens) * per_us / capacity;
  return Millis{static_cast<std::int64_t>(std::ceil(wait_us / 1000.0))};
}

}  // namespace vibe::core::webhook
