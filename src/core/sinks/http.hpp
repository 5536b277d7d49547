#pragma once

#include "core/sink.hpp"

// `type: webhook` and `type: http_api`: records POSTed (or the configured
// method) as JSON: one object per request with batch 1, else an array.
// Every request carries an Idempotency-Key that is the same on each attempt
// of the same records, the configured auth, and with a `secret` an
// HMAC-SHA256 signature of the body ("sha256=<hex>" in signature_header).
// A 2xx answer delivers; anything else fails the attempt with the status.
namespace vibe::core::http_sink {

extern const OptionSpec k_options[17];

Result<void> deliver(const SinkSpec& spec, std::span<const SinkRecord> records, const std::atomic<bool>* cancel);
std::optional<std::string> check(const OptionValues& options);

}  // namespace vibe::core::http_sink
