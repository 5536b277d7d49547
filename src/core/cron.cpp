// Cron schedules: parsing and finding the next fire time.
//
// parse() turns each field into a bit set (bit v set when value v matches)
// and rejects expressions whose day fields can never meet: because the
// Gregorian calendar repeats every 400 years and within that cycle every date,
// Feb 29 included, falls on every weekday, an expression fires iff some month
// it names has some day it names (checked against the longest form of each
// month), or its day fields are joined by Vixie's OR (which any weekday
// satisfies).
//
// next_after() walks local civil time, not UTC. It starts one minute after
// the local minute containing `after` and finds the first matching local
// minute by skipping whole units: a month that is not in the set jumps to the
// next one that is, a day that does not match moves to the next day, an hour
// jumps to the next hour in the set, and only then is the minute chosen. So a
// search costs at most a few dozen steps per month it crosses, whatever the
// expression. Each matching local minute c maps to one instant f(c): itself
// when unique, its first occurrence when the zone repeats it (fall back), and
// the end of the gap when the zone skips it (spring forward). cctz guarantees
// f never decreases as c increases, so the answer is the first matching c
// with f(c) > after. Several c in one gap share f(c), and a later call from
// that instant starts past them, which is what makes a gap fire once; a c in
// an overlap whose first occurrence already passed has f(c) <= after and is
// skipped, which is what makes the repeat not fire again. The walk gives up
// after 400 years, beyond which nothing new can match.
#include "core/cron.hpp"

#include <fmt/format.h>

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <array>
#include <bit>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

namespace vibe::core {

namespace {

constexpr std::string_view k_month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                              "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::string_view k_weekday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct FieldSpec {
  const char* name;
  int min;
  int max;       // highest value written in text (7 for day-of-week)
  int open_max;  // where `*` and `a/n` end (6 for day-of-week, so 7 is not Sunday twice)
  const std::string_view* names;  // names[i] is value names_base + i; nullptr when none
  int name_count;
  int names_base;
  const char* hint;  // what a value looks like, for errors
};

constexpr FieldSpec k_minute{"minute", 0, 59, 59, nullptr, 0, 0, "a number"};
constexpr FieldSpec k_hour{"hour", 0, 23, 23, nullptr, 0, 0, "a number"};
constexpr FieldSpec k_day_of_month{"day-of-month", 1, 31, 31, nullptr, 0, 0, "a number"};
constexpr FieldSpec k_month{"month", 1, 12, 12, k_month_names, 12, 1, "a month (1-12 or jan-dec)"};
constexpr FieldSpec k_day_of_week{"day-of-week", 0, 7, 6, k_weekday_names, 7, 0, "a weekday (0-7 or sun-sat)"};

struct Field {
  std::uint64_t bits = 0;
  bool star = false;  // the text starts with '*': Vixie's test for "unrestricted"
};

struct Macro {
  std::string_view name;
  std::string_view fields;
};

constexpr Macro k_macros[] = {
    {"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
    {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
};

// Beyond this the calendar (dates and weekdays) repeats, so a walk that finds
// nothing in this many years never will.
constexpr std::int64_t k_search_years = 400;

bool has_bit(std::uint64_t bits, unsigned v) {
  return v < 64 && (bits >> v & 1U) != 0;
}

// The smallest set bit >= from.
std::optional<unsigned> next_bit(std::uint64_t bits, unsigned from) {
  if (from >= 64) {
    return std::nullopt;
  }
  const std::uint64_t rest = bits & (~std::uint64_t{0} << from);
  if (rest == 0) {
    return std::nullopt;
  }
  return static_cast<unsigned>(std::countr_zero(rest));
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

std::vector<std::string_view> split_whitespace(std::string_view s) {
  std::vector<std::string_view> words;
  std::size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) {
      ++pos;
    }
    const std::size_t start = pos;
    while (pos < s.size() && !std::isspace(static_cast<unsigned char>(s[pos]))) {
      ++pos;
    }
    if (pos > start) {
      words.push_back(s.substr(start, pos - start));
    }
  }
  return words;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

// A number, or a name when the field has names; range-checked.
Result<int> parse_value(const FieldSpec& spec, std::string_view token) {
  if (!token.empty() && std::isdigit(static_cast<unsigned char>(token.front()))) {
    int value = 0;
    for (const char c : token) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return fail(Errc::config, fmt::format("{}: '{}' is not {}", spec.name, token, spec.hint));
      }
      value = std::min(value * 10 + (c - '0'), 1'000'000);  // saturate: it is out of range either way
    }
    if (value < spec.min || value > spec.max) {
      return fail(Errc::config,
                  fmt::format("{}: {} is out of range {}-{}", spec.name, token, spec.min, spec.max));
    }
    return value;
  }
  const std::string name = lower(token);
  for (int i = 0; i < spec.name_count; ++i) {
    if (spec.names[i] == name) {
      return spec.names_base + i;
    }
  }
  return fail(Errc::config, fmt::format("{}: '{}' is not {}", spec.name, token, spec.hint));
}

Result<int> parse_step(const FieldSpec& spec, std::string_view item, std::string_view token) {
  const int span = spec.open_max - spec.min + 1;
  int step = 0;
  for (const char c : token) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return fail(Errc::config, fmt::format("{}: step '{}' in '{}' is not a number", spec.name, token, item));
    }
    step = std::min(step * 10 + (c - '0'), 1'000'000);
  }
  if (token.empty()) {
    return fail(Errc::config, fmt::format("{}: '{}' has no step after '/'", spec.name, item));
  }
  if (step < 1 || step > span) {
    return fail(Errc::config,
                fmt::format("{}: step {} in '{}' is out of range 1-{}", spec.name, token, item, span));
  }
  return step;
}

