#pragma once

#include "core/error.hpp"

#include <filesystem>
#include <vector>

namespace vibe::core {

enum class Overwrite { no, yes };

// Writes a commented starter project into `dir` (created if missing):
// vibe.yaml and feeds/example.xml, a small feed it polls offline through a
// file: URL. Returns the files written. Errors: Errc::usage when vibe.yaml
// exists and `overwrite` is no; Errc::storage when a file cannot be written.
Result<std::vector<std::filesystem::path>> write_starter(const std::filesystem::path& dir, Overwrite overwrite);

}  // namespace vibe::core
