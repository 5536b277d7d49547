// vibe ingest stream:ID: NDJSON from stdin into a stream, through a running
// vibe serve (so tail subscribers see the events live) or, without one,
// straight into the store through the same batch writer.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/ingest.hpp"
#include "core/serve/offline.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include <poll.h>
#include <unistd.h>

namespace vibe::cli {

namespace {

constexpr std::size_t k_chunk = 1000;          // lines per chunk sent to serve / to the writer
constexpr std::size_t k_chunk_bytes = 4 << 20;  // ... or this much text, whichever comes first
constexpr std::size_t k_max_line = 8 << 20;     // a longer line is rejected without being kept

struct IngestArgs {
  std::string topic;
  std::string source;
  std::string type;
  bool strict = false;
  bool json = false;
};

// Whether reading on would wait: nothing ready on fd 0.
bool input_idle() {
  pollfd ready{STDIN_FILENO, POLLIN, 0};
  return ::poll(&ready, 1, 0) == 0;
}

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
  core::IngestSink sink{*config, core::IngestTarget{stream, args.source, args.type}, args.strict, logging};
  if (auto ok = sink.start(); !ok) {
    return tl::unexpected(ok.error());
  }

  core::IngestCounts counts;
  std::optional<std::size_t> stopped_at;  // --strict: the line it stopped at
  auto report = [&](std::size_t line, const std::string& message) {
    ++counts.rejected;
    const bool stop = args.strict;
    std::fprintf(stderr, "vibe ingest: line %zu: %s%s\n", line, message.c_str(),
                 stop ? " (--strict: stopping)" : "; skipped");
    if (stop) {
      stopped_at = line;
    }
  };
  const core::OnOutcome on_outcome = [&](const core::ChunkOutcome& outcome) {
    counts.accepted += outcome.accepted;
    counts.duplicates += outcome.duplicates;
    for (const auto& reject : outcome.rejects) {
      report(reject.line, reject.message);
    }
  };

  // The input is read in blocks and cut into chunks of whole lines; the sink
  // parses them (or serve does). A chunk goes as soon as it is full, or when
  // the input pauses (`tail -f log | vibe ingest`), so events go out as they
  // come.
  core::IngestChunk chunk;
  std::size_t chunk_lines = 0;
  std::size_t next_line = 1;  // the number of the first line not yet in a chunk
  std::string partial;        // the start of a line whose end has not come yet
  bool oversize = false;      // the line being read is over k_max_line: dropped up to its end
  auto send = [&]() -> core::Result<void> {
    if (chunk.text.empty()) {
      return {};
    }
    chunk.first_line = next_line;
    next_line += chunk_lines;
    chunk_lines = 0;
    return sink.write(std::exchange(chunk, {}), on_outcome);
  };
  auto end_line = [&](std::string_view tail) -> core::Result<void> {
    if (oversize) {
      // Rejected here, in its place: what came before it is sent and
      // answered first, so reports stay in input order.
      if (auto ok = send(); !ok) {
        return ok;
      }
      if (auto ok = sink.finish(on_outcome); !ok || stopped_at) {
        return ok;
      }
      report(next_line++, fmt::format("line longer than {} MiB", k_max_line >> 20));
      oversize = false;
      partial.clear();
      return {};
    }
    chunk.text += partial;
    chunk.text += tail;
    chunk.text += '\n';
    partial.clear();
    if (++chunk_lines >= k_chunk || chunk.text.size() >= k_chunk_bytes) {
      return send();
    }
    return {};
  };
  std::vector<char> block(1 << 16);
  while (!stopped_at) {
    const ssize_t n = ::read(STDIN_FILENO, block.data(), block.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return core::fail(core::Errc::usage, fmt::format("reading stdin: {}", std::strerror(errno)));
    }
    if (n == 0) {
      break;
    }
    std::string_view data{block.data(), static_cast<std::size_t>(n)};
    while (!data.empty() && !stopped_at) {
      const auto newline = data.find('\n');
      const std::string_view piece = data.substr(0, newline);
      if (!oversize && partial.size() + piece.size() > k_max_line) {
        oversize = true;
      }
      if (newline == std::string_view::npos) {
        if (!oversize) {
          partial += piece;
        }
        break;
      }
      data.remove_prefix(newline + 1);
      if (auto ok = end_line(piece); !ok) {
        return tl::unexpected(ok.error());
      }
    }
    if (!stopped_at && input_idle()) {
      if (auto ok = send(); !ok) {
        return tl::unexpected(ok.error());
      }
      if (auto ok = sink.collect(on_outcome); !ok) {
        return tl::unexpected(ok.error());
      }
    }
  }
  // A last line without '\n' counts; what was valid before a --strict stop is kept too.
  if (!stopped_at && (!partial.empty() || oversize)) {
    if (auto ok = end_line({}); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  if (!stopped_at) {
    if (auto ok = send(); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  if (auto ok = sink.finish(on_outcome); !ok) {
    return tl::unexpected(ok.error());
  }
  if (args.json) {
    print_json_line({{"stream", stream},
                     {"accepted", counts.accepted},
                     {"duplicates", counts.duplicates},
                     {"rejected", counts.rejected},
                     {"stopped_at_line", stopped_at ? nlohmann::json(*stopped_at) : nlohmann::json(nullptr)},
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
