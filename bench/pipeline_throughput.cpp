// Map + filter throughput of vibe's pipeline transform, through the library
// API: reads NDJSON records from a file into memory, then, timed, for each
// line: parse it (nlohmann::json), map it (core::pipeline::Mapping), filter
// the mapped record (core::pipeline::Filter), and serialize the kept ones
// as NDJSON into an output buffer. Reading the file and writing the output
// are outside the timed part.
//
// Usage: vibe_bench_pipeline RECORDS.ndjson MAP.json FILTER [OUT.ndjson]
//   MAP.json   the `map:` spec as JSON; FILTER the `filter:` expression.
//   OUT        where the kept records go (default: nowhere).
// Prints one line to stdout:
//   PIPELINE records=N kept=K failed=F missing=M seconds=S records_per_s=R
// Exits 1 when the spec or the filter does not compile or a file cannot be read.
#include "core/pipeline/filter.hpp"
#include "core/pipeline/mapping.hpp"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  using namespace vibe::core::pipeline;
  if (argc < 4) {
    std::cerr << "usage: vibe_bench_pipeline RECORDS.ndjson MAP.json FILTER [OUT.ndjson]\n";
    return 2;
  }
  std::ifstream records_file{argv[1]};
  std::ifstream map_file{argv[2]};
  if (!records_file || !map_file) {
    std::cerr << "cannot read " << (!records_file ? argv[1] : argv[2]) << "\n";
    return 1;
  }
  std::stringstream map_text;
  map_text << map_file.rdbuf();
  const auto spec = nlohmann::json::parse(map_text.str(), nullptr, false);
  auto mapping = Mapping::compile(spec);
  if (spec.is_discarded() || !mapping) {
    std::cerr << "map: " << (spec.is_discarded() ? "not JSON" : mapping.error().message) << "\n";
    return 1;
  }
  auto filter = Filter::parse(argv[3]);
  if (!filter) {
    std::cerr << fmt::format("filter: column {}: {}\n", filter.error().column, filter.error().message);
    return 1;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(records_file, line);) {
    lines.push_back(std::move(line));
  }

  std::string out;
  out.reserve(lines.size() * 64);
  std::size_t kept = 0;
  std::size_t failed = 0;
  std::size_t missing = 0;
  const auto started = std::chrono::steady_clock::now();
  for (const auto& line : lines) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded()) {
      ++failed;
      continue;
    }
    auto mapped = mapping->apply(record);
    if (!mapped) {
      ++failed;
      continue;
    }
    missing += mapped->missing.size();
    if (!filter->matches(mapped->record)) {
      continue;
    }
    ++kept;
    out += mapped->record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (argc > 4) {
    std::ofstream{argv[4]} << out;
  }
  fmt::print("PIPELINE records={} kept={} failed={} missing={} seconds={:.6f} records_per_s={:.0f}\n", lines.size(),
             kept, failed, missing, seconds, seconds > 0 ? static_cast<double>(lines.size()) / seconds : 0.0);
  return 0;
}
