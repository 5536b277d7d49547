#pragma once

#include <string>
#include <string_view>

namespace vibe::core {

// Lowercase hex SHA-256 of `data` (OpenSSL).
std::string sha256_hex(std::string_view data);

}  // namespace vibe::core
