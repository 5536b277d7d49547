// vibe stream list|start|pause|stop|status: stream lifecycle. Talks to a
// running vibe serve over its socket; without one, records the desired state
// in the store for serve to apply when it runs.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/serve/control_client.hpp"
#include "core/serve/offline.hpp"
#include "core/store/store.hpp"

#include <fmt/format.h>

namespace vibe::cli {

namespace {

constexpr core::Millis k_request_timeout{60'000};

struct StreamArgs {
  std::vector<std::string> ids;
  bool json = false;
};

// RFC 3339 to the second, for tables; "-" for none.
std::string time_or_dash(const nlohmann::json& v) {
  if (!v.is_string()) {
    return "-";
  }
  std::string t = v.get<std::string>();
  if (const auto dot = t.find('.'); dot != std::string::npos) {
    t = t.substr(0, dot) + "Z";
  }
  return t;
}

// Asks serve; nullopt when serve is not running (other errors are errors).
core::Result<std::optional<nlohmann::json>> ask_serve(const core::Config& config, const nlohmann::json& request) {
  auto answer = core::control_request(config.serve.socket, request, k_request_timeout);
  if (!answer) {
    if (answer.error().code == core::Errc::unavailable) {
      return std::optional<nlohmann::json>{};
    }
    return tl::unexpected(answer.error());
  }
  return std::optional<nlohmann::json>{std::move(*answer)};
}

core::Result<int> list(const GlobalOptions& global, const StreamArgs& args) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  auto live = ask_serve(*config, {{"cmd", "stream.list"}});
  if (!live) {
    return tl::unexpected(live.error());
  }
  nlohmann::json streams;
  if (*live) {
    streams = std::move(**live);
  } else {
    auto store = core::open_store_synced(*config);
    if (!store) {
      return tl::unexpected(store.error());
    }
    auto offline = core::offline_streams_json(*config, **store);
    if (!offline) {
      return tl::unexpected(offline.error());
    }
    streams = std::move(*offline);
  }
  if (args.json) {
    for (auto& s : streams) {
      s["serve_running"] = live->has_value();
      print_json_line(s);
    }
    return 0;
  }
  fmt::print("{:<16} {:<8} {:<21} {:>7}  {}\n", "STREAM", "STATUS", "SESSION STARTED", "SOURCES", "TITLE");
  for (const auto& s : streams) {
    fmt::print("{:<16} {:<8} {:<21} {:>7}  {}\n", fit(s.value("id", ""), 16), s.value("status", ""),
               time_or_dash(s["session_started_at"]), s["sources"].size(), s.value("title", ""));
  }
  if (!*live) {
    fmt::print("(vibe serve is not running: pending streams start when it runs)\n");
  }
  return 0;
}

core::Result<int> change(const GlobalOptions& global, const StreamArgs& args, core::StreamState state) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  for (const auto& id : args.ids) {
    if (config->find_stream(id) == nullptr) {
      return tl::unexpected(core::unknown_stream(*config, id));
    }
  }
  const std::string verb = state == core::StreamState::active   ? "start"
                           : state == core::StreamState::paused ? "pause"
                                                                : "stop";
  auto live = ask_serve(*config, {{"cmd", "stream." + verb}, {"streams", args.ids}});
  if (!live) {
    return tl::unexpected(live.error());
  }
  if (*live) {
    for (const auto& s : (**live)["streams"]) {
      if (args.json) {
        nlohmann::json out = s;
        out["serve_running"] = true;
        print_json_line(out);
      } else {
        fmt::print("stream {}: {}\n", s.value("id", ""), s.value("status", ""));
      }
    }
    return 0;
  }
  auto store = core::open_store_synced(*config);
  if (!store) {
    return tl::unexpected(store.error());
  }
  for (const auto& id : args.ids) {
    auto record = core::record_stream_state(*config, **store, id, state);
    if (!record) {
      return tl::unexpected(record.error());
    }
    // Wanted active, but nothing runs it until serve does.
    const std::string shown =
        state == core::StreamState::active ? std::string{"pending"} : std::string{core::stream_state_name(state)};
    if (args.json) {
      print_json_line({{"id", id},
                       {"status", shown},
                       {"serve_running", false},
                       {"session_started_at", core::time_or_null(record->session_started_at)}});
    } else {
      fmt::print("stream {}: {} (recorded; vibe serve is not running, it takes effect when serve runs)\n", id, shown);
    }
  }
  return 0;
}

core::Result<int> status(const GlobalOptions& global, const StreamArgs& args) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  const std::string& id = args.ids.front();
  auto live = ask_serve(*config, {{"cmd", "stream.status"}, {"stream", id}});
  if (!live) {
    return tl::unexpected(live.error());
  }
  nlohmann::json s;
  if (*live) {
    s = std::move(**live);
  } else {
    auto store = core::open_store_synced(*config);
    if (!store) {
      return tl::unexpected(store.error());
    }
    auto offline = core::offline_stream_json(*config, **store, id);
    if (!offline) {
      return tl::unexpected(offline.error());
    }
    s = std::move(*offline);
  }
  s["serve_running"] = live->has_value();
  if (args.json) {
    print_json_line(s);
    return 0;
  }
  fmt::print("stream {}{}: {}", s.value("id", ""),
             s.value("title", "").empty() ? "" : fmt::format(" ({})", s.value("title", "")), s.value("status", ""));
  if (s["session_started_at"].is_string()) {
    fmt::print(", session started {}", time_or_dash(s["session_started_at"]));
  }
  fmt::print("{}\n", *live ? "" : " (vibe serve is not running)");
  fmt::print("  {:<16} {:<8} {:<12} {:<21} {:<21} {:>8} {:>8}\n", "SOURCE", "TYPE", "HEALTH", "LAST POLL",
             "NEXT POLL", "EVENTS/M", "RESTARTS");
  for (const auto& src : s["sources"]) {
    fmt::print("  {:<16} {:<8} {:<12} {:<21} {:<21} {:>8} {:>8}\n", fit(src.value("id", ""), 16),
               src.value("type", ""), src.value("health", ""), time_or_dash(src["last_poll_at"]),
               time_or_dash(src["next_poll_at"]), src.value("events_last_minute", 0), src.value("restarts", 0));
    if (!src.value("last_error", "").empty()) {
      fmt::print("    last error: {}\n", src.value("last_error", ""));
    }
  }
  return 0;
}

}  // namespace

