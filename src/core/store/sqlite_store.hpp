#pragma once

#include "core/store/store.hpp"

#include <filesystem>
#include <memory>

namespace vibe::core {

// A Store in one SQLite file (WAL, synchronous=NORMAL: a committed batch
// survives a crash of the process; versioned migrations run on open).
// Creates parent directories as needed.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::filesystem::path& path);

}  // namespace vibe::core
