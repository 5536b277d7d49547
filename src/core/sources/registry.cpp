#include "core/source.hpp"
#include "core/sources/rss.hpp"

#include <algorithm>

namespace vibe::core {

namespace {

// The one list of source kinds: adding a kind is one file plus one row here.
const SourceKind k_source_kinds[] = {
    {"rss", "RSS, RDF, Atom and JSON Feed documents", rss::k_options, &rss::make},
};

}  // namespace

std::span<const SourceKind> source_kinds() {
  return k_source_kinds;
}

const SourceKind* find_source_kind(std::string_view name) {
  const auto it = std::find_if(std::begin(k_source_kinds), std::end(k_source_kinds),
                               [&](const SourceKind& kind) { return name == kind.name; });
  return it == std::end(k_source_kinds) ? nullptr : &*it;
}

}  // namespace vibe::core
