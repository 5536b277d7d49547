// vibe ingest stream:ID: NDJSON from stdin into a stream, through a running
// vibe serve (so tail subscribers see the events live) or, without one,
// straight into the store through the same batch writer.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/ingest.hpp"
#include "core/serve/offline.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include <poll.h>
#include <unistd.h>

namespace vibe::cli {

namespace {

constexpr std::size_t k_chunk = 1000;               // events per request to serve / per write
constexpr std::size_t k_chunk_bytes = 4 << 20;       // ... or this much content, whichever comes first

struct IngestArgs {
  std::string topic;
  std::string source;
  std::string type;
  bool strict = false;
  bool json = false;
};

core::Result<int> ingest(const GlobalOptions& global, const IngestArgs& args) {
  auto config = load_config(global);
  if (!config) {
    return tl::unexpected(config.error());
  }
  if (args.topic.rfind("stream:", 0) != 0) {
    return core::fail(core::Errc::usage, fmt::format("'{}': vibe ingest writes into a stream: stream:ID", args.topic));
  }
  const std::string stream = args.topic.substr(7);
  if (config->find_stream(stream) == nullptr) {
    return tl::unexpected(core::unknown_stream(*config, stream));
  }
  const core::Logging logging = make_logging(global);
  core::IngestSink sink{*config, stream, logging};
  if (auto ok = sink.start(); !ok) {
    return tl::unexpected(ok.error());
  }
  const core::IngestTarget target{stream, args.source, args.type};
  core::IngestCounts counts;
  std::vector<core::Event> chunk;
  std::size_t chunk_bytes = 0;
  std::string line;
  std::size_t number = 0;
  bool stopped = false;
  // Whether reading on would wait: nothing buffered and nothing ready on fd 0.
  auto input_idle = [] {
    if (std::cin.rdbuf()->in_avail() > 0) {
      return false;
    }
    pollfd ready{STDIN_FILENO, POLLIN, 0};
    return ::poll(&ready, 1, 0) == 0;
  };
  for (;;) {
    // A slow producer (`tail -f log | vibe ingest`): send what we have
    // before waiting for more, so events go out as they come.
    if (!chunk.empty() && input_idle()) {
      chunk_bytes = 0;
      if (auto ok = sink.write(std::exchange(chunk, {}), counts); !ok) {
        return tl::unexpected(ok.error());
      }
    }
    if (!std::getline(std::cin, line)) {
      break;
    }
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;  // blank lines are not records
    }
    const auto record = nlohmann::json::parse(line, nullptr, false);
    auto event = record.is_discarded() ? core::fail(core::Errc::parse, "not valid JSON")
                                       : core::event_from_record(record, target, core::now_micros());
    if (!event) {
      ++counts.rejected;
      std::fprintf(stderr, "vibe ingest: line %zu: %s%s\n", number, event.error().message.c_str(),
                   args.strict ? " (--strict: stopping)" : "; skipped");
      if (args.strict) {
        stopped = true;
        break;
      }
      continue;
    }
    chunk_bytes += event->content.size();
    chunk.push_back(std::move(*event));
    if (chunk.size() >= k_chunk || chunk_bytes >= k_chunk_bytes) {
      chunk_bytes = 0;
      if (auto ok = sink.write(std::exchange(chunk, {}), counts); !ok) {
        return tl::unexpected(ok.error());
      }
    }
  }
  // What was valid before a --strict stop is kept too.
  if (auto ok = sink.write(std::exchange(chunk, {}), counts); !ok) {
    return tl::unexpected(ok.error());
  }
  if (args.json) {
    print_json_line({{"stream", stream},
                     {"accepted", counts.accepted},
                     {"duplicates", counts.duplicates},
                     {"rejected", counts.rejected},
                     {"stopped_at_line", stopped ? nlohmann::json(number) : nlohmann::json(nullptr)},
                     {"through_serve", sink.through_serve() || sink.fell_back()},
                     {"fell_back_to_store", sink.fell_back()}});
  } else {
    const char* note = sink.fell_back()        ? " (vibe serve stopped mid-way; the rest was written to the store)"
                       : sink.through_serve() ? ""
                                              : " (written to the store; vibe serve is not running)";
    fmt::print("stream:{}: {} accepted, {} duplicate, {} rejected{}\n", stream, counts.accepted, counts.duplicates,
               counts.rejected, note);
  }
  return counts.rejected == 0 ? 0 : 1;
}

}  // namespace

void add_ingest_command(CLI::App& app, const GlobalOptions& global, Action& run) {
  auto args = std::make_shared<IngestArgs>();
  auto* cmd = app.add_subcommand("ingest", "read NDJSON records from stdin into a stream (see vibe-ingest(1))");
  cmd->add_option("TOPIC", args->topic, "stream:ID")->required()->type_name("stream:ID");
  cmd->add_option("--source", args->source, "source id of the events (default ingest.STREAM)")->type_name("ID");
  cmd->add_option("--type", args->type, "event type for records without \"type\" (default record)")->type_name("T");
  cmd->add_flag("--strict", args->strict, "stop at the first bad line (what came before is kept)");
  cmd->add_flag("--json", args->json, "print the counts as one JSON object");
  cmd->callback([&run, &global, args] { run = [&global, args] { return ingest(global, *args); }; });
}

}  // namespace vibe::cli
