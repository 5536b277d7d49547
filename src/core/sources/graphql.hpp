#pragma once

#include "core/source.hpp"

#include <memory>

// `type: graphql`: a GraphQL query POSTed on an interval; `items` points
// into `data` at the records. GraphQL `errors` fail the poll with their
// messages.
namespace vibe::core::graphql {

extern const OptionSpec k_options[20];

std::unique_ptr<Source> make(const SourceSpec& spec);
std::optional<std::string> check(const OptionValues& options);

}  // namespace vibe::core::graphql
