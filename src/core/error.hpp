#pragma once

#include <tl/expected.hpp>

#include <string>
#include <utility>

namespace vibe::core {

// What kind of failure an Error is. src/cli/main.cpp maps these to exit codes:
// `config`, `usage` and `conflict` exit 2, everything else exits 1.
// `conflict`: another process holds what this one needs (a second `vibe
// serve` on the same data directory). `unavailable`: no `vibe serve` runs to
// answer.
enum class Errc { config, usage, network, http, parse, storage, not_found, cancelled, conflict, unavailable };

// An expected failure, as a value. `message` is complete and user-facing, e.g.
// "vibe.yaml:7:5: sources.hn: unknown key 'evry' (did you mean 'every'?)".
struct Error {
  Errc code;
  std::string message;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Shorthand for `return tl::unexpected(Error{...})`.
inline tl::unexpected<Error> fail(Errc code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

}  // namespace vibe::core
