// vibe validate, vibe init.
#include "cli/commands.hpp"
#include "cli/render.hpp"

#include "core/starter.hpp"

#include <fmt/format.h>

namespace vibe::cli {

namespace {

struct ValidateArgs {
  bool json = false;
};

struct InitArgs {
  std::string dir = ".";
  bool force = false;
};

core::Result<int> validate(const GlobalOptions& global, const ValidateArgs& args) {
  auto config = load_config(global);
  if (!args.json) {
    if (!config) {
      return tl::unexpected(config.error());
    }
    fmt::print("ok\n");
    return 0;
  }
  nlohmann::json out{{"ok", config.has_value()}};
  if (!config) {
    out["errors"] = nlohmann::json::array();
    std::string_view rest = config.error().message;
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      out["errors"].push_back(std::string{rest.substr(0, nl)});
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    }
  }
  print_json_line(out);
  return config ? 0 : 2;
}

core::Result<int> init(const InitArgs& args) {
  auto files = core::write_starter(args.dir, args.force ? core::Overwrite::yes : core::Overwrite::no);
  if (!files) {
    return tl::unexpected(files.error());
  }
  for (const auto& file : *files) {
    fmt::print("wrote {}\n", file.string());
  }
  const std::string cd = args.dir == "." ? "" : fmt::format("cd {} && ", args.dir);
  fmt::print("next: {}vibe poll && vibe events stream:news\n", cd);
  return 0;
}

}  // namespace

void add_config_commands(CLI::App& app, const GlobalOptions& global, Action& run) {
  auto validate_args = std::make_shared<ValidateArgs>();
  auto* validate_cmd = app.add_subcommand("validate", "check a config file without running anything; prints ok");
  validate_cmd->add_flag("--json", validate_args->json, "print {\"ok\":...,\"errors\":[...]} instead");
  validate_cmd->callback([&run, &global, validate_args] { run = [&global, validate_args] { return validate(global, *validate_args); }; });

  auto init_args = std::make_shared<InitArgs>();
  auto* init_cmd = app.add_subcommand("init", "write a commented starter vibe.yaml (and a local feed) into DIR");
  init_cmd->add_option("DIR", init_args->dir, "directory (default: .)");
  init_cmd->add_flag("-f,--force", init_args->force, "overwrite an existing vibe.yaml");
  init_cmd->callback([&run, init_args] { run = [init_args] { return init(*init_args); }; });
}

}  // namespace vibe::cli
