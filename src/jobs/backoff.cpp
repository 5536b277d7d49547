#include "jobs/backoff.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace vibe::jobs {

core::Millis Backoff::delay(int attempt, double unit) const {
  attempt = std::clamp(attempt, 1, 60);
  double ms = 0;
  switch (kind) {
    case Kind::oban: ms = (15.0 + std::ldexp(1.0, attempt)) * 1000.0; break;
    case Kind::exponential: ms = static_cast<double>(base.count()) * std::ldexp(1.0, attempt - 1); break;
    case Kind::linear: ms = static_cast<double>(base.count()) * attempt; break;
    case Kind::fixed: ms = static_cast<double>(base.count()); break;
  }
  ms = std::min(ms, static_cast<double>(max.count()));
  ms += ms * jitter * std::clamp(unit, 0.0, 1.0);
  return core::Millis{static_cast<std::int64_t>(ms)};
}

core::Result<Backoff::Kind> parse_backoff_kind(std::string_view text) {
  if (text == "oban") {
    return Backoff::Kind::oban;
  }
  if (text == "exponential") {
    return Backoff::Kind::exponential;
  }
  if (text == "linear") {
    return Backoff::Kind::linear;
  }
  if (text == "fixed") {
    return Backoff::Kind::fixed;
  }
  return core::fail(core::Errc::usage,
                    fmt::format("unknown backoff '{}' (want exponential, linear, fixed or oban)", text));
}

}  // namespace vibe::jobs
