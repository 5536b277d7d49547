#include "core/feed/encoding.hpp"

#include <array>
#include <cstdint>
#include <utility>

namespace vibe::core::feed {

namespace {

constexpr char32_t k_replacement = 0xFFFD;

// cp1252 0x80-0x9F. The five undefined bytes keep their C1 value, as the
// WHATWG table does, so no byte is lost.
constexpr std::array<char16_t, 32> k_cp1252_high{
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,  // 80-87
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,  // 88-8F
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,  // 90-97
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,  // 98-9F
};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

enum class Endian { little, big };

std::string utf16_to_utf8(std::string_view bytes, Endian endian, std::size_t& replaced) {
  std::string out;
  out.reserve(bytes.size());
  auto unit_at = [&](std::size_t i) -> char16_t {
    const auto a = static_cast<unsigned char>(bytes[i]);
    const auto b = static_cast<unsigned char>(bytes[i + 1]);
    return static_cast<char16_t>(endian == Endian::little ? (b << 8) | a : (a << 8) | b);
  };
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) {
    const char16_t unit = unit_at(i);
    if (unit >= 0xD800 && unit <= 0xDBFF && i + 3 < bytes.size()) {
      const char16_t low = unit_at(i + 2);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        append_utf8(out, 0x10000 + ((static_cast<char32_t>(unit) - 0xD800) << 10) + (low - 0xDC00));
        i += 2;
        continue;
      }
    }
    if (unit >= 0xD800 && unit <= 0xDFFF) {
      ++replaced;
      append_utf8(out, k_replacement);
      continue;
    }
    append_utf8(out, unit);
  }
  if (i < bytes.size()) {  // an odd trailing byte
    ++replaced;
    append_utf8(out, k_replacement);
  }
  return out;
}

// The [begin, end) range of the encoding value inside a leading XML
// declaration, or {npos, npos}.
std::pair<std::size_t, std::size_t> find_declared_encoding(std::string_view doc) {
  constexpr auto k_none = std::pair{std::string_view::npos, std::string_view::npos};
  std::size_t pos = 0;
  while (pos < doc.size() && is_space(doc[pos])) {
    ++pos;
  }
  if (!starts_with(doc.substr(pos), "<?xml")) {
    return k_none;
  }
  const std::size_t end = doc.find("?>", pos);
  if (end == std::string_view::npos) {
    return k_none;
  }
  const std::string_view decl = doc.substr(0, end);
  std::size_t key = decl.find("encoding", pos);
  if (key == std::string_view::npos) {
    return k_none;
  }
  key += 8;
  while (key < decl.size() && is_space(decl[key])) {
    ++key;
  }
  if (key >= decl.size() || decl[key] != '=') {
    return k_none;
  }
  ++key;
  while (key < decl.size() && is_space(decl[key])) {
    ++key;
  }
  if (key >= decl.size() || (decl[key] != '"' && decl[key] != '\'')) {
    return k_none;
  }
  const char quote = decl[key];
  const std::size_t close = decl.find(quote, key + 1);
  if (close == std::string_view::npos) {
    return k_none;
  }
  return {key + 1, close};
}

std::string rewrite_declared_encoding(std::string text) {
  const auto [begin, end] = find_declared_encoding(text);
  if (begin != std::string::npos) {
    text.replace(begin, end - begin, "UTF-8");
  }
  return text;
}

bool is_latin1_label(std::string_view name) {
  for (std::string_view label : {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
                                 "iso-ir-100", "csisolatin1", "ibm819", "cp819"}) {
    if (name == label) {
      return true;
    }
  }
  return false;
}

bool is_cp1252_label(std::string_view name) {
  return name == "windows-1252" || name == "cp1252" || name == "x-cp1252";
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    cp = k_replacement;
  }
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string windows1252_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      out += c;
    } else if (b < 0xA0) {
      append_utf8(out, k_cp1252_high[b - 0x80]);
    } else {
      append_utf8(out, b);
    }
  }
  return out;
}

std::string repair_utf8(std::string_view text, std::size_t* replaced) {
  std::string out;
  out.reserve(text.size());
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      out += text[i++];
      continue;
    }
    // Lead byte: sequence length and the valid range of the second byte
    // (Unicode Table 3-7), which excludes overlongs, surrogates and >U+10FFFF.
    std::size_t length = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      lo = b == 0xE0 ? 0xA0 : 0x80;
      hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      lo = b == 0xF0 ? 0x90 : 0x80;
      hi = b == 0xF4 ? 0x8F : 0xBF;
    }
    std::size_t valid = length == 0 ? 0 : 1;
    while (valid > 0 && valid < length && i + valid < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + valid]);
      const unsigned char min = valid == 1 ? lo : 0x80;
      const unsigned char max = valid == 1 ? hi : 0xBF;
      if (next < min || next > max) {
        break;
      }
      ++valid;
    }
    if (length != 0 && valid == length) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      ++count;
      append_utf8(out, k_replacement);
      i += valid == 0 ? 1 : valid;
    }
  }
  if (replaced != nullptr) {
    *replaced = count;
  }
  return out;
}

std::string declared_encoding(std::string_view document) {
  if (starts_with(document, "\xEF\xBB\xBF")) {
    document.remove_prefix(3);
  }
  const auto [begin, end] = find_declared_encoding(document);
  if (begin == std::string_view::npos) {
    return {};
  }
  std::string name{document.substr(begin, end - begin)};
  for (char& c : name) {
    c = lower(c);
  }
  return name;
}

Utf8Document to_utf8(std::string_view raw) {
  Utf8Document doc;
  std::size_t replaced = 0;
  if (starts_with(raw, "\xFF\xFE") || starts_with(raw, std::string_view{"<\0?\0", 4})) {
    const std::size_t skip = starts_with(raw, "\xFF\xFE") ? 2 : 0;
    doc.source_encoding = "utf-16le";
    doc.text = utf16_to_utf8(raw.substr(skip), Endian::little, replaced);
  } else if (starts_with(raw, "\xFE\xFF") || starts_with(raw, std::string_view{"\0<\0?", 4})) {
    const std::size_t skip = starts_with(raw, "\xFE\xFF") ? 2 : 0;
    doc.source_encoding = "utf-16be";
    doc.text = utf16_to_utf8(raw.substr(skip), Endian::big, replaced);
  }
  if (!doc.source_encoding.empty()) {
    doc.declared_encoding = declared_encoding(doc.text);
    doc.text = rewrite_declared_encoding(std::move(doc.text));
    doc.replaced = replaced;
    return doc;
  }

  if (starts_with(raw, "\xEF\xBB\xBF")) {
    raw.remove_prefix(3);
  }
  doc.declared_encoding = declared_encoding(raw);
  if (is_latin1_label(doc.declared_encoding) || is_cp1252_label(doc.declared_encoding)) {
    doc.source_encoding = is_cp1252_label(doc.declared_encoding) ? "windows-1252" : "iso-8859-1";
    doc.text = rewrite_declared_encoding(windows1252_to_utf8(raw));
    return doc;
  }
  doc.source_encoding = "utf-8";
  doc.text = repair_utf8(raw, &doc.replaced);
  return doc;
}

}  // namespace vibe::core::feed
