#include "core/sources/rss.hpp"

#include "core/hash.hpp"
#include "core/net/fetcher.hpp"
#include "core/sources/http_common.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vibe::core::rss {

const OptionSpec k_options[6] = {
    {"url", OptionType::url, k_required, "feed URL: http://, https:// or file: (relative to vibe.yaml)"},
    VIBE_POLL_OPTION_ROWS("15m", "5m", "6h"),
    {"timeout", OptionType::duration, "30s", "give up on a fetch after this long"},
    {"max_size", OptionType::integer, "16777216", "largest response body accepted, in bytes"},
};

namespace {

class RssSource final : public Source {
public:
  explicit RssSource(SourceSpec spec) : m_spec(std::move(spec)) {}

  std::vector<FetchRequest> requests(PollContext& context) const override {
    FetchRequest request;
    request.url = m_spec.options.get("url");
    // The URL as written, ${VAR} unexpanded: safe to show, wherever the secret sits.
    request.display_url = redact_url(m_spec.options.display("url"));
    request.etag = context.state.etag;
    request.last_modified = context.state.last_modified;
    request.timeout = m_spec.options.duration("timeout");
    request.max_bytes = static_cast<std::size_t>(m_spec.options.integer("max_size"));
    return {request};
  }

  Result<Poll> parse(const FetchRequest&, const FetchResponse& response, PollContext& context,
                     UnixMicros fetched_at) const override {
    context.etag = response.etag;
    context.last_modified = response.last_modified;
    const std::string& base = response.effective_url.empty() ? m_spec.options.get("url") : response.effective_url;
    auto parsed = feed::parse_feed(response.body, base);
    if (!parsed) {
      return fail(parsed.error().code, fmt::format("source {}: {}", m_spec.id, parsed.error().message));
    }
    Poll poll;
    poll.events.reserve(parsed->entries.size());
    for (const auto& entry : parsed->entries) {
      poll.events.push_back(to_event(entry, *parsed, m_spec, fetched_at));
    }
    for (const auto& skipped : parsed->skipped) {
      poll.skipped.push_back(fmt::format("item {}: {}", skipped.position, skipped.reason));
    }
    poll.warnings = std::move(parsed->warnings);
    return poll;
  }

private:
  SourceSpec m_spec;
};

}  // namespace

Event to_event(const feed::Entry& entry, const feed::Feed& feed, const SourceSpec& spec, UnixMicros fetched_at) {
  Event event;
  event.stream_id = spec.stream_id;
  event.source_id = spec.id;
  event.type = "feed_item";
  event.occurred_at = entry.published ? *entry.published : entry.updated ? *entry.updated : fetched_at;
  event.url = entry.link;
  if (!entry.id.empty()) {
    event.dedup_key = entry.id;
  } else if (!entry.link.empty()) {
    event.dedup_key = entry.link;
  } else {
    event.dedup_key = "sha256:" + sha256_hex(entry.title + '\x1f' + entry.summary + '\x1f' + entry.content).substr(0, 32);
  }
  nlohmann::json content = feed::to_json(entry);
  if (!feed.title.empty()) {
    content["feed_title"] = feed.title;
  }
  event.content = content.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return event;
}

std::unique_ptr<Source> make(const SourceSpec& spec) {
  return std::make_unique<RssSource>(spec);
}

}  // namespace vibe::core::rss