// One comma-separated item: `*`, `v`, `a-b`, each optionally `/step`.
Result<std::uint64_t> parse_item(const FieldSpec& spec, std::string_view item) {
  if (item.empty()) {
    return fail(Errc::config, fmt::format("{}: empty item in list", spec.name));
  }
  const auto slash = split(item, '/');
  if (slash.size() > 2) {
    return fail(Errc::config, fmt::format("{}: '{}' has more than one '/'", spec.name, item));
  }
  const std::string_view base = slash[0];
  int step = 1;
  if (slash.size() == 2) {
    auto parsed = parse_step(spec, item, slash[1]);
    if (!parsed) {
      return tl::unexpected(parsed.error());
    }
    step = *parsed;
  }
  int lo = spec.min;
  int hi = spec.open_max;
  if (base != "*") {
    const auto dash = split(base, '-');
    const bool malformed = base.find('*') != std::string_view::npos || dash.size() > 2 || dash[0].empty() ||
                           (dash.size() == 2 && dash[1].empty());
    if (malformed) {
      return fail(Errc::config, fmt::format("{}: cannot read '{}' (want *, N, A-B, */N, A-B/N or A/N)",
                                            spec.name, item));
    }
    auto first = parse_value(spec, dash[0]);
    if (!first) {
      return tl::unexpected(first.error());
    }
    lo = *first;
    if (dash.size() == 2) {
      auto last = parse_value(spec, dash[1]);
      if (!last) {
        return tl::unexpected(last.error());
      }
      hi = *last;
      if (hi < lo) {
        return fail(Errc::config, fmt::format("{}: range {} is reversed ({} > {})", spec.name, base, lo, hi));
      }
    } else if (slash.size() == 2) {
      hi = std::max(lo, spec.open_max);  // `a/n` runs to the end of the field
    } else {
      hi = lo;
    }
  }
  std::uint64_t bits = 0;
  for (int v = lo; v <= hi; v += step) {
    bits |= std::uint64_t{1} << v;
  }
  return bits;
}

Result<Field> parse_field(const FieldSpec& spec, std::string_view text) {
  Field field;
  field.star = text.front() == '*';
  for (const std::string_view item : split(text, ',')) {
    auto bits = parse_item(spec, item);
    if (!bits) {
      return tl::unexpected(bits.error());
    }
    field.bits |= *bits;
  }
  return field;
}

