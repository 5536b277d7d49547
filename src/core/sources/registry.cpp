#include "core/source.hpp"
#include "core/sources/command.hpp"
#include "core/sources/file.hpp"
#include "core/sources/github.hpp"
#include "core/sources/graphql.hpp"
#include "core/sources/http_api.hpp"
#include "core/sources/rss.hpp"
#include "core/sources/webhook.hpp"

#include <algorithm>
#include <vector>

namespace vibe::core {

namespace {

// The one list of source kinds: adding a kind is one file plus one row here.
const SourceKind k_source_kinds[] = {
    {"rss", "RSS, RDF, Atom and JSON Feed documents", rss::k_options, &rss::make},
    {"github", "a GitHub repository's issues, pull requests, releases and commits (REST API v3)", github::k_options,
     &github::make, &github::check},
    {"http_api", "a JSON HTTP API: method, query, headers, body, auth, records by JSON Pointer, pagination",
     http_api::k_options, &http_api::make, &http_api::check},
    {"graphql", "a GraphQL query; records by JSON Pointer into data; errors fail the poll", graphql::k_options,
     &graphql::make, &graphql::check},
    {"command", "a shell command's stdout (lines, JSON, NDJSON), run per poll or kept running (mode: stream)",
     command::k_options, &command::make, &command::check, &command::release},
    {"file", "a file followed like tail -F (lines or NDJSON); survives rotation, truncation and restarts",
     file::k_options, &file::make, &file::check, &file::release},
    {"webhook", "JSON pushed to serve's HTTP endpoint, POST /webhooks/ID, optionally signed", webhook::k_options,
     nullptr, &webhook::check},
};

// The table plus kinds added by register_source_kind() (test builds only).
// Built once, before main() in practice; reads afterwards need no lock.
std::vector<SourceKind>& all_kinds() {
  static std::vector<SourceKind> kinds(std::begin(k_source_kinds), std::end(k_source_kinds));
  return kinds;
}

}  // namespace

std::span<const SourceKind> source_kinds() {
  return all_kinds();
}

const SourceKind* find_source_kind(std::string_view name) {
  const auto& kinds = all_kinds();
  const auto it = std::find_if(kinds.begin(), kinds.end(), [&](const SourceKind& kind) { return name == kind.name; });
  return it == kinds.end() ? nullptr : &*it;
}

PollInterval poll_interval(const OptionValues& options) {
  PollInterval interval;
  const std::string& every = options.get("every");
  if (every != "auto") {
    interval.fixed = options.duration("every");
    interval.min = interval.max = interval.fixed;
    return interval;
  }
  interval.adaptive = true;
  interval.min = options.has("every_min") ? options.duration("every_min") : Millis{60'000};
  interval.max = std::max(interval.min, options.has("every_max") ? options.duration("every_max") : Millis{3'600'000});
  return interval;
}

Millis PollInterval::next(Millis current, std::size_t new_events) const {
  if (!adaptive) {
    return fixed;
  }
  const Millis proposed = new_events > 0 ? current / 2 : current + current / 2;
  return std::clamp(proposed, min, max);
}

std::vector<FetchRequest> Source::requests(PollContext&) const {
  return {};
}

Result<Poll> Source::parse(const FetchRequest&, const FetchResponse&, PollContext&, UnixMicros) const {
  return fail(Errc::usage, "this source kind fetches nothing over HTTP");
}

Result<Poll> Source::poll_local(PollContext&, UnixMicros, const std::atomic<bool>*) const {
  return fail(Errc::usage, "this source kind is fetched over HTTP");
}

void release_source(std::string_view type, const std::string& id) {
  const SourceKind* kind = find_source_kind(type);
  if (kind != nullptr && kind->release != nullptr) {
    kind->release(id);
  }
}

bool is_pushed_kind(std::string_view type) {
  const SourceKind* kind = find_source_kind(type);
  return kind != nullptr && kind->make == nullptr;
}

bool register_source_kind(const SourceKind& kind) {
  all_kinds().push_back(kind);
  return true;
}

}  // namespace vibe::core
