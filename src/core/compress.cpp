#include "core/compress.hpp"

#include <fmt/format.h>
#include <zlib.h>

namespace vibe::core {

std::string deflate_text(std::string_view data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
                           static_cast<uLong>(data.size()), Z_DEFAULT_COMPRESSION);
  if (rc != Z_OK) {
    // Only Z_MEM_ERROR is possible with a bound-sized buffer.
    throw std::bad_alloc{};
  }
  out.resize(size);
  return out;
}

Result<std::string> inflate_text(std::string_view data, std::size_t size) {
  std::string out(size, '\0');
  uLongf got = static_cast<uLongf>(size);
  const int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &got, reinterpret_cast<const Bytef*>(data.data()),
                            static_cast<uLong>(data.size()));
  if (rc != Z_OK || got != size) {
    return fail(Errc::storage, fmt::format("a compressed raw record is corrupt (zlib: {})", rc == Z_OK ? "wrong size"
                                                                                                       : zError(rc)));
  }
  return out;
}

}  // namespace vibe::core
