#include "core/starter.hpp"

#include <fmt/format.h>

#include <fstream>

namespace vibe::core {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_config = R"yaml(# vibe.yaml: the sources vibe polls and the streams that group them.
# Reference: man 5 vibe.yaml. Check this file with: vibe validate
version: 1

# Where the store lives. Relative paths are relative to this file.
data_dir: .vibe
# store: sqlite:.vibe/vibe.db

sources:
  # A feed read from a file next to this config, so this project runs offline.
  # Point url at any RSS, Atom or JSON Feed: https://example.org/feed.xml
  example:
    type: rss
    url: file:feeds/example.xml
    every: 15m            # poll interval: 250ms, 30s, 5m, 1h, 1d
  # Secrets come from the environment and never reach the store or the logs:
  # private:
  #   type: rss
  #   url: "https://example.org/feed.xml?token=${FEED_TOKEN}"

streams:
  news:
    title: "My news wall"
    sources: [example]
)yaml";

constexpr const char* k_feed = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>vibe starter feed</title>
    <link>https://vibe.example/</link>
    <description>A local feed so a new vibe project has something to poll.</description>
    <item>
      <title>Welcome to vibe</title>
      <link>https://vibe.example/welcome</link>
      <guid isPermaLink="false">vibe-starter-1</guid>
      <pubDate>Mon, 02 Nov 2026 09:00:00 GMT</pubDate>
      <description>Run vibe poll, then vibe events stream:news.</description>
    </item>
    <item>
      <title>Add your own feeds</title>
      <link>https://vibe.example/sources</link>
      <guid isPermaLink="false">vibe-starter-2</guid>
      <pubDate>Mon, 02 Nov 2026 09:05:00 GMT</pubDate>
      <description>Edit vibe.yaml: each source has a type, a url and an interval.</description>
    </item>
  </channel>
</rss>
)xml";

Result<void> write_file(const fs::path& path, const char* text) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
  out.close();
  if (!out) {
    return fail(Errc::storage, fmt::format("cannot write {}", path.string()));
  }
  return {};
}

}  // namespace

Result<std::vector<fs::path>> write_starter(const fs::path& dir, Overwrite overwrite) {
  const fs::path config = dir / "vibe.yaml";
  if (overwrite == Overwrite::no && fs::exists(config)) {
    return fail(Errc::usage, fmt::format("{} exists; use --force to overwrite it", config.string()));
  }
  std::error_code ec;
  fs::create_directories(dir / "feeds", ec);
  if (ec) {
    return fail(Errc::storage, fmt::format("cannot create {}: {}", (dir / "feeds").string(), ec.message()));
  }
  const fs::path feed = dir / "feeds" / "example.xml";
  if (auto written = write_file(config, k_config); !written) {
    return tl::unexpected(written.error());
  }
  if (auto written = write_file(feed, k_feed); !written) {
    return tl::unexpected(written.error());
  }
  return std::vector<fs::path>{config, feed};
}

}  // namespace vibe::core
