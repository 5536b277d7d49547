#pragma once

#include "core/error.hpp"
#include "core/event.hpp"
#include "core/hash.hpp"
#include "core/options.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// `type: webhook`: events pushed to serve's HTTP endpoint,
// POST /webhooks/<source id>. Nothing is polled; serve's HTTP server checks
// each request with the functions below (pure: no I/O, no clock of their
// own) and hands the events to the store writer.
namespace vibe::core::webhook {

extern const OptionSpec k_options[10];

// Checks what the option table cannot (the JSON Pointer); a message or nullopt.
std::optional<std::string> check(const OptionValues& options);

struct Settings {
  std::string secret;              // "" = requests need no signature
  std::shared_ptr<const HmacSha256Key> key;  // the secret, set up for HMACs (settings_of() makes it)
  std::string signature_header;    // another header with the signature ("" = none)
  std::string type;                // event type (event_type) when type_header gives none
  std::string type_header;         // "" = none
  std::string time_field;          // JSON Pointer into each event's object; "" = receipt time
  std::string delivery_header;     // another header with the delivery id ("" = none)
  std::string timestamp_header;    // "" = no replay window
  Millis timestamp_tolerance{300'000};
  std::optional<Rate> rate_limit;  // nullopt = no limit
  std::uint64_t max_body = 1 << 20;
};

// REQUIRES: `options` were checked against k_options and by check().
Settings settings_of(const OptionValues& options);

using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of header `name` (any case), the first if repeated.
std::optional<std::string_view> find_header(const Headers& headers, std::string_view name);

// Whether the request is signed with the source's secret (always true
// without one). The signature is HMAC-SHA256 of the body (or, with a
// timestamp header, of "<timestamp>.<body>"), in hex, in X-Hub-Signature-256
// as "sha256=<hex>", in X-Webhook-Signature as "<hex>" (or "sha256=<hex>"),
// or in the configured signature_header as either; compared in constant
// time. With timestamp_header, the timestamp (epoch seconds) must be within
// timestamp_tolerance of `now`. Errors: Errc::usage with the reason, for a
// 401 (the reason names no secret and no signature value).
Result<void> verify(const Settings& settings, const Headers& headers, std::string_view body, UnixMicros now);

// The delivery id: the configured delivery_header, else X-GitHub-Delivery,
// Idempotency-Key or X-Request-Id; nullopt when none is present.
std::optional<std::string> delivery_id(const Settings& settings, const Headers& headers);

// The events of a body: a JSON object is one event, an array of objects is
// one per element (all or none). Type: the type_header's value, else
// settings.type. occurred_at: the time_field (RFC 3339 text or epoch
// seconds), else `now`. Content: a single object's text as it came
// (without the whitespace around it) unless a time_field is set, else each
// object serialized. Dedup key: the delivery id (with "#<index>" for the
// elements of an array), else `unique` (with "#<index>"), so a request
// without a delivery id is never taken for another. Errors: Errc::parse with
// the parser's message, for a 400.
Result<std::vector<Event>> events_from_body(const Settings& settings, const std::string& source_id,
                                            const Headers& headers, std::string_view body, UnixMicros now,
                                            const std::string& unique);

// A token bucket: `rate.count` requests per `rate.per`, in bursts of up to
// `rate.count`. Not thread-safe.
class TokenBucket {
public:
  explicit TokenBucket(Rate rate) : m_rate(rate), m_tokens(static_cast<double>(rate.count)) {}

  // Takes a token: nullopt when there was one, else how long until there is
  // (for Retry-After).
  std::optional<Millis> take(UnixMicros now);

private:
  Rate m_rate;
  double m_tokens;
  UnixMicros m_last = 0;
};

}  // namespace vibe::core::webhook
