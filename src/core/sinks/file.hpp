#pragma once

#include "core/sink.hpp"

// `type: file`: records appended to a file as NDJSON, one line each, in one
// write per delivery (O_APPEND), then fsync'd. Delivery is at least once: an
// attempt that fails after its write (fsync) appends the batch again on retry.
namespace vibe::core::file_sink {

extern const OptionSpec k_options[6];

Result<void> deliver(const SinkSpec& spec, std::span<const SinkRecord> records, const std::atomic<bool>* cancel);
std::optional<std::string> check(const OptionValues& options);

}  // namespace vibe::core::file_sink
