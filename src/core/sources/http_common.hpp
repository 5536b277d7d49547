#pragma once

#include "core/event.hpp"
#include "core/net/fetch.hpp"
#include "core/options.hpp"
#include "core/source.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

// What the HTTP JSON kinds (http_api, graphql, github) share: auth, JSON
// Pointers, records to events, Link headers.
namespace vibe::core::http_common {

// Option rows every polled kind has: every (a duration or "auto"), every_min, every_max.
#define VIBE_POLL_OPTION_ROWS(default_every, default_min, default_max)                                           \
  {"every", OptionType::interval, default_every, "poll interval, or auto: adapt between every_min and every_max"}, \
      {"every_min", OptionType::duration, default_min, "shortest interval of every: auto (a busy source)"},       \
      {"every_max", OptionType::duration, default_max, "longest interval of every: auto (a quiet source)"}

// Option rows of the auth the HTTP JSON kinds accept.
#define VIBE_AUTH_OPTION_ROWS                                                                                       \
  {"auth", OptionType::string, "none", "none, bearer (token), api_key (api_key_header + api_key) or basic"},       \
      {"token", OptionType::string, "", "bearer token (auth: bearer), e.g. \"${API_TOKEN}\""},                    \
      {"api_key_header", OptionType::string, "X-API-Key", "header that carries api_key (auth: api_key)"},         \
      {"api_key", OptionType::string, "", "API key (auth: api_key), e.g. \"${API_KEY}\""},                         \
      {"username", OptionType::string, "", "user name (auth: basic)"},                                              \
      {"password", OptionType::string, "", "password (auth: basic), e.g. \"${API_PASSWORD}\""}

// Checks the auth options and JSON Pointer options named in `pointers`: a message, or nullopt.
std::optional<std::string> check_auth(const OptionValues& options);
std::optional<std::string> check_pointer(const OptionValues& options, std::string_view name);

// Adds the configured auth to `request` (Authorization or the API key header).
void apply_auth(const OptionValues& options, FetchRequest& request);

// The value at JSON Pointer `pointer` ("" is the whole document), or nullptr when absent.
const nlohmann::json* at_pointer(const nlohmann::json& document, std::string_view pointer);

// A JSON value as a dedup key / text: strings as they are, numbers and the rest as JSON.
std::string scalar_text(const nlohmann::json& value);

// A time in a record: an RFC 3339 / RFC 822 string, or epoch seconds
// (milliseconds when larger than 10^11).
std::optional<UnixMicros> parse_time_value(const nlohmann::json& value);

struct RecordFields {
  std::string type;          // the event type
  std::string id_pointer;    // "" : a hash of the record
  std::string time_pointer;  // "" : fetched_at
  std::string url_pointer;   // "" : none
};

// One record as an event: content is the record's JSON; dedup key its id (or
// "sha256:" + a hash of its JSON); occurred_at from the time field, else
// `fetched_at` (a time that does not parse adds a warning).
Event record_to_event(const nlohmann::json& record, const SourceSpec& spec, const RecordFields& fields,
                      UnixMicros fetched_at, std::vector<std::string>& warnings);

// Lines longer than this (command and file sources) are skipped with a note.
inline constexpr std::size_t k_max_line = 1024 * 1024;

// One line of a line-oriented source (command, file) into `poll`: a trailing
// CR and empty lines dropped, a line over k_max_line skipped; with `ndjson`
// the line is a JSON object made an event by record_to_event (anything else
// is skipped), else an event whose content is {"line": TEXT}. The dedup key
// is the record's id (fields.id_pointer), else `key`, else "sha256:" + a
// hash of the line. `where` prefixes skip notes ("offset 12: ").
void add_line(std::string_view line, const SourceSpec& spec, const RecordFields& fields, bool ndjson, std::string key,
              std::string_view where, UnixMicros now, Poll& poll);

// The URL of rel="next" in an RFC 8288 Link header, or "".
std::string next_link(std::string_view link_header);

// A FetchRequest with the options every HTTP JSON kind has: timeout,
// max_size, JSON accepted, auth, extra headers (a map option named "headers").
FetchRequest base_request(const OptionValues& options, std::string url);

// Parses a JSON body; errors name the source and the URL.
Result<nlohmann::json> parse_body(const SourceSpec& spec, const FetchRequest& request, const FetchResponse& response);

}  // namespace vibe::core::http_common
