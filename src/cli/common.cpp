#include "cli/commands.hpp"

namespace vibe::cli {

core::Result<core::Config> load_config(const GlobalOptions& global) {
  const auto env = core::process_env();
  return core::load_config(core::resolve_config_path(global.config, env), env);
}

core::Logging make_logging(const GlobalOptions& global) {
  return core::Logging{core::parse_log_level(global.log_level).value_or(spdlog::level::warn)};
}

}  // namespace vibe::cli
