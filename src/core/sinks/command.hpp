#pragma once

#include "core/sink.hpp"

// `type: command`: a shell command run per delivery with the records as
// NDJSON on its stdin. Exit status 0 delivers; anything else (or the
// timeout) fails the attempt with the status and the end of its stderr.
// The environment variable VIBE_IDEMPOTENCY_KEY carries the delivery's key.
namespace vibe::core::command_sink {

extern const OptionSpec k_options[7];

Result<void> deliver(const SinkSpec& spec, std::span<const SinkRecord> records, const std::atomic<bool>* cancel);
std::optional<std::string> check(const OptionValues& options);

}  // namespace vibe::core::command_sink
