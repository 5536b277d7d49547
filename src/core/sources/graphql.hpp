#pragma once

#include "core/source.hpp"

#include <memory>

// `type: graphql`: a GraphQL query POSTed on an interval; `items` points
// into `data` at the records. GraphQL `errors` fail the poll with their
// messages. Cursor pagination: `cursor` points at the next cursor (such as
// pageInfo.endCursor), `has_next` at whether there is a next page, and the
// cursor is sent as variable `cursor_variable`, up to max_pages.
namespace vibe::core::graphql {

extern const OptionSpec k_options[24];

std::unique_ptr<Source> make(const SourceSpec& spec);
std::optional<std::string> check(const OptionValues& options);

}  // namespace vibe::core::graphql
