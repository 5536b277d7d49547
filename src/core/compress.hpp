#pragma once

#include "core/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>

// zlib (deflate) for what vibe keeps but rarely reads: the raw layer.
namespace vibe::core {

// `data` deflated (zlib format, default level).
std::string deflate_text(std::string_view data);

// The inverse; `size` is the original length. Errors: Errc::storage when the
// data is corrupt or does not inflate to `size` bytes.
Result<std::string> inflate_text(std::string_view data, std::size_t size);

}  // namespace vibe::core
