#include "core/options.hpp"

#include <fmt/format.h>

#include <cassert>
#include <charconv>

namespace vibe::core {

std::string_view option_type_name(OptionType type) {
  switch (type) {
    case OptionType::string: return "string";
    case OptionType::url: return "url";
    case OptionType::duration: return "duration";
    case OptionType::integer: return "integer";
    case OptionType::boolean: return "boolean";
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
    case OptionType::duration: {
      auto d = parse_duration(text);
      if (!d) {
        return d.error().message;
      }
      if (d->count() <= 0) {
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

bool OptionValues::boolean(std::string_view name) const {
  const auto v = parse_bool(get(name));
  assert(v);
  return *v;
}

}  // namespace vibe::core
