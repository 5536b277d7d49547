#include "core/sinks/file.hpp"

#include "core/process.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <unistd.h>

namespace vibe::core::file_sink {

const OptionSpec k_options[6] = {
    {"path", OptionType::path, k_required, "the NDJSON file records are appended to (created with its directory)"},
    {"mode", OptionType::string, "0644", "permissions of a file vibe creates (octal)"},
    VIBE_SINK_OPTION_ROWS("100"),
};

namespace {

std::optional<mode_t> parse_mode(const std::string& text) {
  if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos) {
    return std::nullopt;
  }
  return static_cast<mode_t>(std::stoul(text, nullptr, 8));
}

}  // namespace

std::optional<std::string> check(const OptionValues& options) {
  if (!parse_mode(options.get("mode"))) {
    return fmt::format("mode: '{}' is not an octal file mode such as 0644", options.get("mode"));
  }
  if (options.integer("batch") < 1 || options.integer("batch") > 100'000) {
    return "batch: want 1 to 100000 records";
  }
  return std::nullopt;
}

Result<void> deliver(const SinkSpec& spec, std::span<const SinkRecord> records, const std::atomic<bool>*) {
  const std::filesystem::path path = spec.options.get("path");
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                        parse_mode(spec.options.get("mode")).value_or(0644));
  if (fd < 0) {
    return fail(Errc::storage, fmt::format("{}: cannot open for appending: {}", path.string(), std::strerror(errno)));
  }
  if (auto written = write_all(fd, records_ndjson(records)); !written) {
    ::close(fd);
    return fail(Errc::storage, fmt::format("{}: write failed: {}", path.string(), written.error().message));
  }
  const bool synced = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!synced) {
    return fail(Errc::storage, fmt::format("{}: fsync failed: {}", path.string(), std::strerror(error)));
  }
  return {};
}

}  // namespace vibe::core::file_sink
