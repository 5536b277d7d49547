#pragma once

#include <cstddef>
#include <string>
#include <string_view>

// Turning the raw bytes of a feed document into UTF-8 before any parser sees
// them. Pure functions: no allocation beyond the returned strings, no I/O,
// safe to call from any thread.
namespace vibe::core::feed {

// The result of to_utf8().
struct Utf8Document {
  std::string text;  // always valid UTF-8, without a BOM
  // What the bytes were read as: "utf-8", "utf-16le", "utf-16be",
  // "iso-8859-1" or "windows-1252".
  std::string source_encoding;
  // The encoding named in the XML declaration, lower-cased, as written
  // ("" when there is none). Differs from source_encoding when it was one
  // vibe cannot decode, in which case the bytes were read as UTF-8.
  std::string declared_encoding;
  // Invalid byte sequences replaced by U+FFFD. Non-zero means the text was
  // damaged or mislabelled; callers should report it rather than drop it.
  std::size_t replaced = 0;
};

// Decodes a feed document to UTF-8:
// - a UTF-8 BOM is stripped;
// - a UTF-16 BOM (either byte order), or a BOM-less document starting with
//   "<?" in UTF-16, is decoded from UTF-16 (unpaired surrogates become
//   U+FFFD);
// - otherwise, if the XML declaration names ISO-8859-1 (or an alias such as
//   latin1) or windows-1252 (cp1252), the bytes are transcoded. ISO-8859-1 is
//   read as windows-1252, as the WHATWG Encoding Standard and every browser
//   do: real feeds labelled ISO-8859-1 routinely contain cp1252 curly quotes
//   in 0x80-0x9F, where true C1 controls never appear;
// - anything else is taken as UTF-8.
// Whenever the bytes were transcoded, the declaration's encoding is rewritten
// to "UTF-8", so an XML parser that honours it reads the result correctly.
// The output is always valid UTF-8 (see Utf8Document::replaced).
Utf8Document to_utf8(std::string_view raw);

// The value of `encoding="..."` in a leading XML declaration (after an
// optional BOM or whitespace), lower-cased; "" when absent.
std::string declared_encoding(std::string_view document);

// Windows-1252 bytes to UTF-8. Bytes 0x81, 0x8D, 0x8F, 0x90 and 0x9D, which
// cp1252 leaves undefined, map to the C1 code points of the same value.
std::string windows1252_to_utf8(std::string_view bytes);

// `text` with every invalid UTF-8 sequence (overlong forms, surrogates, code
// points above U+10FFFF, truncated sequences) replaced by U+FFFD, one per
// maximal invalid subpart. `replaced`, when given, receives how many.
std::string repair_utf8(std::string_view text, std::size_t* replaced = nullptr);

// Appends the UTF-8 encoding of `code_point` (U+FFFD if it is a surrogate or
// above U+10FFFF).
void append_utf8(std::string& out, char32_t code_point);

}  // namespace vibe::core::feed
