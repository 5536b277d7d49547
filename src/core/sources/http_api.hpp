#pragma once

#include "core/source.hpp"

#include <memory>

// `type: http_api`: a JSON HTTP API polled on an interval. Method, URL,
// query, headers, JSON body and auth are configured; `items` points at the
// records, `id` / `time` / `url_field` at their dedup key, date and link;
// pages are followed by Link header, a next-URL field or a cursor field, up
// to max_pages per poll.
namespace vibe::core::http_api {

extern const OptionSpec k_options[27];

std::unique_ptr<Source> make(const SourceSpec& spec);
std::optional<std::string> check(const OptionValues& options);

// `url` with `query` (a JSON object of strings) appended, percent-encoded.
std::string with_query(std::string url, const nlohmann::json& query);

}  // namespace vibe::core::http_api
