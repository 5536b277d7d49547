#pragma once

#include "core/time.hpp"

#include <optional>
#include <string_view>

// Lenient date parsing for feeds: RFC 822/1123 and their real-world variants
// (two-digit years, missing seconds or weekday, named zones such as EST, MET,
// Etc/GMT, GMT+hh:mm), W3C-DTF / RFC 3339 (year, year-month, date, no seconds,
// fractions, MSSQL-style "2004-07-08 23:56:58"), and asctime. An input without
// a zone is UTC. Anything not recognized, or an impossible date, is nullopt:
// never a wrong date.
namespace vibe::core::feed {

std::optional<UnixMicros> parse_date(std::string_view text);

}  // namespace vibe::core::feed