std::int64_t floor_mod(std::int64_t a, std::int64_t b) {
  const std::int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// 0 = Sunday. 1970-01-01 was a Thursday.
unsigned weekday(std::int64_t year, unsigned month, unsigned day) {
  return static_cast<unsigned>(floor_mod(days_from_civil(year, month, day) + 4, 7));
}

// One local wall-clock minute. Fields may run past their end (minute 60, day
// 32) while walking; the walk carries them over.
struct LocalMinute {
  std::int64_t year;
  unsigned month;
  unsigned day;
  unsigned hour;
  unsigned minute;
};

}  // namespace

struct CronSchedule::Impl {
  std::string expression;
  std::string zone_name;
  cctz::time_zone zone;
  std::uint64_t minutes = 0;
  std::uint64_t hours = 0;
  std::uint64_t days = 0;      // bits 1..31
  std::uint64_t months = 0;    // bits 1..12
  std::uint64_t weekdays = 0;  // bits 0..6, Sunday = 0
  bool days_star = false;
  bool weekdays_star = false;

  bool day_matches(std::int64_t year, unsigned month, unsigned day) const {
    const bool by_day = has_bit(days, day);
    const bool by_weekday = has_bit(weekdays, weekday(year, month, day));
    if (days_star || weekdays_star) {
      return by_day && by_weekday;
    }
    return by_day || by_weekday;  // Vixie: both restricted means either will do
  }

  // The first matching local minute at or after `t` (which may be
  // unnormalised, e.g. minute 60), or nullopt past `last_year`.
  std::optional<LocalMinute> first_match_from(LocalMinute t, std::int64_t last_year) const {
    while (t.year <= last_year) {
      if (!has_bit(months, t.month)) {
        if (const auto month = next_bit(months, t.month)) {
          t = {t.year, *month, 1, 0, 0};
        } else {
          t = {t.year + 1, *next_bit(months, 1), 1, 0, 0};
        }
        continue;
      }
      if (t.day > days_in_month(t.year, t.month)) {
        t = t.month == 12 ? LocalMinute{t.year + 1, 1, 1, 0, 0} : LocalMinute{t.year, t.month + 1, 1, 0, 0};
        continue;
      }
      if (!day_matches(t.year, t.month, t.day)) {
        t = {t.year, t.month, t.day + 1, 0, 0};
        continue;
      }
      const auto hour = next_bit(hours, t.hour);
      if (!hour) {
        t = {t.year, t.month, t.day + 1, 0, 0};
        continue;
      }
      if (*hour != t.hour) {
        t.hour = *hour;
        t.minute = 0;
      }
      const auto minute = next_bit(minutes, t.minute);
      if (!minute) {
        t = {t.year, t.month, t.day, t.hour + 1, 0};
        continue;
      }
      t.minute = *minute;
      return t;
    }
    return std::nullopt;
  }

  // f(c) of the file comment: the instant a matching local minute fires.
  std::int64_t fire_seconds(const LocalMinute& t) const {
    const cctz::civil_second local{t.year, static_cast<int>(t.month), static_cast<int>(t.day),
                                   static_cast<int>(t.hour), static_cast<int>(t.minute), 0};
    const auto found = zone.lookup(local);
    const auto instant = found.kind == cctz::time_zone::civil_lookup::SKIPPED ? found.trans : found.pre;
    return instant.time_since_epoch().count();
  }
};

