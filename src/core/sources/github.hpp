#pragma once

#include "core/source.hpp"

#include <memory>

// `type: github`: a repository's issues, pull requests, releases and commits
// through the REST API v3: conditional requests (ETag per endpoint), `since`
// for issues, Link pagination up to max_pages, and rate limits left to the
// engine (a spent limit defers the next poll to its reset).
namespace vibe::core::github {

extern const OptionSpec k_options[10];

std::unique_ptr<Source> make(const SourceSpec& spec);
std::optional<std::string> check(const OptionValues& options);

}  // namespace vibe::core::github
