#include "core/store/job_store.hpp"

namespace vibe::core {

namespace {

constexpr std::pair<JobState, std::string_view> k_state_names[] = {
    {JobState::scheduled, "scheduled"}, {JobState::available, "available"}, {JobState::executing, "executing"},
    {JobState::retryable, "retryable"}, {JobState::completed, "completed"}, {JobState::discarded, "discarded"},
    {JobState::cancelled, "cancelled"},
};

}  // namespace

std::string_view job_state_name(JobState state) {
  for (const auto& [s, name] : k_state_names) {
    if (s == state) {
      return name;
    }
  }
  return "?";
}

std::optional<JobState> parse_job_state(std::string_view text) {
  for (const auto& [s, name] : k_state_names) {
    if (name == text) {
      return s;
    }
  }
  return std::nullopt;
}

}  // namespace vibe::core
