// vibe sources [KIND] [--json] and vibe sinks [KIND] [--json]: the source and
// sink kinds and their options, printed from the same option tables that
// config loading checks against.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/sink.hpp"
#include "core/source.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vibe::cli {

namespace {

struct SourcesArgs {
  std::string kind;
  bool json = false;
};

// `what` is "source" or "sink"; Kind is SourceKind or SinkKind.
template <typename Kind>
core::Result<int> list(std::span<const Kind> kinds, const char* what, const SourcesArgs& args) {
  const Kind* only = nullptr;
  if (!args.kind.empty()) {
    for (const auto& kind : kinds) {
      if (args.kind == kind.name) {
        only = &kind;
      }
    }
    if (only == nullptr) {
      std::vector<std::string> names;
      for (const auto& kind : kinds) {
        names.emplace_back(kind.name);
      }
      return core::fail(core::Errc::usage,
                        fmt::format("no {} type '{}' (types: {})", what, args.kind, fmt::join(names, ", ")));
    }
  }
  for (const auto& kind : kinds) {
    if (only != nullptr && only != &kind) {
      continue;
    }
    if (args.json) {
      nlohmann::json out{{"type", kind.name}, {"summary", kind.summary}, {"options", nlohmann::json::array()}};
      for (const auto& option : kind.options) {
        out["options"].push_back({{"name", option.name},
                                  {"type", core::option_type_name(option.type)},
                                  {"required", option.default_value == core::k_required},
                                  {"default", option.default_value ? nlohmann::json(option.default_value) : nullptr},
                                  {"help", option.help}});
      }
      print_json_line(out);
      continue;
    }
    fmt::print("{}: {}\n", kind.name, kind.summary);
    std::size_t width = 10;
    for (const auto& option : kind.options) {
      width = std::max(width, std::string_view{option.name}.size());
    }
    for (const auto& option : kind.options) {
      const std::string presence =
          option.default_value == core::k_required ? "required" : fmt::format("default {}", option.default_value);
      fmt::print("  {:<{}} {:<9} {:<18} {}\n", option.name, width, core::option_type_name(option.type), presence,
                 option.help);
    }
  }
  return 0;
}

}  // namespace

void add_sources_command(CLI::App& app, const GlobalOptions&, Action& run) {
  auto args = std::make_shared<SourcesArgs>();
  auto* cmd = app.add_subcommand("sources", "list source types and their options");
  cmd->add_option("TYPE", args->kind, "only this source type");
  cmd->add_flag("--json", args->json, "NDJSON, one object per source type");
  cmd->callback([&run, args] { run = [args] { return list(core::source_kinds(), "source", *args); }; });
}

void add_sinks_command(CLI::App& app, const GlobalOptions&, Action& run) {
  auto args = std::make_shared<SourcesArgs>();
  auto* cmd = app.add_subcommand("sinks", "list pipeline sink types and their options");
  cmd->add_option("TYPE", args->kind, "only this sink type");
  cmd->add_flag("--json", args->json, "NDJSON, one object per sink type");
  cmd->callback([&run, args] { run = [args] { return list(core::sink_kinds(), "sink", *args); }; });
}

}  // namespace vibe::cli