Result<CronSchedule> CronSchedule::parse(std::string_view expression, std::string_view zone) {
  auto impl = std::make_shared<Impl>();
  impl->expression = std::string{trim(expression)};
  if (impl->expression.empty()) {
    return fail(Errc::config, "empty cron expression (write e.g. '*/15 * * * *' or '@daily')");
  }

  std::string_view fields_text = impl->expression;
  if (fields_text.front() == '@') {
    const std::string name = lower(fields_text);
    const Macro* macro = nullptr;
    for (const Macro& m : k_macros) {
      if (m.name == name) {
        macro = &m;
      }
    }
    if (macro == nullptr) {
      return fail(Errc::config, fmt::format("unknown cron macro '{}' (use @hourly, @daily, @midnight, @weekly, "
                                            "@monthly, @yearly or @annually)",
                                            impl->expression));
    }
    fields_text = macro->fields;
  }
  const auto words = split_whitespace(fields_text);
  if (words.size() != 5) {
    return fail(Errc::config, fmt::format("'{}' has {} field{}; want 5: minute hour day-of-month month "
                                          "day-of-week (or a macro such as @daily)",
                                          impl->expression, words.size(), words.size() == 1 ? "" : "s"));
  }
  const FieldSpec* specs[] = {&k_minute, &k_hour, &k_day_of_month, &k_month, &k_day_of_week};
  std::array<Field, 5> fields;
  for (std::size_t i = 0; i < 5; ++i) {
    auto field = parse_field(*specs[i], words[i]);
    if (!field) {
      return tl::unexpected(field.error());
    }
    fields[i] = *field;
  }
  impl->minutes = fields[0].bits;
  impl->hours = fields[1].bits;
  impl->days = fields[2].bits;
  impl->days_star = fields[2].star;
  impl->months = fields[3].bits;
  impl->weekdays = (fields[4].bits | (fields[4].bits >> 7)) & 0x7f;  // 7 is Sunday too
  impl->weekdays_star = fields[4].star;

  if (impl->days_star || impl->weekdays_star) {
    // Both day fields must match; every date meets every weekday within the
    // 400-year cycle, so only the dates matter. Feb counts as 29 days.
    static constexpr unsigned k_longest[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool possible = false;
    for (unsigned month = 1; month <= 12; ++month) {
      if (has_bit(impl->months, month) && next_bit(impl->days, 1).value_or(32) <= k_longest[month - 1]) {
        possible = true;
      }
    }
    if (!possible) {
      return fail(Errc::config, fmt::format("'{}' can never fire (none of its months has any of its days)",
                                            impl->expression));
    }
  }

  impl->zone_name = zone.empty() ? "UTC" : std::string{zone};
  if (impl->zone_name == "UTC") {
    impl->zone = cctz::utc_time_zone();
  } else {
    // Only IANA-style names: cctz would also read any file path it is given,
    // and "localtime" would make the schedule depend on the machine.
    bool plausible = impl->zone_name.front() != '/' && impl->zone_name.find("..") == std::string::npos &&
                     impl->zone_name != "localtime";
    for (const char c : impl->zone_name) {
      plausible = plausible && (std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' ||
                                c == '-' || c == '+');
    }
    if (!plausible || !cctz::load_time_zone(impl->zone_name, &impl->zone)) {
      return fail(Errc::config, fmt::format("unknown time zone '{}'", impl->zone_name));
    }
  }
  return CronSchedule{std::move(impl)};
}

std::optional<UnixMicros> CronSchedule::next_after(UnixMicros after) const {
  const Impl& s = *m_impl;
  const std::int64_t after_seconds =
      after / k_micros_per_second - (after % k_micros_per_second < 0 ? 1 : 0);  // floor
  const cctz::civil_second now =
      s.zone.lookup(cctz::time_point<cctz::seconds>{cctz::seconds{after_seconds}}).cs;
  const std::int64_t last_year = now.year() + k_search_years;
  LocalMinute t{now.year(), static_cast<unsigned>(now.month()), static_cast<unsigned>(now.day()),
                static_cast<unsigned>(now.hour()), static_cast<unsigned>(now.minute()) + 1};
  while (const auto match = s.first_match_from(t, last_year)) {
    const std::int64_t fire = s.fire_seconds(*match);
    if (fire > std::numeric_limits<UnixMicros>::max() / k_micros_per_second) {
      return std::nullopt;
    }
    if (fire >= std::numeric_limits<UnixMicros>::min() / k_micros_per_second &&
        fire * k_micros_per_second > after) {
      return fire * k_micros_per_second;
    }
    // A repeated local time whose first occurrence is already past.
    t = *match;
    ++t.minute;
  }
  return std::nullopt;
}

const std::string& CronSchedule::expression() const {
  return m_impl->expression;
}

const std::string& CronSchedule::zone() const {
  return m_impl->zone_name;
}

}  // namespace vibe::core
