// vibe source test ID|--inline YAML [--json]: one fetch, nothing stored.
// vibe source list [--json]: the configured sources, their kind and health.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/poller.hpp"
#include "core/serve/control_client.hpp"
#include "core/source.hpp"
#include "core/store/store.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <sstream>

namespace vibe::cli {

namespace {

struct SourceArgs {
  std::string id;
  std::string inline_yaml;
  bool json = false;
};

constexpr const char* k_inline_id = "inline";

constexpr int k_inline_first_line = 4;  // of the text inline_config() parses

// "--inline:LINE:COL: ..." with LINE counted in the YAML as given (and the
// column in the indented text made the column in it).
std::string inline_message(const std::string& message) {
  std::string out;
  std::istringstream lines{message};
  std::string line;
  const std::string prefix = "--inline:";
  while (std::getline(lines, line)) {
    int number = 0;
    int column = 0;
    int used = 0;
    if (line.rfind(prefix, 0) == 0 &&
        std::sscanf(line.c_str() + prefix.size(), "%d:%d:%n", &number, &column, &used) == 2 && used > 0) {
      line = fmt::format("{}{}:{}:{}", prefix, std::max(1, number - k_inline_first_line + 1), std::max(1, column - 4),
                         line.substr(prefix.size() + static_cast<std::size_t>(used)));
    }
    out += (out.empty() ? "" : "\n") + line;
  }
  return out;
}

// An inline source (YAML for one source's mapping) as a config holding it
// alone, with the fetch: settings of the config file when there is one.
core::Result<core::Config> inline_config(const GlobalOptions& global, const std::string& yaml) {
  std::string text = "version: 1\nsources:\n  inline:\n";
  std::istringstream lines{yaml};
  std::string line;
  while (std::getline(lines, line)) {
    text += "    " + line + "\n";
  }
  auto config = core::parse_config(text, "--inline", core::process_env());
  if (!config) {
    return core::fail(config.error().code, inline_message(config.error().message));
  }
  if (auto file = load_config(global)) {
    config->fetch = file->fetch;  // per-host limits, the CA bundle
  }
  return config;
}

nlohmann::json next_json(const core::PollState& next) {
  nlohmann::json out = nlohmann::json::object();
  if (!next.etag.empty()) {
    out["etag"] = next.etag;
  }
  if (!next.last_modified.empty()) {
    out["last_modified"] = next.last_modified;
  }
  if (!next.memo.empty()) {
    out["memo"] = nlohmann::json::parse(next.memo, nullptr, false);
  }
  if (next.retry_not_before > 0) {
    out["not_before"] = core::format_rfc3339_seconds(next.retry_not_before);
  }
  return out;
}

core::Result<int> test(const GlobalOptions& global, const SourceArgs& args) {
  if (args.id.empty() == args.inline_yaml.empty()) {
    return core::fail(core::Errc::usage, "give a source id or --inline 'YAML' (one of them)");
  }
  auto config = args.inline_yaml.empty() ? load_config(global) : inline_config(global, args.inline_yaml);
  if (!config) {
    return tl::unexpected(config.error());
  }
  const std::string id = args.inline_yaml.empty() ? args.id : k_inline_id;
  const auto logging = make_logging(global);
  const std::string ids[] = {id};
  const auto started = std::chrono::steady_clock::now();
  auto report = core::poll_sources(*config, ids, nullptr, nullptr, core::DryRun::yes, logging.get("poll"));
  if (!report) {
    return tl::unexpected(report.error());
  }
  const double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const core::SourceReport& r = report->sources.front();
  const core::SourceConfig* source = config->find_source(id);
  const bool failed = r.outcome == core::PollOutcome::failed || r.outcome == core::PollOutcome::crashed;
  if (args.json) {
    nlohmann::json out{{"source", id},
                       {"type", source != nullptr ? source->type : ""},
                       {"outcome", core::outcome_name(r.outcome)},
                       {"elapsed_ms", total_ms},
                       {"requests", nlohmann::json::array()},
                       {"events", nlohmann::json::array()},
                       {"next", next_json(r.next)}};
    if (!r.error.empty()) {
      out["error"] = r.error;
    }
    if (!r.notes.empty()) {
      out["notes"] = r.notes;
    }
    for (const auto& request : r.requests) {
      nlohmann::json q{{"method", request.method}, {"url", request.url}, {"elapsed_ms", request.elapsed.count() / 1000.0}};
      if (request.status != 0) {
        q["status"] = request.status;
      }
      out["requests"].push_back(std::move(q));
    }
    for (const auto& event : report->events) {
      out["events"].push_back(core::to_json(event));
    }
    print_json_line(out);
    return failed ? 1 : 0;
  }
  fmt::print("source {} ({}): {} in {:.1f} ms\n", id, source != nullptr ? source->type : "?",
             core::outcome_name(r.outcome), total_ms);
  for (const auto& request : r.requests) {
    fmt::print("  {} {}  {}  {:.1f} ms\n", request.method, request.url,
               request.status != 0 ? std::to_string(request.status) : std::string{"no response"},
               request.elapsed.count() / 1000.0);
  }
  if (!r.error.empty()) {
    fmt::print("  error: {}\n", r.error);
  }
  for (const auto& note : r.notes) {
    fmt::print("  note: {}\n", note);
  }
  fmt::print("{} event{} (not stored):\n", report->events.size(), report->events.size() == 1 ? "" : "s");
  for (const auto& event : report->events) {
    fmt::print("  {}\n", event_line(event));
  }
  const auto next = next_json(r.next);
  if (!next.empty() && !failed) {
    fmt::print("the next poll starts from:\n");
    for (const auto& [key, value] : next.items()) {
      fmt::print("  {}: {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  return failed ? 1 : 0;
}

core::Result<int> list(const GlobalOptions& global, const SourceArgs& args) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  // Live health from serve when it runs; the stored poll state otherwise.
  std::map<std::string, nlohmann::json> live;
  auto streams = core::control_request(config->serve.socket, {{"cmd", "stream.list"}}, std::chrono::seconds{10});
  if (streams && streams->is_array()) {
    for (const auto& stream : *streams) {
      for (const auto& src : stream.value("sources", nlohmann::json::array())) {
        live[src.value("id", "")] = src;
      }
    }
  }
  std::unique_ptr<core::Store> store;
  if (auto opened = core::open_store_synced(*config)) {
    store = std::move(*opened);
  }
  std::size_t width = 6;
  for (const auto& source : config->sources) {
    width = std::max(width, source.id.size());
  }
  if (!args.json) {
    fmt::print("{:<{}}  {:<9} {:<12} {:<21} {}\n", "SOURCE", width, "TYPE", "HEALTH", "LAST POLL", "STREAMS");
  }
  for (const auto& source : config->sources) {
    std::vector<std::string> in;
    for (const auto& stream : config->streams) {
      if (std::find(stream.sources.begin(), stream.sources.end(), source.id) != stream.sources.end()) {
        in.push_back(stream.id);
      }
    }
    core::PollState state;
    if (store) {
      if (auto s = store->poll_state(source.id)) {
        state = *s;
      }
    }
    std::string health;
    if (const auto it = live.find(source.id); it != live.end()) {
      health = it->second.value("health", "");
    } else if (core::is_pushed_kind(source.type)) {
      health = "pushed";
    } else if (state.last_poll_at == 0) {
      health = "never polled";
    } else {
      // The names serve uses (vibe-serve(1), Supervision), plus "failing": one failed poll.
      health = state.consecutive_failures == 0 ? "ok" : state.consecutive_failures >= 2 ? "backing off" : "failing";
    }
    if (args.json) {
      nlohmann::json out{{"id", source.id},
                         {"type", source.type},
                         {"streams", in},
                         {"health", health},
                         {"last_poll_at", state.last_poll_at ? nlohmann::json(core::format_rfc3339(state.last_poll_at))
                                                             : nlohmann::json(nullptr)},
                         {"last_success_at", state.last_success_at
                                                 ? nlohmann::json(core::format_rfc3339(state.last_success_at))
                                                 : nlohmann::json(nullptr)},
                         {"consecutive_failures", state.consecutive_failures},
                         {"last_error", state.last_error}};
      print_json_line(out);
      continue;
    }
    fmt::print("{:<{}}  {:<9} {:<12} {:<21} {}\n", source.id, width, source.type, health,
               state.last_poll_at ? core::format_rfc3339_seconds(state.last_poll_at) : "-",
               in.empty() ? "-" : fmt::format("{}", fmt::join(in, ",")));
    if (!state.last_error.empty()) {
      fmt::print("{:<{}}  last error: {}\n", "", width, state.last_error);
    }
  }
  return 0;
}

}  // namespace

void add_source_commands(CLI::App& app, const GlobalOptions& global, Action& run) {
  auto* group = app.add_subcommand("source", "try a source once (test) or list the configured sources (list)");
  group->require_subcommand(1);

  auto test_args = std::make_shared<SourceArgs>();
  auto* test_cmd = group->add_subcommand(
      "test", "fetch a source once and print the events it would produce, the HTTP exchanges and what the next "
              "poll would send; nothing is stored");
  test_cmd->add_option("ID", test_args->id, "a configured source");
  test_cmd->add_option("--inline", test_args->inline_yaml, "a source given as YAML, e.g. '{type: rss, url: ...}'")
      ->type_name("YAML");
  test_cmd->add_flag("--json", test_args->json, "one JSON object");
  test_cmd->callback([&run, &global, test_args] { run = [&global, test_args] { return test(global, *test_args); }; });

  auto list_args = std::make_shared<SourceArgs>();
  auto* list_cmd = group->add_subcommand("list", "the configured sources with their type, health and streams");
  list_cmd->add_flag("--json", list_args->json, "NDJSON, one source per line");
  list_cmd->callback([&run, &global, list_args] { run = [&global, list_args] { return list(global, *list_args); }; });
}

}  // namespace vibe::cli
