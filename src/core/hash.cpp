#include "core/hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

namespace vibe::core {

namespace {

std::string hex_of(const unsigned char* digest, unsigned int length) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += k_hex[digest[i] >> 4];
    out += k_hex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return hex_of(digest, length);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  return hex_of(digest, length);
}

HmacSha256Key::HmacSha256Key(std::string_view key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
  EVP_MAC_free(mac);  // the context keeps its own reference
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (ctx != nullptr &&
      EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    ctx = nullptr;
  }
  m_ctx = ctx;
}

HmacSha256Key::~HmacSha256Key() {
  EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(m_ctx));
}

std::string HmacSha256Key::hex(std::string_view data) const {
  EVP_MAC_CTX* ctx = m_ctx != nullptr ? EVP_MAC_CTX_dup(static_cast<EVP_MAC_CTX*>(m_ctx)) : nullptr;
  unsigned char digest[EVP_MAX_MD_SIZE];
  std::size_t length = 0;
  const bool ok = ctx != nullptr &&
                  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
                  EVP_MAC_final(ctx, digest, &length, sizeof digest) == 1;
  EVP_MAC_CTX_free(ctx);
  // Without a usable context nothing can match: "" never equals a signature.
  return ok ? hex_of(digest, static_cast<unsigned int>(length)) : std::string{};
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace vibe::core
