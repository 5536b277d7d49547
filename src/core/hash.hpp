#pragma once

#include <string>
#include <string_view>

namespace vibe::core {

// Lowercase hex SHA-256 of `data` (OpenSSL).
std::string sha256_hex(std::string_view data);

// Lowercase hex HMAC-SHA256 of `data` under `key` (OpenSSL).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// An HMAC-SHA256 key, set up once (OpenSSL's EVP_MAC), for computing many
// MACs with it: cheaper than hmac_sha256_hex() per call. Thread-safe.
class HmacSha256Key {
public:
  explicit HmacSha256Key(std::string_view key);
  ~HmacSha256Key();
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  // Lowercase hex HMAC-SHA256 of `data`; the same as hmac_sha256_hex(key, data).
  std::string hex(std::string_view data) const;

private:
  void* m_ctx = nullptr;  // EVP_MAC_CTX, initialized with the key; duplicated per call
};

// Whether `a` and `b` are equal, in time that depends only on their lengths
// (CRYPTO_memcmp): for comparing signatures.
bool equal_constant_time(std::string_view a, std::string_view b);

}  // namespace vibe::core
