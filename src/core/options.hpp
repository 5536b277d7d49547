#pragma once

#include "core/duration.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

// Declarative option tables, in the manner of Fluent Bit's config_map. Every
// adapter kind lists its options once; config loading checks each key against
// the rows (unknown key, wrong type, missing required option), and help text
// and the man page come from the same rows.
namespace vibe::core {

enum class OptionType {
  string,
  url,
  duration,
  delay,  // a duration that may be zero ("0s", "0ms")
  integer,
  boolean,
  rate,  // "100/min", "5/s", "1000/h"; "" for no limit
  size,  // bytes: "1048576", "512KiB", "1MiB", "2MB"
  path,      // a file path; relative paths are resolved against the config file's directory
  interval,  // a poll interval: a duration, or "auto" (adaptive between every_min and every_max)
  list,      // a YAML sequence of strings (or one string); held as a JSON array
  map,       // a YAML mapping of strings to strings; held as a JSON object
  json,      // any YAML value (an object, a list, a scalar); held as JSON
};

// A rate limit: `count` events per `per`.
struct Rate {
  std::int64_t count = 0;
  Millis per{0};
};

// "100/min" (also /s, /sec, /m, /h, /hour): Errc::config with a message when malformed.
Result<Rate> parse_rate(std::string_view text);
// "1048576", "64KiB", "1MiB", "1GiB", "500KB", "2MB" (KB/MB/GB are powers of 1000).
Result<std::uint64_t> parse_size(std::string_view text);

inline constexpr const char* k_required = nullptr;

struct OptionSpec {
  const char* name;
  OptionType type;
  const char* default_value;  // k_required (nullptr) when the option must be given
  const char* help;
};

std::string_view option_type_name(OptionType type);

// One resolved option. `value` has ${VAR} expanded and may hold a secret; it
// is only for use. `display` is the text as written in the file (${VAR} left
// in place): the only form that may be logged, printed or stored.
struct OptionValue {
  std::string value;
  std::string display;
};

// The options of one configured adapter, validated against its table: every
// row has a value (given or default), and each value parses as its type.
class OptionValues {
public:
  void set(std::string name, OptionValue value) { m_values[std::move(name)] = std::move(value); }

  bool has(std::string_view name) const { return m_values.find(std::string{name}) != m_values.end(); }

  // REQUIRES: `name` is a row of the table these values were checked against.
  const std::string& get(std::string_view name) const;
  const std::string& display(std::string_view name) const;
  Millis duration(std::string_view name) const;
  std::int64_t integer(std::string_view name) const;
  bool boolean(std::string_view name) const;
  std::optional<Rate> rate(std::string_view name) const;  // nullopt: no limit ("")
  std::uint64_t size(std::string_view name) const;
  // For list, map and json options: the value parsed (secrets expanded).
  nlohmann::json json(std::string_view name) const;

  const std::map<std::string, OptionValue, std::less<>>& all() const { return m_values; }

private:
  std::map<std::string, OptionValue, std::less<>> m_values;
};

// Checks `text` as a value of `type`; returns an error message or nullopt.
std::optional<std::string> check_option_value(OptionType type, std::string_view text);

// Parses a boolean the way YAML 1.2 core schema spells it (true/false).
std::optional<bool> parse_bool(std::string_view text);

}  // namespace vibe::core
