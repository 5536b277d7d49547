#pragma once

#include "core/error.hpp"
#include "core/time.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace vibe::core {

// A cron schedule: a five-field expression read as local wall-clock time in
// one IANA time zone.
//
// Syntax, per field (minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or
// jan-dec, day-of-week 0-7 or sun-sat, 0 and 7 both Sunday): `*`, a value, a
// range `a-b`, a step `*/n`, `a-b/n` or `a/n` (a to the end of the field; for
// day-of-week the end is 6), and comma lists of these. Names are
// case-insensitive and work inside ranges (`mon-fri`). The macros @hourly,
// @daily, @midnight, @weekly, @monthly, @yearly and @annually stand for their
// usual expressions.
//
// Days follow Vixie cron: when both day-of-month and day-of-week are
// restricted (neither field's text starts with `*`), a day matches if EITHER
// matches; otherwise both must.
//
// Daylight saving: a local time that does not exist (spring-forward gap)
// fires once, at the first instant after the gap, however many scheduled
// times fall inside it; a local time that occurs twice (fall-back overlap)
// fires once, at its first occurrence.
//
// Copies are cheap (they share one immutable state) and every method is const
// and safe to call from several threads at once.
class CronSchedule {
public:
  // Parses `expression` (surrounding whitespace ignored) for `zone`, an IANA
  // name from /usr/share/zoneinfo; "" means UTC. Errors are Errc::config with
  // a message that names the field but not the file location (the caller
  // adds FILE:LINE:COL), e.g. "minute: 61 is out of range 0-59",
  // "unknown time zone 'Mars/Base'" or "'0 0 30 2 *' can never fire (...)".
  // An expression that parses always has a next fire time.
  static Result<CronSchedule> parse(std::string_view expression, std::string_view zone = "UTC");

  // The first fire time strictly after `after`, in UTC microseconds. Fire
  // times are whole minutes of local time (whole UTC minutes in every zone
  // since the 1970s). nullopt only if nothing fires within 400 years of
  // `after`, which cannot happen for a parsed schedule unless the answer
  // lies beyond what UnixMicros can represent.
  std::optional<UnixMicros> next_after(UnixMicros after) const;

  // The expression as given (trimmed), e.g. "*/15 9-17 * * mon-fri".
  const std::string& expression() const;

  // The zone name; "UTC" when parse() was given "".
  const std::string& zone() const;

private:
  struct Impl;
  explicit CronSchedule(std::shared_ptr<const Impl> impl) : m_impl(std::move(impl)) {}

  std::shared_ptr<const Impl> m_impl;
};

}  // namespace vibe::core
