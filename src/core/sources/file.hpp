#pragma once

#include "core/source.hpp"

#include <memory>

// `type: file`: follows a file like `tail -F`. Each poll reads the lines
// appended since the last one; the offset (and the file's identity) is kept
// in the source's state, stored with the events, so a restart neither loses
// nor repeats lines. Survives rotation (the rest of the old file is read
// through the descriptor still open, then the new file from its start) and
// truncation (read again from the start).
namespace vibe::core::file {

extern const OptionSpec k_options[9];

std::unique_ptr<Source> make(const SourceSpec& spec);
std::optional<std::string> check(const OptionValues& options);
// Forgets what source `id` keeps between polls (SourceKind::release).
void release(const std::string& id);

}  // namespace vibe::core::file
