#include "core/source.hpp"
#include "core/sources/rss.hpp"
#include "core/sources/webhook.hpp"

#include <algorithm>
#include <vector>

namespace vibe::core {

namespace {

// The one list of source kinds: adding a kind is one file plus one row here.
const SourceKind k_source_kinds[] = {
    {"rss", "RSS, RDF, Atom and JSON Feed documents", rss::k_options, &rss::make},
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

bool is_pushed_kind(std::string_view type) {
  const SourceKind* kind = find_source_kind(type);
  return kind != nullptr && kind->make == nullptr;
}

bool register_source_kind(const SourceKind& kind) {
  all_kinds().push_back(kind);
  return true;
}

}  // namespace vibe::core
