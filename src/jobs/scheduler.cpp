#include "jobs/scheduler.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vibe::jobs {

using core::UnixMicros;

namespace {

constexpr UnixMicros k_minute = 60 * core::k_micros_per_second;
constexpr UnixMicros k_hour = 60 * k_minute;

}  // namespace

std::optional<UnixMicros> latest_fire(const core::CronSchedule& schedule, UnixMicros after, UnixMicros now) {
  // Search back from `now` in a doubling window, so a minutely schedule
  // costs a few steps and a yearly one a few more, instead of walking
  // every fire time since `after`.
  for (UnixMicros window = k_hour;; window *= 2) {
    const UnixMicros from = std::max(after, now - window);
    std::optional<UnixMicros> latest;
    for (auto t = schedule.next_after(from); t && *t <= now; t = schedule.next_after(*t)) {
      latest = t;
    }
    if (latest || from == after) {
      return latest;
    }
  }
}

Scheduler::Scheduler(std::vector<CronEntry> entries, std::shared_ptr<spdlog::logger> log)
    : m_entries(std::move(entries)), m_log(std::move(log)) {}

namespace {

// The latest fire time of `entry` in (after, now], if any.
std::optional<UnixMicros> latest_fire_of(const CronEntry& entry, UnixMicros after, UnixMicros now) {
  if (entry.every.count() <= 0) {
    return latest_fire(entry.schedule, after, now);
  }
  const UnixMicros step = std::chrono::duration_cast<std::chrono::microseconds>(entry.every).count();
  const UnixMicros tick = now - now % step;
  return tick > after ? std::optional<UnixMicros>{tick} : std::nullopt;
}

UnixMicros next_fire_of(const CronEntry& entry, UnixMicros now) {
  if (entry.every.count() <= 0) {
    return entry.schedule.next_after(now).value_or(now + 24 * k_hour);
  }
  const UnixMicros step = std::chrono::duration_cast<std::chrono::microseconds>(entry.every).count();
  return now - now % step + step;
}

}  // namespace

core::Result<void> Scheduler::insert_due(core::JobStore& store, UnixMicros now) {
  for (const auto& entry : m_entries) {
    auto next = m_next.find(entry.name);
    if (next != m_next.end() && now < next->second) {
      continue;  // the common case: nothing due, no store access
    }
    auto last = store.last_cron_fire(entry.name);
    if (!last) {
      return tl::unexpected(last.error());
    }
    if (!*last) {
      // First sight: mark the latest past fire time (or now) as the start;
      // an interval starts with a fire now instead.
      const UnixMicros start =
          entry.every.count() > 0
              ? now - now % std::chrono::duration_cast<std::chrono::microseconds>(entry.every).count() - 1
              : latest_fire(entry.schedule, now - 366 * 24 * k_hour, now).value_or(now);
      if (auto marked = store.insert_cron_fire(entry.name, start, nullptr, now); !marked) {
        return tl::unexpected(marked.error());
      }
      *last = start;
    }
    if (auto due = latest_fire_of(entry, **last, now)) {
      const bool late = now - *due > k_minute;
      const bool run = entry.catch_up == CatchUp::one || !late;
      core::NewJob job = entry.job;
      auto meta = nlohmann::json::parse(job.meta, nullptr, false);
      if (!meta.is_object()) {
        meta = nlohmann::json::object();
      }
      meta["cron"] = entry.name;
      meta["fire_at"] = core::format_rfc3339(*due);
      job.meta = meta.dump();
      auto inserted = store.insert_cron_fire(entry.name, *due, run ? &job : nullptr, now);
      if (!inserted) {
        return tl::unexpected(inserted.error());
      }
      if (*inserted) {
        m_log->log(entry.every.count() > 0 ? spdlog::level::debug : spdlog::level::info, "cron {} name={} fire_at={}",
                   run ? "inserted" : "skipped late", entry.name, core::format_rfc3339(*due));
      }
    }
    m_next[entry.name] = next_fire_of(entry, now);
  }
  return {};
}

}  // namespace vibe::jobs
