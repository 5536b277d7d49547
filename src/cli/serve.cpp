// vibe serve, vibe status, vibe reload: the long-running process and the
// commands that ask it how it is and to re-read its config.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/serve/control_client.hpp"
#include "core/serve/server.hpp"
#include "jobs/service.hpp"

#include <fmt/format.h>

namespace vibe::cli {

namespace {

constexpr core::Millis k_request_timeout{60'000};

std::string uptime(std::int64_t seconds) {
  if (seconds < 60) {
    return fmt::format("{}s", seconds);
  }
  if (seconds < 3600) {
    return fmt::format("{}m {}s", seconds / 60, seconds % 60);
  }
  return fmt::format("{}h {}m", seconds / 3600, (seconds % 3600) / 60);
}

core::Result<int> run_serve(const GlobalOptions& global, const std::string& shutdown_timeout) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  std::optional<core::Millis> timeout_flag;
  if (!shutdown_timeout.empty()) {
    auto d = core::parse_duration(shutdown_timeout);
    if (!d) {
      return core::fail(core::Errc::usage, fmt::format("--shutdown-timeout: {}", d.error().message));
    }
    timeout_flag = *d;
    config->serve.shutdown_timeout = *d;
  }
  const core::Logging logging = make_logging(global, spdlog::level::info);
  core::ServeHooks hooks;
  hooks.load_config = [&global, timeout_flag](const std::filesystem::path&) {
    auto fresh = load_config(global);
    if (fresh && timeout_flag) {
      fresh->serve.shutdown_timeout = *timeout_flag;  // the flag wins over the file, on reload too
    }
    return fresh;
  };
  hooks.make_jobs = [&logging](const core::Config& c, core::Store& store, core::BatchWriter& writer,
                               core::PollTrigger& polls) {
    return jobs::make_job_service(c, store, writer, polls, logging);
  };
  return core::serve(std::move(*config), logging, std::move(hooks));
}

core::Result<int> run_status(const GlobalOptions& global, bool json) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  auto status = core::control_request(config->serve.socket, {{"cmd", "status"}}, k_request_timeout);
  if (!status) {
    if (status.error().code == core::Errc::unavailable) {
      if (json) {
        print_json_line({{"running", false}, {"socket", config->serve.socket.string()}});
      } else {
        fmt::print("vibe serve is not running (no one listens on {})\n", config->serve.socket.string());
      }
      return 1;
    }
    return tl::unexpected(status.error());
  }
  auto& s = *status;
  s["running"] = true;
  if (json) {
    print_json_line(s);
    return 0;
  }
  fmt::print("vibe serve {}, pid {}, up {}\n", s.value("version", "?"), s.value("pid", 0),
             uptime(s.value("uptime_s", std::int64_t{0})));
  fmt::print("config:   {}\n", s.value("config", ""));
  fmt::print("socket:   {}\n", s.value("socket", ""));
  const auto& streams = s["streams"];
  fmt::print("streams:  {} active, {} paused, {} stopped\n", streams.value("active", 0), streams.value("paused", 0),
             streams.value("stopped", 0));
  const auto& sources = s["sources"];
  fmt::print("sources:  {} running ({} polling now), {} backing off, {} failed, {} idle\n",
             sources.value("running", 0), sources.value("polling_now", 0), sources.value("backing_off", 0),
             sources.value("failed", 0), sources.value("idle", 0));
  const auto& workers = s["workers"];
  fmt::print("workers:  {} poll threads, {} job threads, {} event-loop threads, {} HTTP threads\n",
             workers.value("poll_threads", 0), workers.value("job_threads", 0), workers.value("loop_threads", 0),
             workers.value("http_threads", 0));
  for (const auto& [name, q] : s["queues"].items()) {
    fmt::print("queue {:<8} concurrency {}: {} available, {} scheduled, {} executing, {} retryable\n", name,
               q.value("concurrency", 0), q.value("available", 0), q.value("scheduled", 0), q.value("executing", 0),
               q.value("retryable", 0));
  }
  const auto& w = s["writer"];
  fmt::print("writer:   {}{} pending, {} events committed in {} batches, {} failed batches, {} refused\n",
             w.value("degraded", false) ? "DEGRADED, " : "", w.value("pending_events", 0), w.value("events", 0),
             w.value("batches", 0), w.value("failed_batches", 0), w.value("rejected", 0));
  if (s.contains("bus")) {
    fmt::print("tail:     {} sessions, {} events dropped for slow subscribers\n", s.value("tail_sessions", 0),
               s["bus"].value("lagged", 0));
  }
  if (w.value("degraded", false)) {
    fmt::print("          last commit failed: {}\n", w.value("last_error", ""));
  }
  return 0;
}

core::Result<int> run_reload(const GlobalOptions& global, bool json) {
  auto config = load_config(global);
  if (!config) {
    // The file is broken: say where, whether or not serve runs. Serve keeps
    // its running config either way.
    return tl::unexpected(config.error());
  }
  auto result = core::control_request(config->serve.socket, {{"cmd", "reload"}}, k_request_timeout);
  if (!result) {
    return tl::unexpected(result.error());
  }
  if (json) {
    print_json_line(*result);
    return 0;
  }
  auto list = [](const nlohmann::json& ids) {
    std::vector<std::string> out;
    for (const auto& id : ids) {
      out.push_back(id.get<std::string>());
    }
    return out.empty() ? std::string{"none"} : fmt::format("{}", fmt::join(out, ", "));
  };
  fmt::print("reloaded {}: added {}; removed {}; changed {}\n", config->path.string(), list((*result)["added"]),
             list((*result)["removed"]), list((*result)["changed"]));
  if (!(*result)["restart_needed"].empty()) {
    fmt::print("note: changes to {} take effect when serve restarts\n", list((*result)["restart_needed"]));
  }
  return 0;
}

}  // namespace

void add_serve_commands(CLI::App& app, const GlobalOptions& global, Action& run) {
  auto* serve = app.add_subcommand("serve", "run sources, streams and jobs until SIGTERM (see vibe-serve(1))");
  auto shutdown_timeout = std::make_shared<std::string>();
  serve->add_option("--shutdown-timeout", *shutdown_timeout,
                    "on SIGTERM, how long polls and jobs in flight may take to finish (default: serve.shutdown_timeout, "
                    "30s)")
      ->type_name("DUR");
  serve->callback([&run, &global, shutdown_timeout] {
    run = [&global, shutdown_timeout] { return run_serve(global, *shutdown_timeout); };
  });

  auto status_json = std::make_shared<bool>(false);
  auto* status = app.add_subcommand("status", "show how a running vibe serve is doing (exit 1 if none runs)");
  status->add_flag("--json", *status_json, "one JSON object");
  status->callback([&run, &global, status_json] { run = [&global, status_json] { return run_status(global, *status_json); }; });

  auto reload_json = std::make_shared<bool>(false);
  auto* reload = app.add_subcommand("reload", "make a running vibe serve re-read its config");
  reload->add_flag("--json", *reload_json, "one JSON object: added, removed, changed sources");
  reload->callback([&run, &global, reload_json] { run = [&global, reload_json] { return run_reload(global, *reload_json); }; });
}

}  // namespace vibe::cli
