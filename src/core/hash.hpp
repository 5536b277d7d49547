#pragma once

#include <string>
#include <string_view>

namespace vibe::core {

// Lowercase hex SHA-256 of `data` (OpenSSL).
std::string sha256_hex(std::string_view data);

// Lowercase hex HMAC-SHA256 of `data` under `key` (OpenSSL).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// Whether `a` and `b` are equal, in time that depends only on their lengths
// (CRYPTO_memcmp): for comparing signatures.
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace vibe::core
