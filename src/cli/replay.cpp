// vibe replay TOPIC [--from TIME] [--to TIME] [--speed X|max] [--json]: a
// topic's stored events, oldest first, each printed when its turn comes:
// the gaps between their times (occurred_at) divided by the speed. Read
// from the store in pages, so a long session needs no memory.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/store/store.hpp"
#include "core/topic.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

namespace vibe::cli {

namespace {

struct ReplayArgs {
  std::string topic;
  std::optional<std::string> from;
  std::optional<std::string> to;
  std::string speed = "1";
  bool json = false;
};

constexpr std::size_t k_page = 1000;

core::Result<int> replay(const GlobalOptions& global, const ReplayArgs& args) {
  double speed = 0;  // 0: as fast as possible
  if (args.speed != "max") {
    char* end = nullptr;
    speed = std::strtod(args.speed.c_str(), &end);
    if (end == args.speed.c_str() || *end != '\0' || !std::isfinite(speed) || speed <= 0) {
      return core::fail(core::Errc::usage,
                        fmt::format("--speed: '{}' is not a positive number or max (e.g. 1, 10, 0.5)", args.speed));
    }
  }
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  auto query = core::topic_query(args.topic, *config);
  if (!query) {
    return tl::unexpected(query.error());
  }
  if (auto ok = set_time_range(*query, args.from, "--from", args.to, "--to"); !ok) {
    return tl::unexpected(ok.error());
  }
  query->oldest_first = true;
  query->limit = k_page;
  auto store = core::open_store_synced(*config);
  if (!store) {
    return tl::unexpected(store.error());
  }
  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  std::optional<core::UnixMicros> first_at;
  for (;;) {
    auto rows = (*store)->events(*query);
    if (!rows) {
      return tl::unexpected(rows.error());
    }
    for (const auto& event : *rows) {
      if (!first_at) {
        first_at = event.occurred_at;
      }
      if (speed > 0) {
        const double offset_us = static_cast<double>(event.occurred_at - *first_at) / speed;
        std::this_thread::sleep_until(started + std::chrono::microseconds{static_cast<std::int64_t>(offset_us)});
      }
      if (args.json) {
        print_json_line(core::to_json(event));
      } else {
        fmt::print("{}\n", event_line(event));
      }
      std::fflush(stdout);  // each event when its turn comes, also into a pipe
    }
    if (rows->size() < k_page) {
      break;
    }
    query->after_position = std::make_pair(rows->back().occurred_at, rows->back().id);
  }
  return 0;
}

}  // namespace

void add_replay_command(CLI::App& app, const GlobalOptions& global, Action& run) {
  auto args = std::make_shared<ReplayArgs>();
  auto* cmd = app.add_subcommand(
      "replay", "print a topic's stored events oldest first, spaced as they occurred (divided by --speed)");
  cmd->add_option("TOPIC", args->topic, "stream:ID or source:ID")->required();
  cmd->add_option("--from", args->from, "only events that occurred at or after TIME (RFC 3339, or 2h for 2 hours ago)")
      ->type_name("TIME");
  cmd->add_option("--to", args->to, "only events that occurred before TIME")->type_name("TIME");
  cmd->add_option("--speed", args->speed, "1 for real time, 10 for ten times faster, max for no waiting (default 1)")
      ->type_name("X");
  cmd->add_flag("--json", args->json, "NDJSON, one event per line");
  cmd->callback([&run, &global, args] { run = [&global, args] { return replay(global, *args); }; });
}

}  // namespace vibe::cli
