// vibe feed parse FILE|URL [--json]
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/feed/feed.hpp"
#include "core/net/fetcher.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace vibe::cli {

namespace {

struct ParseArgs {
  std::string input;
  bool json = false;
};

// The document and the URL it counts as coming from.
core::Result<std::pair<std::string, std::string>> read_input(const std::string& input) {
  const bool is_url = input.find("://") != std::string::npos || input.rfind("file:", 0) == 0;
  if (!is_url) {
    std::ifstream in{input, std::ios::binary};
    if (!in) {
      return core::fail(core::Errc::usage, fmt::format("cannot read {}", input));
    }
    std::ostringstream body;
    body << in.rdbuf();
    return std::pair{body.str(), "file://" + std::filesystem::absolute(input).lexically_normal().string()};
  }
  core::FetchRequest request;
  request.url = input;
  if (input.rfind("file:", 0) == 0 && input.rfind("file://", 0) != 0) {
    request.url = "file://" + std::filesystem::absolute(input.substr(5)).lexically_normal().string();
  }
  core::Result<core::FetchResponse> response = core::fail(core::Errc::network, "not fetched");
  core::fetch_all(std::span{&request, 1}, {}, [&](std::size_t, core::Result<core::FetchResponse> r) {
    response = std::move(r);
  });
  if (!response) {
    return tl::unexpected(response.error());
  }
  if (response->status < 200 || response->status >= 300) {
    return core::fail(core::Errc::http, fmt::format("{}: HTTP {}", core::redact_url(input), response->status));
  }
  return std::pair{std::move(response->body), response->effective_url};
}

core::Result<int> parse(const ParseArgs& args) {
  auto input = read_input(args.input);
  if (!input) {
    return tl::unexpected(input.error());
  }
  auto feed = core::feed::parse_feed(input->first, input->second);
  if (!feed) {
    return tl::unexpected(feed.error());
  }
  if (args.json) {
    fmt::print("{}\n", core::feed::to_json(*feed).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  fmt::print("format    {} ({})\n", feed->format, feed->version);
  fmt::print("title     {}\n", feed->title);
  if (!feed->link.empty()) {
    fmt::print("link      {}\n", feed->link);
  }
  if (!feed->subtitle.empty()) {
    fmt::print("subtitle  {}\n", fit(feed->subtitle, 100));
  }
  if (feed->updated) {
    fmt::print("updated   {}\n", core::format_rfc3339(*feed->updated));
  }
  fmt::print("entries   {}\n", feed->entries.size());
  for (const auto& entry : feed->entries) {
    const auto when = entry.published ? entry.published : entry.updated;
    fmt::print("\n  {}\n", entry.title.empty() ? "(no title)" : entry.title);
    if (when) {
      fmt::print("    date    {}\n", core::format_rfc3339(*when));
    }
    if (!entry.author.empty()) {
      fmt::print("    author  {}\n", entry.author);
    }
    if (!entry.link.empty()) {
      fmt::print("    link    {}\n", entry.link);
    }
    if (!entry.id.empty() && entry.id != entry.link) {
      fmt::print("    id      {}\n", entry.id);
    }
  }
  for (const auto& skipped : feed->skipped) {
    fmt::print("\nskipped item {}: {}\n", skipped.position, skipped.reason);
  }
  for (const auto& warning : feed->warnings) {
    fmt::print("warning: {}\n", warning);
  }
  return 0;
}

}  // namespace

void add_feed_commands(CLI::App& app, const GlobalOptions&, Action& run) {
  auto* feed = app.add_subcommand("feed", "feed tools");
  feed->require_subcommand(1);
  auto args = std::make_shared<ParseArgs>();
  auto* parse_cmd = feed->add_subcommand("parse", "parse a feed file or URL and print what vibe sees in it");
  parse_cmd->add_option("INPUT", args->input, "a file path, or an http(s):// or file: URL")->required();
  parse_cmd->add_flag("--json", args->json, "the parsed feed as one JSON document");
  parse_cmd->callback([&run, args] { run = [args] { return parse(*args); }; });
}

}  // namespace vibe::cli
