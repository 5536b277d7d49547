#pragma once

#include "core/error.hpp"

#include <filesystem>

namespace vibe::core {

// An exclusive lock on a data directory (flock on DATA_DIR/serve.lock), held
// for the life of `vibe serve`. The kernel drops it when the process dies,
// however it dies, so a crash never leaves a stale lock behind.
class DataDirLock {
public:
  // Errors: Errc::conflict naming the pid of the process that holds it;
  // Errc::storage when the file cannot be created.
  static Result<DataDirLock> acquire(const std::filesystem::path& data_dir);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&&) = delete;
  DataDirLock(const DataDirLock&) = delete;
  ~DataDirLock();

private:
  explicit DataDirLock(int fd) : m_fd(fd) {}
  int m_fd = -1;
};

}  // namespace vibe::core
