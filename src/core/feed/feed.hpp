#pragma once

#include "core/error.hpp"
#include "core/time.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Feed documents as parsed values: RSS 0.9x/1.0/2.0, Atom 1.0 and 0.3, and
// JSON Feed 1.0/1.1, all mapped to one model. Parsing is pure: no network, no
// store, no logging, so tests feed it files from ../shared/fixtures.
namespace vibe::core::feed {

struct Enclosure {
  std::string url;
  std::string type;
  std::int64_t length = 0;  // bytes; 0 when unknown
};

struct Entry {
  std::string id;       // RSS guid, RDF rdf:about, Atom id, JSON Feed id (numbers coerced)
  std::string link;     // resolved against xml:base and the feed URL when relative
  std::string title;    // text constructs per the fixtures README (html/xhtml kept raw)
  std::string summary;  // RSS description, Atom summary, JSON Feed summary
  std::string content;  // content:encoded, Atom content, content_html or content_text
  std::string content_type;  // "html", "xhtml", "text" or a MIME type; empty when no content
  std::string author;        // display name of the first author ("me@x (Name)" gives "Name")
  std::vector<std::string> authors;  // all author display names, in order
  std::optional<UnixMicros> published;
  std::optional<UnixMicros> updated;
  std::vector<std::string> categories;
  std::vector<Enclosure> enclosures;
};

// An item the parser dropped, and why. `position` is 1-based in document order.
struct SkippedItem {
  std::size_t position = 0;
  std::string reason;
};

struct Feed {
  std::string format;   // "rss", "rdf", "atom" or "json"
  std::string version;  // "rss090", "rss091"-"rss094", "rss20", "rss" (no version), "rss10", "atom10", "atom03", "json1", "json11"
  std::string title;
  std::string link;
  std::string subtitle;
  std::string self;  // atom:link rel=self / JSON Feed feed_url
  std::string language;
  std::string author;
  std::optional<UnixMicros> updated;
  std::vector<Entry> entries;
  std::vector<SkippedItem> skipped;
  std::vector<std::string> warnings;  // kept items with a problem, e.g. an unparseable date
};

// Parses a feed document. `body` is the raw bytes (any BOM, any declared
// encoding among UTF-8, UTF-16, ISO-8859-1 and Windows-1252; output strings are
// always UTF-8). `base_url` is where the document came from; it resolves
// relative links and appears in error messages.
// Errors (Errc::parse): not well-formed XML/JSON ("<url>: line 26: ..."), or a
// well-formed document that is not a feed. A broken document never yields a
// partial Feed.
Result<Feed> parse_feed(std::string_view body, std::string_view base_url);

// The whole feed as JSON, for `vibe feed parse --json`: times as RFC 3339 UTC,
// absent values omitted.
nlohmann::json to_json(const Feed& feed);
nlohmann::json to_json(const Entry& entry);

}  // namespace vibe::core::feed