void add_stream_commands(CLI::App& app, const GlobalOptions& global, Action& run) {
  auto* stream = app.add_subcommand("stream", "stream lifecycle: list, start, pause, stop, status (see vibe-stream(1))");
  stream->require_subcommand(1);

  auto list_args = std::make_shared<StreamArgs>();
  auto* list_cmd = stream->add_subcommand("list", "the configured streams and their status");
  list_cmd->add_flag("--json", list_args->json, "NDJSON, one stream per line");
  list_cmd->callback([&run, &global, list_args] { run = [&global, list_args] { return list(global, *list_args); }; });

  const std::pair<const char*, core::StreamState> verbs[] = {
      {"start", core::StreamState::active},
      {"pause", core::StreamState::paused},
      {"stop", core::StreamState::stopped},
  };
  const char* help[] = {"start streams: their sources run (a paused stream resumes its session)",
                        "pause streams: their sources stop, keeping their state and the session",
                        "stop streams: their sources stop and the session ends"};
  for (std::size_t i = 0; i < std::size(verbs); ++i) {
    auto args = std::make_shared<StreamArgs>();
    auto* cmd = stream->add_subcommand(verbs[i].first, help[i]);
    cmd->add_option("ID", args->ids, "stream ids")->required()->type_name("ID");
    cmd->add_flag("--json", args->json, "NDJSON, one stream per line");
    const core::StreamState state = verbs[i].second;
    cmd->callback([&run, &global, args, state] { run = [&global, args, state] { return change(global, *args, state); }; });
  }

  auto status_args = std::make_shared<StreamArgs>();
  auto* status_cmd = stream->add_subcommand("status", "a stream's status and the health of each of its sources");
  status_cmd->add_option("ID", status_args->ids, "stream id")->required()->expected(1)->type_name("ID");
  status_cmd->add_flag("--json", status_args->json, "one JSON object");
  status_cmd->callback([&run, &global, status_args] { run = [&global, status_args] { return status(global, *status_args); }; });
}

}  // namespace vibe::cli
