#include "core/serve/lock.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace vibe::core {

namespace fs = std::filesystem;

Result<DataDirLock> DataDirLock::acquire(const fs::path& data_dir) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) {
    return fail(Errc::storage, fmt::format("cannot create data directory {}: {}", data_dir.string(), ec.message()));
  }
  const fs::path path = data_dir / "serve.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(Errc::storage, fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return fail(Errc::storage, fmt::format("cannot lock {}: {}", path.string(), std::strerror(err)));
    }
    std::string pid{buf, n > 0 ? static_cast<std::size_t>(n) : 0};
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) {
      pid.pop_back();
    }
    return fail(Errc::conflict,
                fmt::format("another vibe serve{} is already running on {} (it holds {}); stop it first, or give "
                            "this one another data_dir",
                            pid.empty() ? "" : fmt::format(" (pid {})", pid), data_dir.string(), path.string()));
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid; the pid only improves the message.
  }
  return DataDirLock{fd};
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept : m_fd(other.m_fd) {
  other.m_fd = -1;
}

DataDirLock::~DataDirLock() {
  if (m_fd >= 0) {
    ::close(m_fd);  // releases the flock
  }
}

}  // namespace vibe::core
