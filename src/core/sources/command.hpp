#pragma once

#include "core/source.hpp"

#include <memory>

// `type: command`: a shell command whose stdout becomes events. In
// `mode: interval` it runs once per poll (lines, a JSON document, or NDJSON;
// a non-zero exit fails the poll with the tail of its stderr). In
// `mode: stream` it keeps running: each poll collects the lines printed
// since the last one, and a command that exited is reported (its status and
// stderr) and started again by the next poll, under serve's backoff.
namespace vibe::core::command {

extern const OptionSpec k_options[12];

std::unique_ptr<Source> make(const SourceSpec& spec);
std::optional<std::string> check(const OptionValues& options);
// Forgets what source `id` keeps between polls (SourceKind::release).
void release(const std::string& id);

}  // namespace vibe::core::command
