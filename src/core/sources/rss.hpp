#pragma once

#include "core/feed/feed.hpp"
#include "core/source.hpp"

#include <memory>
#include <span>
#include <string>

// `type: rss`: RSS, RDF, Atom and JSON Feed documents fetched over http(s) or
// read from file: URLs.
namespace vibe::core::rss {

extern const OptionSpec k_options[6];

std::unique_ptr<Source> make(const SourceSpec& spec);

// The event for one parsed entry: type `feed_item`; `occurred_at` is
// published, else updated, else `fetched_at`; `dedup_key` is the entry id,
// else its link, else "sha256:" + a hash of title and summary.
Event to_event(const feed::Entry& entry, const feed::Feed& feed, const SourceSpec& spec,
               UnixMicros fetched_at);

}  // namespace vibe::core::rss
