#include "core/options.hpp"

#include <fmt/format.h>

#include <cassert>
#include <charconv>
#include <limits>
#include <utility>

namespace vibe::core {

std::string_view option_type_name(OptionType type) {
  switch (type) {
    case OptionType::string: return "string";
    case OptionType::url: return "url";
    case OptionType::duration: return "duration";
    case OptionType::delay: return "duration";
    case OptionType::integer: return "integer";
    case OptionType::boolean: return "boolean";
    case OptionType::rate: return "rate";
    case OptionType::size: return "size";
    case OptionType::path: return "path";
    case OptionType::interval: return "interval";
    case OptionType::list: return "list";
    case OptionType::map: return "map";
    case OptionType::json: return "JSON value";
  }
  return "?";
}

std::optional<bool> parse_bool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  return std::nullopt;
}

namespace {

std::optional<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

Result<Rate> parse_rate(std::string_view text) {
  const auto slash = text.find('/');
  const auto count = slash == std::string_view::npos ? std::nullopt : parse_integer(text.substr(0, slash));
  if (!count || *count <= 0) {
    return fail(Errc::config, fmt::format("'{}' is not a rate (want COUNT/UNIT, e.g. 100/min, 5/s, 1000/h)", text));
  }
  const std::string_view unit = text.substr(slash + 1);
  Millis per{0};
  if (unit == "s" || unit == "sec" || unit == "second") {
    per = Millis{1'000};
  } else if (unit == "m" || unit == "min" || unit == "minute") {
    per = Millis{60'000};
  } else if (unit == "h" || unit == "hour") {
    per = Millis{3'600'000};
  } else {
    return fail(Errc::config, fmt::format("'{}': unknown rate unit '{}' (want s, min or h)", text, unit));
  }
  return Rate{*count, per};
}

Result<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  const auto number = parse_integer(text.substr(0, digits));
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') {
    unit.remove_prefix(1);
  }
  static constexpr std::pair<std::string_view, std::uint64_t> k_units[] = {
      {"", 1},           {"B", 1},           {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30},
      {"KB", 1'000ULL}, {"kB", 1'000ULL}, {"MB", 1'000'000ULL}, {"GB", 1'000'000'000ULL},
  };
  for (const auto& [name, factor] : k_units) {
    if (number && unit == name && *number >= 0 &&
        static_cast<std::uint64_t>(*number) <= std::numeric_limits<std::uint64_t>::max() / factor) {
      return static_cast<std::uint64_t>(*number) * factor;
    }
  }
  return fail(Errc::config, fmt::format("'{}' is not a size (want bytes, or a number with KiB, MiB, GiB, KB, MB or GB)", text));
}

std::optional<std::string> check_option_value(OptionType type, std::string_view text) {
  switch (type) {
    case OptionType::string:
      return std::nullopt;
    case OptionType::url: {
      const auto colon = text.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return fmt::format("'{}' is not a URL (want http://, https:// or file:)", text);
      }
      const std::string_view scheme = text.substr(0, colon);
      if (scheme != "http" && scheme != "https" && scheme != "file") {
        return fmt::format("unsupported URL scheme '{}' (want http, https or file)", scheme);
      }
      return std::nullopt;
    }
    case OptionType::duration:
    case OptionType::delay: {
      auto d = parse_duration(text);
      if (!d) {
        return d.error().message;
      }
      if (d->count() < 0 || (d->count() == 0 && type == OptionType::duration)) {
        return fmt::format("duration '{}' must be greater than zero", text);
      }
      return std::nullopt;
    }
    case OptionType::integer:
      if (!parse_integer(text)) {
        return fmt::format("'{}' is not an integer", text);
      }
      return std::nullopt;
    case OptionType::boolean:
      if (!parse_bool(text)) {
        return fmt::format("'{}' is not a boolean (true or false)", text);
      }
      return std::nullopt;
    case OptionType::rate:
      if (auto rate = parse_rate(text); !text.empty() && !rate) {
        return rate.error().message;
      }
      return std::nullopt;
    case OptionType::size:
      if (auto size = parse_size(text); !size) {
        return size.error().message;
      }
      return std::nullopt;
    case OptionType::path:
      if (text.empty()) {
        return "expected a path";
      }
      return std::nullopt;
    case OptionType::interval:
      if (text == "auto") {
        return std::nullopt;
      }
      return check_option_value(OptionType::duration, text);
    case OptionType::list:
    case OptionType::map:
    case OptionType::json: {
      const auto value = nlohmann::json::parse(text, nullptr, false);
      if (value.is_discarded()) {
        return fmt::format("'{}' is not valid JSON", text);
      }
      if (type == OptionType::list && !value.is_array()) {
        return "expected a list";
      }
      if (type == OptionType::map && !value.is_object()) {
        return "expected a mapping";
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

const std::string& OptionValues::get(std::string_view name) const {
  const auto it = m_values.find(name);
  assert(it != m_values.end());
  return it->second.value;
}

const std::string& OptionValues::display(std::string_view name) const {
  const auto it = m_values.find(name);
  assert(it != m_values.end());
  return it->second.display;
}

Millis OptionValues::duration(std::string_view name) const {
  const auto d = parse_duration(get(name));
  assert(d);
  return *d;
}

std::int64_t OptionValues::integer(std::string_view name) const {
  const auto v = parse_integer(get(name));
  assert(v);
  return *v;
}

std::optional<Rate> OptionValues::rate(std::string_view name) const {
  const std::string& text = get(name);
  if (text.empty()) {
    return std::nullopt;
  }
  const auto r = parse_rate(text);
  assert(r);
  return *r;
}

std::uint64_t OptionValues::size(std::string_view name) const {
  const auto s = parse_size(get(name));
  assert(s);
  return *s;
}

nlohmann::json OptionValues::json(std::string_view name) const {
  auto value = nlohmann::json::parse(get(name), nullptr, false);
  assert(!value.is_discarded());
  return value;
}

bool OptionValues::boolean(std::string_view name) const {
  const auto v = parse_bool(get(name));
  assert(v);
  return *v;
}

}  // namespace vibe::core
