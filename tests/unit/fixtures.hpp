#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

// Helpers shared by unit tests: where ../shared/fixtures is, and reading a file.
namespace vibe::test {

inline std::filesystem::path fixtures_dir() {
  return std::filesystem::path{VIBE_FIXTURES};
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    throw std::runtime_error("cannot read " + path.string());
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::string read_fixture(const std::string& relative) {
  return read_file(fixtures_dir() / relative);
}

}  // namespace vibe::test
