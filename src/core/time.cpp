#include "core/time.hpp"

#include <fmt/format.h>

#include <cctype>

namespace vibe::core {

// Howard Hinnant's civil-calendar algorithms (public domain description of
// the math): days are counted in 400-year eras so the arithmetic stays exact
// for negative years too.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

namespace {

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

Civil civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) {
    --q;
  }
  return q;
}

std::string format(UnixMicros t, bool with_fraction) {
  const std::int64_t seconds = floor_div(t, k_micros_per_second);
  const std::int64_t micros = t - seconds * k_micros_per_second;
  const std::int64_t days = floor_div(seconds, 86400);
  const std::int64_t sod = seconds - days * 86400;
  Civil c = civil_from_days(days);
  if (c.year < 0) {
    c = {0, 1, 1};
  } else if (c.year > 9999) {
    c = {9999, 12, 31};
  }
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day,
                                sod / 3600, sod / 60 % 60, sod % 60);
  if (with_fraction && micros != 0) {
    out += fmt::format(".{:06}", micros);
  }
  out += 'Z';
  return out;
}

// Reads exactly `width` digits at `pos`.
std::optional<int> digits(std::string_view s, std::size_t& pos, std::size_t width) {
  if (pos + width > s.size()) {
    return std::nullopt;
  }
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

}  // namespace

UnixMicros now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_rfc3339(UnixMicros t) {
  return format(t, true);
}

std::string format_rfc3339_seconds(UnixMicros t) {
  return format(t, false);
}

unsigned days_in_month(std::int64_t year, unsigned month) {
  static constexpr unsigned k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : k_days[month - 1];
}

std::optional<UnixMicros> parse_rfc3339(std::string_view s) {
  std::size_t pos = 0;
  const auto year = digits(s, pos, 4);
  if (!year || pos >= s.size() || s[pos++] != '-') {
    return std::nullopt;
  }
  const auto month = digits(s, pos, 2);
  if (!month || pos >= s.size() || s[pos++] != '-') {
    return std::nullopt;
  }
  const auto day = digits(s, pos, 2);
  if (!day || *month < 1 || *month > 12 || *day < 1 ||
      static_cast<unsigned>(*day) > days_in_month(*year, *month)) {
    return std::nullopt;
  }
  std::int64_t seconds = days_from_civil(*year, *month, *day) * 86400;
  if (pos == s.size()) {
    return seconds * k_micros_per_second;
  }
  if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') {
    return std::nullopt;
  }
  ++pos;
  const auto hour = digits(s, pos, 2);
  if (!hour || pos >= s.size() || s[pos++] != ':') {
    return std::nullopt;
  }
  const auto minute = digits(s, pos, 2);
  if (!minute || pos >= s.size() || s[pos++] != ':') {
    return std::nullopt;
  }
  const auto second = digits(s, pos, 2);
  if (!second || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  seconds += *hour * 3600 + *minute * 60 + std::min(*second, 59);
  std::int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::int64_t scale = 100000;
    const std::size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      micros += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) {
      return std::nullopt;
    }
  }
  if (pos >= s.size()) {
    return std::nullopt;  // a time needs a zone
  }
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int sign = s[pos++] == '+' ? 1 : -1;
    const auto oh = digits(s, pos, 2);
    if (!oh || pos >= s.size() || s[pos++] != ':') {
      return std::nullopt;
    }
    const auto om = digits(s, pos, 2);
    if (!om || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    seconds -= sign * (*oh * 3600 + *om * 60);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) {
    return std::nullopt;
  }
  return seconds * k_micros_per_second + micros;
}

}  // namespace vibe::core
