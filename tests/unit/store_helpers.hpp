#pragma once

#include "core/event.hpp"
#include "core/store/store.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <filesystem>
#include <random>
#include <string>

namespace vibe::test {

// A directory removed when the test ends.
class TempDir {
public:
  TempDir() {
    std::random_device rd;
    m_path = std::filesystem::temp_directory_path() / ("vibe-unit-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(m_path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
};

// A logger that drops everything, for components under test.
inline std::shared_ptr<spdlog::logger> quiet_logger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

inline core::Event make_event(std::string source, std::string key, core::UnixMicros occurred_at = 1'000'000) {
  core::Event event;
  event.source_id = std::move(source);
  event.type = "feed_item";
  event.occurred_at = occurred_at;
  event.content = R"({"title":"t"})";
  event.dedup_key = std::move(key);
  return event;
}

}  // namespace vibe::test
