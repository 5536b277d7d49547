#include "core/feed/date.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

// Feeds carry dates in two families, and real ones bend both.
//
// W3C-DTF (Atom, dc:date, JSON Feed) is read by a small left-to-right scanner:
// a four-digit year, then optional "-MM", "-DD", a 'T' or space, "hh:mm",
// ":ss", a fraction and a zone, each part optional only if everything after it
// is absent too. Any byte the scanner does not consume makes the whole input
// invalid, so "2013-01-27-01" or a zone followed by garbage is rejected rather
// than truncated.
//
// RFC 822 and its variants (RSS pubDate, asctime) are read as tokens: commas
// become spaces, a leading weekday is dropped unchecked (feeds often get it
// wrong), the first two tokens must be a day and a month in either order, and
// the rest are classified as year (2 or 4 digits), time (h:mm[:ss]) or zone,
// each at most once and in any order. That one rule covers "10 Jun 2003
// 04:00 GMT", "Aug 30 2012 17:26:16 +0200" and asctime's "Jan  4 16:29:06
// 2004". A token that fits no class rejects the input.
//
// Both paths validate every field (day against the month's length, hour,
// minute, second, zone offset below 24 h) and the final instant must fall in
// years 0000..9999, so an input is either the right date or nullopt.
namespace vibe::core::feed {

namespace {

constexpr std::int64_t k_seconds_per_day = 86400;

struct Fields {
  std::int64_t year = 0;
  unsigned month = 1;
  unsigned day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::int64_t micros = 0;
  int offset_seconds = 0;  // local time minus UTC
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
  std::string out{s};
  for (char& c : out) {
    c = lower(c);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!is_digit(c)) {
      return false;
    }
  }
  return true;
}

// Callers bound the length, so the value cannot overflow.
int to_int(std::string_view digits) {
  int value = 0;
  for (char c : digits) {
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<UnixMicros> to_micros(const Fields& f) {
  if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > days_in_month(f.year, f.month) ||
      f.hour < 0 || f.hour > 23 || f.minute < 0 || f.minute > 59 || f.second < 0 || f.second > 60) {
    return std::nullopt;
  }
  // A leap second is folded into :59; UnixMicros has no room for it.
  const int second = f.second == 60 ? 59 : f.second;
  const std::int64_t seconds = days_from_civil(f.year, f.month, f.day) * k_seconds_per_day +
                               f.hour * 3600 + f.minute * 60 + second - f.offset_seconds;
  static const std::int64_t k_min = days_from_civil(0, 1, 1) * k_seconds_per_day;
  static const std::int64_t k_max = days_from_civil(10000, 1, 1) * k_seconds_per_day;
  if (seconds < k_min || seconds >= k_max) {
    return std::nullopt;
  }
  return seconds * k_micros_per_second + f.micros;
}

// "+hh:mm", "+hhmm", "+hh" or "+h", with either sign; hours below 24.
std::optional<int> parse_numeric_offset(std::string_view s) {
  if (s.empty() || (s[0] != '+' && s[0] != '-')) {
    return std::nullopt;
  }
  const int sign = s[0] == '+' ? 1 : -1;
  s.remove_prefix(1);
  std::string_view hours;
  std::string_view minutes;
  if (s.size() == 5 && s[2] == ':') {
    hours = s.substr(0, 2);
    minutes = s.substr(3, 2);
  } else if (s.size() == 4) {
    hours = s.substr(0, 2);
    minutes = s.substr(2, 2);
  } else if (s.size() == 2 || s.size() == 1) {
    hours = s;
    minutes = "0";
  } else {
    return std::nullopt;
  }
  if (!all_digits(hours) || !all_digits(minutes)) {
    return std::nullopt;
  }
  const int h = to_int(hours);
  const int m = to_int(minutes);
  if (h > 23 || m > 59) {
    return std::nullopt;
  }
  return sign * (h * 3600 + m * 60);
}

struct NamedZone {
  std::string_view name;
  int hours;
  int minutes;
};

// North American names (with the short AT/ET/CT/MT/PT forms some feeds use)
// and the European, Asian and Pacific names seen in feeds. Ambiguous
// abbreviations (IST, BST outside the UK sense, CST in China) take the reading
// feed producers overwhelmingly mean. Military letters other than Z are left
// out: RFC 1123 notes their signs were published inverted, so they are not
// trustworthy.
constexpr std::array k_named_zones{
    NamedZone{"ut", 0, 0},    NamedZone{"utc", 0, 0},     NamedZone{"gmt", 0, 0},
    NamedZone{"z", 0, 0},     NamedZone{"etc/gmt", 0, 0}, NamedZone{"etc/utc", 0, 0},
    NamedZone{"wet", 0, 0},   NamedZone{"west", 1, 0},    NamedZone{"bst", 1, 0},
    NamedZone{"cet", 1, 0},   NamedZone{"cest", 2, 0},    NamedZone{"met", 1, 0},
    NamedZone{"mest", 2, 0},  NamedZone{"eet", 2, 0},     NamedZone{"eest", 3, 0},
    NamedZone{"msk", 3, 0},   NamedZone{"ist", 5, 30},    NamedZone{"sgt", 8, 0},
    NamedZone{"hkt", 8, 0},   NamedZone{"awst", 8, 0},    NamedZone{"jst", 9, 0},
    NamedZone{"kst", 9, 0},   NamedZone{"acst", 9, 30},   NamedZone{"aest", 10, 0},
    NamedZone{"aedt", 11, 0}, NamedZone{"nzst", 12, 0},   NamedZone{"nzdt", 13, 0},
    NamedZone{"at", -4, 0},   NamedZone{"ast", -4, 0},    NamedZone{"adt", -3, 0},
    NamedZone{"et", -5, 0},   NamedZone{"est", -5, 0},    NamedZone{"edt", -4, 0},
    NamedZone{"ct", -6, 0},   NamedZone{"cst", -6, 0},    NamedZone{"cdt", -5, 0},
    NamedZone{"mt", -7, 0},   NamedZone{"mst", -7, 0},    NamedZone{"mdt", -6, 0},
    NamedZone{"pt", -8, 0},   NamedZone{"pst", -8, 0},    NamedZone{"pdt", -7, 0},
    NamedZone{"akst", -9, 0}, NamedZone{"akdt", -8, 0},   NamedZone{"hst", -10, 0},
};

// A whole zone token: a name, a numeric offset, or "GMT"/"UTC" followed by a
// numeric offset ("GMT-01:01").
std::optional<int> parse_zone(std::string_view token) {
  if (token.empty()) {
    return std::nullopt;
  }
  if (token[0] == '+' || token[0] == '-') {
    return parse_numeric_offset(token);
  }
  const std::string name = to_lower(token);
  for (const NamedZone& zone : k_named_zones) {
    if (name == zone.name) {
      const int sign = zone.hours < 0 ? -1 : 1;
      return zone.hours * 3600 + sign * zone.minutes * 60;
    }
  }
  for (std::string_view prefix : {"etc/gmt", "gmt", "utc", "ut"}) {
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        (name[prefix.size()] == '+' || name[prefix.size()] == '-')) {
      return parse_numeric_offset(token.substr(prefix.size()));
    }
  }
  return std::nullopt;
}

// W3C-DTF / ISO 8601 extended format, see the file comment.
std::optional<UnixMicros> parse_w3c(std::string_view s) {
  Fields f;
  std::size_t pos = 0;
  auto take_digits = [&](std::size_t width) -> std::optional<int> {
    if (pos + width > s.size() || !all_digits(s.substr(pos, width))) {
      return std::nullopt;
    }
    const int value = to_int(s.substr(pos, width));
    pos += width;
    return value;
  };
  auto at = [&](char c) { return pos < s.size() && s[pos] == c; };

  const auto year = take_digits(4);
  if (!year || (pos < s.size() && is_digit(s[pos]))) {
    return std::nullopt;
  }
  f.year = *year;
  if (at('-')) {
    ++pos;
    const auto month = take_digits(2);
    if (!month) {
      return std::nullopt;
    }
    f.month = static_cast<unsigned>(*month);
    if (at('-')) {
      ++pos;
      const auto day = take_digits(2);
      if (!day) {
        return std::nullopt;
      }
      f.day = static_cast<unsigned>(*day);
    }
  }
  if (pos == s.size()) {
    return to_micros(f);
  }
  if (f.month == 0 || !(at('T') || at('t') || at(' '))) {
    return std::nullopt;
  }
  ++pos;
  const auto hour = take_digits(2);
  if (!hour || !at(':')) {
    return std::nullopt;
  }
  ++pos;
  const auto minute = take_digits(2);
  if (!minute) {
    return std::nullopt;
  }
  f.hour = *hour;
  f.minute = *minute;
  if (at(':')) {
    ++pos;
    const auto second = take_digits(2);
    if (!second) {
      return std::nullopt;
    }
    f.second = *second;
    if (at('.') || at(',')) {
      ++pos;
      const std::size_t start = pos;
      std::int64_t scale = 100000;
      while (pos < s.size() && is_digit(s[pos])) {
        f.micros += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) {
        return std::nullopt;
      }
    }
  }
  if (pos < s.size()) {
    // MSSQL writes a space before the zone; "Z" and offsets may also follow
    // directly.
    std::string_view zone = s.substr(pos);
    if (zone.front() == ' ') {
      zone.remove_prefix(1);
    }
    const auto offset = parse_zone(zone);
    if (!offset) {
      return std::nullopt;
    }
    f.offset_seconds = *offset;
  }
  return to_micros(f);
}

constexpr std::array<std::string_view, 12> k_months{
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};

constexpr std::array<std::string_view, 7> k_weekdays{"monday", "tuesday",  "wednesday", "thursday",
                                                     "friday", "saturday", "sunday"};

// "Jun", "June" or "june." -> 6. The token must be the three-letter
// abbreviation or a prefix of the full name at least that long.
std::optional<unsigned> month_number(std::string_view token) {
  if (!token.empty() && token.back() == '.') {
    token.remove_suffix(1);
  }
  if (token.size() < 3) {
    return std::nullopt;
  }
  const std::string name = to_lower(token);
  for (std::size_t i = 0; i < k_months.size(); ++i) {
    if (name.size() <= k_months[i].size() && k_months[i].compare(0, name.size(), name) == 0) {
      return static_cast<unsigned>(i + 1);
    }
  }
  return std::nullopt;
}

bool is_weekday(std::string_view token) {
  if (!token.empty() && token.back() == '.') {
    token.remove_suffix(1);
  }
  if (token.size() < 3) {
    return false;
  }
  const std::string name = to_lower(token);
  for (std::string_view day : k_weekdays) {
    if (name.size() <= day.size() && day.compare(0, name.size(), name) == 0) {
      return true;
    }
  }
  return false;
}

// "h:mm" or "h:mm:ss" with one- or two-digit parts.
bool parse_time(std::string_view token, Fields& f) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= token.size(); ++i) {
    if (i == token.size() || token[i] == ':') {
      parts.push_back(token.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() < 2 || parts.size() > 3) {
    return false;
  }
  for (std::string_view part : parts) {
    if (part.empty() || part.size() > 2 || !all_digits(part)) {
      return false;
    }
  }
  f.hour = to_int(parts[0]);
  f.minute = to_int(parts[1]);
  f.second = parts.size() == 3 ? to_int(parts[2]) : 0;
  return true;
}

std::optional<UnixMicros> parse_rfc822(std::string_view s) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_space(s[i]) || s[i] == ',') {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < s.size() && !is_space(s[i]) && s[i] != ',') {
      ++i;
    }
    tokens.push_back(s.substr(start, i - start));
  }
  std::size_t next = 0;
  if (next < tokens.size() && is_weekday(tokens[next])) {
    ++next;
  }
  if (tokens.size() < next + 3) {
    return std::nullopt;
  }

  Fields f;
  const std::string_view first = tokens[next];
  const std::string_view second = tokens[next + 1];
  std::string_view day_token;
  if (const auto month = month_number(first); month && !is_digit(first[0])) {
    f.month = *month;
    day_token = second;
  } else if (const auto month2 = month_number(second); month2 && !is_digit(second[0])) {
    f.month = *month2;
    day_token = first;
  } else {
    return std::nullopt;
  }
  if (day_token.size() > 2 || !all_digits(day_token)) {
    return std::nullopt;
  }
  f.day = static_cast<unsigned>(to_int(day_token));
  next += 2;

  bool have_year = false;
  bool have_time = false;
  bool have_zone = false;
  for (; next < tokens.size(); ++next) {
    const std::string_view token = tokens[next];
    if (!have_year && all_digits(token) && (token.size() == 4 || token.size() == 2)) {
      const int year = to_int(token);
      // RFC 2822 section 4.3: two-digit years 00-49 are 20xx, 50-99 are 19xx.
      f.year = token.size() == 4 ? year : (year < 50 ? 2000 + year : 1900 + year);
      have_year = true;
    } else if (!have_time && token.find(':') != std::string_view::npos && is_digit(token[0])) {
      if (!parse_time(token, f)) {
        return std::nullopt;
      }
      have_time = true;
    } else if (!have_zone && (is_alpha(token[0]) || token[0] == '+' || token[0] == '-')) {
      const auto offset = parse_zone(token);
      if (!offset) {
        return std::nullopt;
      }
      f.offset_seconds = *offset;
      have_zone = true;
    } else if (have_zone && token.front() == '(' && token.back() == ')') {
      // Mail-style trailing comment such as "-0700 (PDT)"; the offset wins.
    } else {
      return std::nullopt;
    }
  }
  if (!have_year) {
    return std::nullopt;
  }
  return to_micros(f);
}

}  // namespace

std::optional<UnixMicros> parse_date(std::string_view text) {
  const std::string_view s = trim(text);
  if (s.empty() || s.size() > 256) {
    return std::nullopt;
  }
  std::size_t leading_digits = 0;
  while (leading_digits < s.size() && is_digit(s[leading_digits])) {
    ++leading_digits;
  }
  // "10 Jun 2003" starts with a one- or two-digit day; anything starting with
  // a longer number can only be W3C-DTF.
  if (leading_digits >= 3) {
    return parse_w3c(s);
  }
  return parse_rfc822(s);
}

}  // namespace vibe::core::feed
