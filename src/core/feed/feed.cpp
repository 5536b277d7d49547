#include "core/feed/feed.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/feed/date.hpp"
#include "core/feed/encoding.hpp"

// How a document becomes a Feed.
//
// 1. The bytes are decoded to UTF-8 (encoding.hpp), so pugixml always parses
//    UTF-8 and every string it hands back is UTF-8.
// 2. A document whose first non-space character is '{' is JSON Feed, anything
//    else is XML. A pugixml error is fatal: the partial tree pugixml keeps is
//    thrown away, and the message gives the line computed from its offset.
// 3. The root element picks the dialect: <rss> (RSS 0.9x/2.0), <rdf:RDF>
//    (RSS 0.90/1.0) or <feed> (Atom 1.0 or 0.3).
// 4. Elements are matched by namespace URI and local name, never by the raw
//    tag: pugixml does not process namespaces, so namespace_uri() resolves a
//    prefix by walking up to the nearest xmlns declaration. Only direct
//    children of channel/item/entry are read, so an <image><title> or an
//    unknown wrapper never overrides the element's own value.
// 5. Values follow the fixtures README (feedparser's conventions): text is
//    trimmed, Atom text constructs are rendered by type, links are resolved
//    against xml:base and the document URL, author strings are reduced to a
//    display name.
// 6. Items that carry nothing are skipped and recorded; unparseable dates are
//    dropped with a warning. Finally every string is run through
//    repair_utf8(), because numeric character references (&#xD800;) and
//    base64 payloads can still produce invalid UTF-8.
namespace vibe::core::feed {

namespace {

namespace uri {
constexpr std::string_view atom10 = "http://www.w3.org/2005/Atom";
constexpr std::string_view atom03 = "http://purl.org/atom/ns#";
constexpr std::string_view rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
constexpr std::string_view rss10 = "http://purl.org/rss/1.0/";
constexpr std::string_view rss090 = "http://my.netscape.com/rdf/simple/0.9/";
constexpr std::string_view dc = "http://purl.org/dc/elements/1.1/";
constexpr std::string_view dcterms = "http://purl.org/dc/terms/";
constexpr std::string_view content = "http://purl.org/rss/1.0/modules/content/";
constexpr std::string_view xml = "http://www.w3.org/XML/1998/namespace";
}  // namespace uri

// Prefixes that feeds use without declaring them. A strict namespace parser
// would reject the document; reading the conventional URI is kinder.
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> k_default_prefixes{{
    {"dc", uri::dc},
    {"dcterms", uri::dcterms},
    {"content", uri::content},
    {"atom", uri::atom10},
    {"rdf", uri::rdf},
}};

// Namespaces that RSS 0.9x/2.0 core elements have been published under.
constexpr std::array<std::string_view, 5> k_rss_namespaces{
    "",
    "http://backend.userland.com/rss2",
    "http://backend.userland.com/rss",
    "http://blogs.law.harvard.edu/tech/rss",
    "http://backend.userland.com/rss2.1",
};

// Markup nested deeper than this inside one value is dropped rather than
// serialized, so hostile input cannot exhaust the stack.
constexpr int k_max_markup_depth = 200;

// The longest raw date quoted in a warning.
constexpr std::size_t k_max_quoted = 80;

// ---- strings ---------------------------------------------------------------

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return std::string{s};
}

std::string to_lower(std::string_view s) {
  std::string out{s};
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string quote(std::string_view raw) {
  std::string s = trim(raw);
  if (s.size() > k_max_quoted) {
    s.resize(k_max_quoted);
    s += "...";
  }
  return "\"" + s + "\"";
}

// 1-based line of byte `offset` in `text`.
std::size_t line_of(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(
                 text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

// "me@example.com (Name)", "Name (me@example.com)" and "Name <me@example.com>"
// all give "Name"; anything else is returned trimmed.
std::string display_name(std::string_view raw) {
  const std::string s = trim(raw);
  const std::size_t open = s.find('(');
  if (open != std::string::npos && !s.empty() && s.back() == ')') {
    const std::string inside = trim(std::string_view{s}.substr(open + 1, s.size() - open - 2));
    const std::string outside = trim(std::string_view{s}.substr(0, open));
    if (outside.find('@') != std::string::npos && !inside.empty()) {
      return inside;
    }
    if (inside.find('@') != std::string::npos && !outside.empty()) {
      return outside;
    }
    return s;
  }
  const std::size_t angle = s.find('<');
  if (angle != std::string::npos && !s.empty() && s.back() == '>') {
    std::string name = trim(std::string_view{s}.substr(0, angle));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = trim(std::string_view{name}.substr(1, name.size() - 2));
    }
    return name.empty() ? trim(std::string_view{s}.substr(angle + 1, s.size() - angle - 2)) : name;
  }
  return s;
}

// Lenient Base64: whitespace is skipped, decoding stops at '='. nullopt on
// any other character.
std::optional<std::string> decode_base64(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value = 0;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+' || c == '-') {
      value = 62;
    } else if (c == '/' || c == '_') {
      value = 63;
    } else if (is_space(c)) {
      continue;
    } else if (c == '=') {
      break;
    } else {
      return std::nullopt;
    }
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

// ---- URLs (RFC 3986 section 5) -------------------------------------------

struct UrlParts {
  std::string_view scheme;
  std::string_view authority;
  std::string_view path;
  std::string_view query;
  std::string_view fragment;
  bool has_authority = false;
  bool has_query = false;
  bool has_fragment = false;
};

UrlParts split_url(std::string_view s) {
  UrlParts p;
  const std::size_t colon = s.find(':');
  const std::size_t stop = s.find_first_of("/?#");
  if (colon != std::string_view::npos && colon > 0 &&
      (stop == std::string_view::npos || colon < stop)) {
    const std::string_view scheme = s.substr(0, colon);
    const bool valid = std::all_of(scheme.begin(), scheme.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '+' || c == '-' || c == '.';
    });
    const char first = scheme.front();
    if (valid && ((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z'))) {
      p.scheme = scheme;
      s.remove_prefix(colon + 1);
    }
  }
  if (const std::size_t hash = s.find('#'); hash != std::string_view::npos) {
    p.fragment = s.substr(hash + 1);
    p.has_fragment = true;
    s = s.substr(0, hash);
  }
  if (const std::size_t q = s.find('?'); q != std::string_view::npos) {
    p.query = s.substr(q + 1);
    p.has_query = true;
    s = s.substr(0, q);
  }
  if (starts_with(s, "//")) {
    s.remove_prefix(2);
    const std::size_t slash = s.find('/');
    p.authority = s.substr(0, slash);
    p.has_authority = true;
    s = slash == std::string_view::npos ? std::string_view{} : s.substr(slash);
  }
  p.path = s;
  return p;
}

std::string remove_dot_segments(std::string_view path) {
  const bool absolute = starts_with(path, "/");
  if (absolute) {
    path.remove_prefix(1);
  }
  std::vector<std::string_view> segments;
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      segments.push_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string_view seg = segments[i];
    const bool last = i + 1 == segments.size();
    if (seg == "." || seg == "..") {
      if (seg == ".." && !out.empty()) {
        out.pop_back();
      }
      if (last) {
        out.emplace_back();  // "a/b/.." keeps its trailing slash
      }
    } else {
      out.push_back(seg);
    }
  }
  std::string result = absolute ? "/" : "";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) {
      result += '/';
    }
    result += out[i];
  }
  return result;
}

// `ref` resolved against `base`. An absolute `ref` is returned untouched
// (no normalization), and so is any `ref` when `base` is not absolute. An
// empty `ref` stays empty.
std::string resolve_url(std::string_view base, std::string_view ref_raw) {
  const std::string ref_str = trim(ref_raw);
  if (ref_str.empty()) {
    return {};  // no link at all, not a link to the base
  }
  const std::string_view ref = ref_str;
  const UrlParts r = split_url(ref);
  if (!r.scheme.empty()) {
    return ref_str;
  }
  const UrlParts b = split_url(base);
  if (b.scheme.empty()) {
    return ref_str;
  }
  std::string authority;
  bool has_authority = false;
  std::string path;
  std::string_view query;
  bool has_query = false;
  if (r.has_authority) {
    authority = r.authority;
    has_authority = true;
    path = remove_dot_segments(r.path);
    query = r.query;
    has_query = r.has_query;
  } else {
    authority = b.authority;
    has_authority = b.has_authority;
    if (r.path.empty()) {
      path = b.path;
      query = r.has_query ? r.query : b.query;
      has_query = r.has_query || b.has_query;
    } else {
      if (starts_with(r.path, "/")) {
        path = remove_dot_segments(r.path);
      } else if (b.has_authority && b.path.empty()) {
        path = remove_dot_segments("/" + std::string{r.path});
      } else {
        const std::size_t slash = b.path.rfind('/');
        const std::string merged =
            (slash == std::string_view::npos ? std::string{}
                                             : std::string{b.path.substr(0, slash + 1)}) +
            std::string{r.path};
        path = remove_dot_segments(merged);
      }
      query = r.query;
      has_query = r.has_query;
    }
  }
  std::string out{b.scheme};
  out += ':';
  if (has_authority) {
    out += "//";
    out += authority;
  }
  out += path;
  if (has_query) {
    out += '?';
    out += query;
  }
  if (r.has_fragment) {
    out += '#';
    out += r.fragment;
  }
  return out;
}

// ---- namespaces ------------------------------------------------------------

std::string_view local_name(std::string_view qname) {
  const std::size_t colon = qname.find(':');
  return colon == std::string_view::npos ? qname : qname.substr(colon + 1);
}

std::string_view prefix_of(std::string_view qname) {
  const std::size_t colon = qname.find(':');
  return colon == std::string_view::npos ? std::string_view{} : qname.substr(0, colon);
}

// The URI bound to `prefix` ("" = the default namespace) where `scope` is.
std::string_view resolve_prefix(pugi::xml_node scope, std::string_view prefix) {
  if (prefix == "xml") {
    return uri::xml;
  }
  const std::string attr = prefix.empty() ? std::string{"xmlns"} : "xmlns:" + std::string{prefix};
  for (pugi::xml_node n = scope; n && n.type() == pugi::node_element; n = n.parent()) {
    if (const pugi::xml_attribute a = n.attribute(attr.c_str())) {
      return a.value();
    }
  }
  for (const auto& [known, known_uri] : k_default_prefixes) {
    if (prefix == known) {
      return known_uri;
    }
  }
  return {};
}

std::string_view namespace_uri(pugi::xml_node element) {
  return resolve_prefix(element, prefix_of(element.name()));
}

bool is_element(pugi::xml_node n, std::string_view ns, std::string_view local) {
  return n.type() == pugi::node_element && local_name(n.name()) == local && namespace_uri(n) == ns;
}

// The namespaces a dialect's own (unprefixed in the specs) elements live in.
struct CoreNamespaces {
  std::vector<std::string_view> uris;
  bool contains(std::string_view ns) const {
    return std::find(uris.begin(), uris.end(), ns) != uris.end();
  }
};

bool is_core(pugi::xml_node n, const CoreNamespaces& core, std::string_view local) {
  return n.type() == pugi::node_element && local_name(n.name()) == local &&
         core.contains(namespace_uri(n));
}

pugi::xml_node find_child(pugi::xml_node parent, std::string_view ns, std::string_view local) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (is_element(c, ns, local)) {
      return c;
    }
  }
  return {};
}

pugi::xml_node find_core(pugi::xml_node parent, const CoreNamespaces& core,
                         std::string_view local) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (is_core(c, core, local)) {
      return c;
    }
  }
  return {};
}

// The attribute `local` in namespace `ns` on `element` (prefix resolved).
pugi::xml_attribute find_attribute(pugi::xml_node element, std::string_view ns,
                                   std::string_view local) {
  for (pugi::xml_attribute a = element.first_attribute(); a; a = a.next_attribute()) {
    const std::string_view name = a.name();
    const std::string_view prefix = prefix_of(name);
    if (!prefix.empty() && local_name(name) == local && resolve_prefix(element, prefix) == ns) {
      return a;
    }
  }
  return {};
}

// ---- xml:base ----------------------------------------------------------------

struct Base {
  std::string url;
  bool from_xml_base = false;  // some ancestor-or-self carries xml:base
};

Base base_of(pugi::xml_node node, std::string_view document_url) {
  std::vector<std::string_view> chain;
  for (pugi::xml_node n = node; n && n.type() == pugi::node_element; n = n.parent()) {
    if (const pugi::xml_attribute a = n.attribute("xml:base")) {
      chain.emplace_back(a.value());
    }
  }
  Base base{std::string{document_url}, !chain.empty()};
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    base.url = resolve_url(base.url, *it);
  }
  return base;
}

std::string resolve_against(pugi::xml_node node, std::string_view document_url,
                            std::string_view ref) {
  const std::string trimmed = trim(ref);
  if (trimmed.empty()) {
    return {};
  }
  return resolve_url(base_of(node, document_url).url, trimmed);
}

// ---- text and markup --------------------------------------------------------

void escape_text(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
}

void escape_attribute(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
}

bool is_void_element(std::string_view local) {
  static constexpr std::array<std::string_view, 14> k_void{
      "area",  "base", "br",   "col",   "embed",  "hr",    "img",
      "input", "link", "meta", "param", "source", "track", "wbr"};
  const std::string name = to_lower(local);
  return std::find(k_void.begin(), k_void.end(), name) != k_void.end();
}

bool is_uri_attribute(std::string_view name) {
  return name == "href" || name == "src" || name == "cite" || name == "poster";
}

// Serializes the children of `parent` as markup: text escaped, attributes in
// double quotes, comments and processing instructions dropped. When `base` is
// non-empty, relative href/src values are resolved against it (and against
// any xml:base met on the way down).
void write_markup(std::string& out, pugi::xml_node parent, const std::string& base, int depth) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    switch (c.type()) {
      case pugi::node_pcdata:
      case pugi::node_cdata:
        escape_text(out, c.value());
        break;
      case pugi::node_element: {
        if (depth >= k_max_markup_depth) {
          break;
        }
        std::string child_base = base;
        if (const pugi::xml_attribute xb = c.attribute("xml:base"); xb && !base.empty()) {
          child_base = resolve_url(base, xb.value());
        }
        out += '<';
        out += c.name();
        for (pugi::xml_attribute a = c.first_attribute(); a; a = a.next_attribute()) {
          const std::string_view name = a.name();
          if (name == "xml:base") {
            continue;
          }
          out += ' ';
          out += name;
          out += "=\"";
          if (!child_base.empty() && is_uri_attribute(name)) {
            escape_attribute(out, resolve_url(child_base, a.value()));
          } else {
            escape_attribute(out, a.value());
          }
          out += '"';
        }
        if (!c.first_child() && is_void_element(local_name(c.name()))) {
          out += " />";
          break;
        }
        out += '>';
        write_markup(out, c, child_base, depth + 1);
        out += "</";
        out += c.name();
        out += '>';
        break;
      }
      default:
        break;
    }
  }
}

bool has_element_child(pugi::xml_node n) {
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element) {
      return true;
    }
  }
  return false;
}

// The text of an element: its character data (CDATA sections included), or,
// when it holds elements (naked HTML in an RSS description), those elements
// serialized as markup. Trimmed.
std::string text_of(pugi::xml_node n) {
  if (!n) {
    return {};
  }
  std::string out;
  if (has_element_child(n)) {
    write_markup(out, n, {}, 0);
  } else {
    for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
      if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
        out += c.value();
      }
    }
  }
  return trim(out);
}

// Inline XHTML: the children of the wrapper <div> (or of `n` when there is no
// wrapper), serialized.
std::string xhtml_of(pugi::xml_node n, std::string_view document_url) {
  pugi::xml_node wrapper = n;
  pugi::xml_node only;
  int elements = 0;
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element) {
      only = c;
      ++elements;
    }
  }
  if (elements == 1 && local_name(only.name()) == "div") {
    wrapper = only;
  }
  const Base base = base_of(wrapper, document_url);
  std::string out;
  write_markup(out, wrapper, base.from_xml_base ? base.url : std::string{}, 0);
  return trim(out);
}

struct Text {
  std::string value;
  std::string type;  // "text", "html", "xhtml" or a MIME type
};

// An Atom text construct or content element, rendered per the fixtures
// README. Atom 0.3 adds `mode` (xml, escaped, base64) and uses MIME types.
Text atom_text(pugi::xml_node n, bool atom03, std::string_view document_url) {
  if (!n) {
    return {};
  }
  std::string type = to_lower(trim(n.attribute("type").value()));
  if (type.empty()) {
    type = "text";
  }
  if (type == "text/plain") {
    type = "text";
  } else if (type == "text/html") {
    type = "html";
  } else if (type == "application/xhtml+xml") {
    type = "xhtml";
  }
  auto decoded = [&]() {
    const std::string raw = text_of(n);
    auto bytes = decode_base64(raw);
    return bytes ? trim(*bytes) : raw;
  };
  if (atom03) {
    const std::string mode = to_lower(trim(n.attribute("mode").value()));
    if (mode == "base64") {
      return {decoded(), type};
    }
    if (mode == "escaped") {
      return {text_of(n), type};
    }
    return {has_element_child(n) ? xhtml_of(n, document_url) : text_of(n), type};
  }
  if (type == "text" || type == "html") {
    return {text_of(n), type};
  }
  if (type == "xhtml") {
    return {xhtml_of(n, document_url), type};
  }
  // RFC 4287 4.1.3.3: other XML media types are inline markup, other text/*
  // types are text, and everything else is Base64.
  if (ends_with(type, "+xml") || ends_with(type, "/xml")) {
    return {has_element_child(n) ? xhtml_of(n, document_url) : text_of(n), type};
  }
  if (starts_with(type, "text/")) {
    return {text_of(n), type};
  }
  return {decoded(), type};
}

// ---- shared item logic -----------------------------------------------------

struct Parser {
  std::string_view document_url;
  Feed& feed;

  // Parses a date element's text; an unparseable non-empty value is dropped
  // with a warning naming where it was.
  std::optional<UnixMicros> date(pugi::xml_node n, std::string_view where) {
    if (!n) {
      return std::nullopt;
    }
    const std::string raw = text_of(n);
    return date_text(raw, fmt::format("{}: <{}>", where, n.name()));
  }

  std::optional<UnixMicros> date_text(std::string_view raw, std::string_view where) {
    if (trim(raw).empty()) {
      return std::nullopt;
    }
    auto parsed = parse_date(raw);
    if (!parsed) {
      feed.warnings.push_back(fmt::format("{}: unparseable date {}", where, quote(raw)));
    }
    return parsed;
  }
};

bool is_empty(const Entry& e) {
  return e.id.empty() && e.link.empty() && e.title.empty() && e.summary.empty() &&
         e.content.empty() && e.authors.empty() && !e.published && !e.updated &&
         e.categories.empty() && e.enclosures.empty();
}

std::int64_t parse_length(std::string_view raw) {
  const std::string s = trim(raw);
  std::int64_t value = 0;
  if (s.empty()) {
    return 0;
  }
  for (char c : s) {
    if (c < '0' || c > '9' || value > (std::numeric_limits<std::int64_t>::max() - 9) / 10) {
      return 0;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

// Keeps `entry` unless it carries nothing at all. `inherited` are the feed's
// authors, given to an entry without its own (RFC 4287 4.2.1, JSON Feed 1.1);
// they do not make an otherwise empty entry worth keeping.
void add_entry(Feed& feed, Entry entry, std::size_t position, std::string_view element,
               const std::vector<std::string>& inherited = {}) {
  if (is_empty(entry)) {
    feed.skipped.push_back(
        {position, fmt::format("empty <{}>: no title, link, id, description or content", element)});
    return;
  }
  if (entry.authors.empty()) {
    entry.authors = inherited;
  }
  if (entry.author.empty() && !entry.authors.empty()) {
    entry.author = entry.authors.front();
  }
  feed.entries.push_back(std::move(entry));
}

// ---- RSS 0.9x / 1.0 / 2.0 ----------------------------------------------------

Entry parse_rss_item(pugi::xml_node item, const CoreNamespaces& core, Parser& p,
                     std::size_t position) {
  Entry e;
  const std::string where = fmt::format("item {}", position);
  pugi::xml_node pub_date;
  pugi::xml_node issued;
  pugi::xml_node dc_date;
  pugi::xml_node modified;
  bool guid_is_permalink = false;
  std::string dc_title;
  std::string dc_description;
  for (pugi::xml_node c = item.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) {
      continue;
    }
    const std::string_view local = local_name(c.name());
    const std::string_view ns = namespace_uri(c);
    if (core.contains(ns)) {
      if (local == "title" && e.title.empty()) {
        e.title = text_of(c);
      } else if (local == "link" && e.link.empty()) {
        e.link = resolve_against(c, p.document_url, text_of(c));
      } else if (local == "guid" && e.id.empty()) {
        e.id = text_of(c);
        guid_is_permalink = to_lower(trim(c.attribute("isPermaLink").value())) != "false";
      } else if (local == "description" && e.summary.empty()) {
        e.summary = text_of(c);
      } else if (local == "author") {
        if (std::string name = display_name(text_of(c)); !name.empty()) {
          e.authors.push_back(std::move(name));
        }
      } else if (local == "pubDate" && !pub_date) {
        pub_date = c;
      } else if (local == "category") {
        if (std::string term = text_of(c); !term.empty()) {
          e.categories.push_back(std::move(term));
        }
      } else if (local == "enclosure") {
        std::string url = resolve_against(c, p.document_url, c.attribute("url").value());
        if (!url.empty()) {
          e.enclosures.push_back({std::move(url), trim(c.attribute("type").value()),
                                  parse_length(c.attribute("length").value())});
        }
      }
    } else if (ns == uri::dc) {
      if (local == "creator") {
        if (std::string name = display_name(text_of(c)); !name.empty()) {
          e.authors.push_back(std::move(name));
        }
      } else if (local == "title" && dc_title.empty()) {
        dc_title = text_of(c);
      } else if (local == "description" && dc_description.empty()) {
        dc_description = text_of(c);
      } else if (local == "date" && !dc_date) {
        dc_date = c;
      } else if (local == "subject") {
        if (std::string term = text_of(c); !term.empty()) {
          e.categories.push_back(std::move(term));
        }
      }
    } else if (ns == uri::dcterms) {
      if (local == "issued" && !issued) {
        issued = c;
      } else if (local == "modified" && !modified) {
        modified = c;
      }
    } else if (ns == uri::content && local == "encoded" && e.content.empty()) {
      e.content = text_of(c);
    }
  }
  if (e.title.empty()) {
    e.title = std::move(dc_title);
  }
  if (e.summary.empty()) {
    e.summary = std::move(dc_description);
  }
  if (!e.content.empty()) {
    e.content_type = "html";
  }
  if (e.id.empty()) {
    // RSS 1.0 identifies items by rdf:about.
    e.id = trim(find_attribute(item, uri::rdf, "about").value());
  }
  // A permalink guid doubles as the link, but only when it is a web URL:
  // "abc" with isPermaLink omitted is an id, not a relative link.
  const std::string guid_lower = to_lower(e.id);
  if (e.link.empty() && guid_is_permalink &&
      (starts_with(guid_lower, "http://") || starts_with(guid_lower, "https://"))) {
    e.link = e.id;
  }
  e.published = pub_date ? p.date(pub_date, where) : p.date(issued, where);
  e.updated = dc_date ? p.date(dc_date, where) : p.date(modified, where);
  return e;
}

Result<Feed> parse_rss(pugi::xml_node root, Feed feed, std::string_view document_url) {
  CoreNamespaces core;
  const std::string_view root_ns = namespace_uri(root);
  pugi::xml_node channel;
  if (feed.format == "rdf") {
    core.uris = {uri::rss10, uri::rss090, ""};
    channel = find_core(root, core, "channel");
    if (namespace_uri(channel) == uri::rss090) {
      feed.version = "rss090";
    }
  } else {
    core.uris.assign(k_rss_namespaces.begin(), k_rss_namespaces.end());
    core.uris.push_back(root_ns);
    channel = find_core(root, core, "channel");
    if (!channel) {
      return fail(Errc::parse, fmt::format("{}: <{}> has no <channel>", document_url, root.name()));
    }
  }

  Parser p{document_url, feed};
  if (channel) {
    feed.title = text_of(find_core(channel, core, "title"));
    if (feed.title.empty()) {
      feed.title = text_of(find_child(channel, uri::dc, "title"));
    }
    if (const pugi::xml_node link = find_core(channel, core, "link")) {
      feed.link = resolve_against(link, document_url, text_of(link));
    }
    feed.subtitle = text_of(find_core(channel, core, "description"));
    if (feed.subtitle.empty()) {
      feed.subtitle = text_of(find_child(channel, uri::dc, "description"));
    }
    feed.language = text_of(find_core(channel, core, "language"));
    if (feed.language.empty()) {
      feed.language = text_of(find_child(channel, uri::dc, "language"));
    }
    feed.author = display_name(text_of(find_child(channel, uri::dc, "creator")));
    if (feed.author.empty()) {
      feed.author = display_name(text_of(find_core(channel, core, "managingEditor")));
    }
    for (pugi::xml_node c = channel.first_child(); c; c = c.next_sibling()) {
      if (is_element(c, uri::atom10, "link") && trim(c.attribute("rel").value()) == "self") {
        feed.self = resolve_against(c, document_url, c.attribute("href").value());
        break;
      }
    }
    for (const auto& [ns, local] : {std::pair{std::string_view{}, "lastBuildDate"},
                                    {std::string_view{}, "pubDate"},
                                    {uri::dc, "date"},
                                    {uri::dcterms, "modified"}}) {
      const pugi::xml_node n =
          ns.empty() ? find_core(channel, core, local) : find_child(channel, ns, local);
      if (n && !text_of(n).empty()) {
        feed.updated = p.date(n, "channel");
        break;
      }
    }
  }

  // RSS 1.0 and 0.90 put items beside the channel; some RSS 0.9x feeds do too.
  std::vector<pugi::xml_node> items;
  for (pugi::xml_node parent : {channel, root}) {
    if (!parent) {
      continue;
    }
    for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
      if (is_core(c, core, "item")) {
        items.push_back(c);
      }
    }
  }
  if (!channel && items.empty()) {
    return fail(Errc::parse,
                fmt::format("{}: not an RSS, Atom or JSON feed (<{}> without a channel or items)",
                            document_url, root.name()));
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    add_entry(feed, parse_rss_item(items[i], core, p, i + 1), i + 1, "item");
  }
  return feed;
}

// ---- Atom 1.0 / 0.3 ------------------------------------------------------------

std::vector<std::string> atom_authors(pugi::xml_node parent, std::string_view ns) {
  std::vector<std::string> names;
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (!is_element(c, ns, "author")) {
      continue;
    }
    std::string name = text_of(find_child(c, ns, "name"));
    if (name.empty()) {
      name = text_of(find_child(c, ns, "email"));
    }
    if (name.empty() && !has_element_child(c)) {
      name = display_name(text_of(c));  // a bare string, as some generators write
    }
    if (!name.empty()) {
      names.push_back(std::move(name));
    }
  }
  return names;
}

struct AtomLinks {
  std::string alternate;
  std::string self;
  std::vector<Enclosure> enclosures;
};

AtomLinks atom_links(pugi::xml_node parent, std::string_view ns, std::string_view document_url) {
  AtomLinks links;
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (!is_element(c, ns, "link")) {
      continue;
    }
    std::string rel = to_lower(trim(c.attribute("rel").value()));
    if (rel.empty()) {
      rel = "alternate";
    }
    std::string href = resolve_against(c, document_url, c.attribute("href").value());
    if (href.empty()) {
      continue;
    }
    if (rel == "alternate" && links.alternate.empty()) {
      links.alternate = std::move(href);
    } else if (rel == "self" && links.self.empty()) {
      links.self = std::move(href);
    } else if (rel == "enclosure") {
      links.enclosures.push_back({std::move(href), trim(c.attribute("type").value()),
                                  parse_length(c.attribute("length").value())});
    }
  }
  return links;
}

Entry parse_atom_entry(pugi::xml_node node, std::string_view ns, bool atom03, Parser& p,
                       std::size_t position) {
  Entry e;
  const std::string where = fmt::format("entry {}", position);
  e.id = text_of(find_child(node, ns, "id"));
  e.title = atom_text(find_child(node, ns, "title"), atom03, p.document_url).value;
  e.summary = atom_text(find_child(node, ns, "summary"), atom03, p.document_url).value;
  if (const pugi::xml_node content = find_child(node, ns, "content");
      content && !content.attribute("src")) {
    Text text = atom_text(content, atom03, p.document_url);
    e.content = std::move(text.value);
    if (!e.content.empty()) {
      e.content_type = std::move(text.type);
    }
  }
  AtomLinks links = atom_links(node, ns, p.document_url);
  e.link = std::move(links.alternate);
  e.enclosures = std::move(links.enclosures);
  e.authors = atom_authors(node, ns);
  pugi::xml_node published = find_child(node, ns, "published");
  if (!published) {
    published = find_child(node, ns, "issued");
  }
  pugi::xml_node updated = find_child(node, ns, "updated");
  if (!updated) {
    updated = find_child(node, ns, "modified");
  }
  e.published = p.date(published, where);
  e.updated = p.date(updated, where);
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (is_element(c, ns, "category")) {
      std::string term = trim(c.attribute("term").value());
      if (term.empty()) {
        term = text_of(c);
      }
      if (!term.empty()) {
        e.categories.push_back(std::move(term));
      }
    } else if (is_element(c, uri::dc, "subject")) {
      if (std::string term = text_of(c); !term.empty()) {
        e.categories.push_back(std::move(term));
      }
    }
  }
  return e;
}

Result<Feed> parse_atom(pugi::xml_node root, Feed feed, std::string_view document_url) {
  const std::string_view ns = namespace_uri(root);
  const bool atom03 = feed.version == "atom03";
  Parser p{document_url, feed};
  feed.title = atom_text(find_child(root, ns, "title"), atom03, document_url).value;
  pugi::xml_node subtitle = find_child(root, ns, "subtitle");
  if (!subtitle) {
    subtitle = find_child(root, ns, "tagline");
  }
  feed.subtitle = atom_text(subtitle, atom03, document_url).value;
  AtomLinks links = atom_links(root, ns, document_url);
  feed.link = std::move(links.alternate);
  feed.self = std::move(links.self);
  if (const pugi::xml_attribute lang = root.attribute("xml:lang")) {
    feed.language = trim(lang.value());
  }
  const std::vector<std::string> authors = atom_authors(root, ns);
  if (!authors.empty()) {
    feed.author = authors.front();
  }
  pugi::xml_node updated = find_child(root, ns, "updated");
  if (!updated) {
    updated = find_child(root, ns, "modified");
  }
  feed.updated = p.date(updated, "feed");
  std::size_t position = 0;
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    if (is_element(c, ns, "entry")) {
      ++position;
      add_entry(feed, parse_atom_entry(c, ns, atom03, p, position), position, "entry", authors);
    }
  }
  return feed;
}

// ---- JSON Feed ------------------------------------------------------------------

std::string json_string(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? trim(it->get_ref<const std::string&>())
                                               : std::string{};
}

std::vector<std::string> json_authors(const nlohmann::json& object) {
  std::vector<std::string> names;
  if (const auto it = object.find("authors"); it != object.end() && it->is_array()) {
    for (const nlohmann::json& a : *it) {
      if (a.is_object()) {
        if (std::string name = json_string(a, "name"); !name.empty()) {
          names.push_back(std::move(name));
        }
      }
    }
  }
  if (const auto it = object.find("author");
      names.empty() && it != object.end() && it->is_object()) {
    if (std::string name = json_string(*it, "name"); !name.empty()) {
      names.push_back(std::move(name));
    }
  }
  return names;
}

Result<Feed> parse_json(std::string_view text, std::string_view document_url) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    return fail(Errc::parse, fmt::format("{}: line {}: not well-formed JSON ({})", document_url,
                                         line_of(text, offset), e.what()));
  } catch (const nlohmann::json::exception& e) {  // e.g. a number out of range
    return fail(Errc::parse, fmt::format("{}: not well-formed JSON ({})", document_url, e.what()));
  }
  const std::string version = doc.is_object() ? json_string(doc, "version") : std::string{};
  if (version.find("jsonfeed.org/version/") == std::string::npos) {
    return fail(
        Errc::parse,
        fmt::format("{}: not an RSS, Atom or JSON feed (JSON without a jsonfeed.org version)",
                    document_url));
  }
  Feed feed;
  feed.format = "json";
  feed.version = ends_with(version, "/1.1") ? "json11" : "json1";
  feed.title = json_string(doc, "title");
  feed.link = resolve_url(document_url, json_string(doc, "home_page_url"));
  feed.subtitle = json_string(doc, "description");
  feed.self = resolve_url(document_url, json_string(doc, "feed_url"));
  feed.language = json_string(doc, "language");
  const std::vector<std::string> authors = json_authors(doc);
  if (!authors.empty()) {
    feed.author = authors.front();
  }
  Parser p{document_url, feed};
  const auto items = doc.find("items");
  if (items == doc.end() || !items->is_array()) {
    return feed;
  }
  std::size_t position = 0;
  for (const nlohmann::json& item : *items) {
    ++position;
    if (!item.is_object()) {
      feed.skipped.push_back({position, "item is not a JSON object"});
      continue;
    }
    Entry e;
    const std::string where = fmt::format("item {}", position);
    // JSON Feed 1.1: an id that is a number must be read as a string.
    if (const auto id = item.find("id"); id != item.end()) {
      if (id->is_string()) {
        e.id = trim(id->get_ref<const std::string&>());
      } else if (id->is_number_integer() || id->is_number_unsigned()) {
        e.id = id->dump();
      } else if (id->is_number_float()) {
        e.id = id->dump();
      }
    }
    e.link = resolve_url(document_url, json_string(item, "url"));
    e.title = json_string(item, "title");
    e.summary = json_string(item, "summary");
    if (e.content = json_string(item, "content_html"); !e.content.empty()) {
      e.content_type = "html";
    } else if (e.content = json_string(item, "content_text"); !e.content.empty()) {
      e.content_type = "text";
    }
    e.authors = json_authors(item);
    e.published = p.date_text(json_string(item, "date_published"), where + ": date_published");
    e.updated = p.date_text(json_string(item, "date_modified"), where + ": date_modified");
    if (const auto tags = item.find("tags"); tags != item.end() && tags->is_array()) {
      for (const nlohmann::json& tag : *tags) {
        if (tag.is_string() && !tag.get_ref<const std::string&>().empty()) {
          e.categories.push_back(tag.get<std::string>());
        }
      }
    }
    if (const auto attachments = item.find("attachments");
        attachments != item.end() && attachments->is_array()) {
      for (const nlohmann::json& a : *attachments) {
        if (!a.is_object()) {
          continue;
        }
        Enclosure enclosure{resolve_url(document_url, json_string(a, "url")),
                            json_string(a, "mime_type"), 0};
        if (const auto size = a.find("size_in_bytes"); size != a.end()) {
          if (size->is_number_unsigned()) {
            enclosure.length = static_cast<std::int64_t>(std::min<std::uint64_t>(
                size->get<std::uint64_t>(), std::numeric_limits<std::int64_t>::max()));
          } else if (size->is_number_integer()) {
            enclosure.length = std::max<std::int64_t>(size->get<std::int64_t>(), 0);
          }
        }
        if (!enclosure.url.empty()) {
          e.enclosures.push_back(std::move(enclosure));
        }
      }
    }
    add_entry(feed, std::move(e), position, "item", authors);
  }
  return feed;
}

// ---- entry point helpers -------------------------------------------------------

void repair(std::string& s) {
  s = repair_utf8(s);
}

void repair_all(Feed& feed) {
  for (std::string* s :
       {&feed.title, &feed.link, &feed.subtitle, &feed.self, &feed.language, &feed.author}) {
    repair(*s);
  }
  for (Entry& e : feed.entries) {
    for (std::string* s :
         {&e.id, &e.link, &e.title, &e.summary, &e.content, &e.content_type, &e.author}) {
      repair(*s);
    }
    for (std::string& s : e.authors) {
      repair(s);
    }
    for (std::string& s : e.categories) {
      repair(s);
    }
    for (Enclosure& enclosure : e.enclosures) {
      repair(enclosure.url);
      repair(enclosure.type);
    }
  }
  for (std::string& s : feed.warnings) {
    repair(s);
  }
}

std::string rss_version(std::string_view attribute) {
  const std::string v = trim(attribute);
  if (v.empty()) {
    return "rss";
  }
  if (starts_with(v, "2.")) {
    return "rss20";
  }
  for (std::string_view old : {"0.90", "0.91", "0.92", "0.93", "0.94"}) {
    if (v == old) {
      return "rss0" + std::string{old.substr(2)};
    }
  }
  return "rss";
}

Result<Feed> parse_xml(const std::string& text, std::string_view document_url) {
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed = doc.load_buffer(
      text.data(), text.size(), pugi::parse_default | pugi::parse_ws_pcdata, pugi::encoding_utf8);
  if (!parsed) {
    const std::size_t offset = parsed.offset < 0 ? 0 : static_cast<std::size_t>(parsed.offset);
    return fail(Errc::parse, fmt::format("{}: line {}: not well-formed XML ({})", document_url,
                                         line_of(text, offset), parsed.description()));
  }
  const pugi::xml_node root = doc.document_element();
  const std::string_view local = local_name(root.name());
  const std::string_view ns = namespace_uri(root);
  Feed feed;
  if (local == "rss") {
    feed.format = "rss";
    feed.version = rss_version(root.attribute("version").value());
    return parse_rss(root, std::move(feed), document_url);
  }
  if (local == "RDF" && ns == uri::rdf) {
    feed.format = "rdf";
    feed.version = "rss10";
    return parse_rss(root, std::move(feed), document_url);
  }
  if (local == "feed" && (ns == uri::atom10 || ns == uri::atom03 ||
                          trim(root.attribute("version").value()) == "0.3")) {
    feed.format = "atom";
    feed.version = ns == uri::atom10 ? "atom10" : "atom03";
    return parse_atom(root, std::move(feed), document_url);
  }
  return fail(Errc::parse, fmt::format("{}: not an RSS, Atom or JSON feed (root element <{}>)",
                                       document_url, root.name()));
}

}  // namespace

Result<Feed> parse_feed(std::string_view body, std::string_view base_url) {
  Utf8Document decoded = to_utf8(body);
  const std::size_t first = decoded.text.find_first_not_of(" \t\r\n");
  Result<Feed> feed = first != std::string::npos && decoded.text[first] == '{'
                          ? parse_json(decoded.text, base_url)
                          : parse_xml(decoded.text, base_url);
  if (!feed) {
    return feed;
  }
  if (decoded.replaced > 0) {
    feed->warnings.push_back(fmt::format("{} invalid {} byte sequence(s) replaced by U+FFFD",
                                         decoded.replaced, decoded.source_encoding));
  }
  if (!decoded.declared_encoding.empty() && decoded.source_encoding == "utf-8" &&
      decoded.declared_encoding != "utf-8" && decoded.declared_encoding != "utf8" &&
      decoded.declared_encoding != "us-ascii" && decoded.declared_encoding != "ascii") {
    feed->warnings.push_back(
        fmt::format("the XML declaration says encoding \"{}\"; the document was read as UTF-8",
                    decoded.declared_encoding));
  }
  repair_all(*feed);
  return feed;
}

namespace {

// Absent values are omitted from the JSON, not written as "".
void put_nonempty(nlohmann::json& j, const char* key, const std::string& value) {
  if (!value.empty()) {
    j[key] = value;
  }
}

}  // namespace

nlohmann::json to_json(const Entry& entry) {
  nlohmann::json j = nlohmann::json::object();
  put_nonempty(j, "id", entry.id);
  put_nonempty(j, "link", entry.link);
  put_nonempty(j, "title", entry.title);
  put_nonempty(j, "summary", entry.summary);
  put_nonempty(j, "content", entry.content);
  put_nonempty(j, "content_type", entry.content_type);
  put_nonempty(j, "author", entry.author);
  if (!entry.authors.empty()) {
    j["authors"] = entry.authors;
  }
  if (entry.published) {
    j["published"] = format_rfc3339(*entry.published);
  }
  if (entry.updated) {
    j["updated"] = format_rfc3339(*entry.updated);
  }
  if (!entry.categories.empty()) {
    j["categories"] = entry.categories;
  }
  if (!entry.enclosures.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const Enclosure& enclosure : entry.enclosures) {
      nlohmann::json e = {{"url", enclosure.url}};
      if (!enclosure.type.empty()) {
        e["type"] = enclosure.type;
      }
      if (enclosure.length > 0) {
        e["length"] = enclosure.length;
      }
      list.push_back(std::move(e));
    }
    j["enclosures"] = std::move(list);
  }
  return j;
}

nlohmann::json to_json(const Feed& feed) {
  nlohmann::json j = nlohmann::json::object();
  put_nonempty(j, "format", feed.format);
  put_nonempty(j, "version", feed.version);
  put_nonempty(j, "title", feed.title);
  put_nonempty(j, "link", feed.link);
  put_nonempty(j, "subtitle", feed.subtitle);
  put_nonempty(j, "self", feed.self);
  put_nonempty(j, "language", feed.language);
  put_nonempty(j, "author", feed.author);
  if (feed.updated) {
    j["updated"] = format_rfc3339(*feed.updated);
  }
  nlohmann::json entries = nlohmann::json::array();
  for (const Entry& entry : feed.entries) {
    entries.push_back(to_json(entry));
  }
  j["entries"] = std::move(entries);
  if (!feed.skipped.empty()) {
    nlohmann::json skipped = nlohmann::json::array();
    for (const SkippedItem& s : feed.skipped) {
      skipped.push_back({{"position", s.position}, {"reason", s.reason}});
    }
    j["skipped"] = std::move(skipped);
  }
  if (!feed.warnings.empty()) {
    j["warnings"] = feed.warnings;
  }
  return j;
}

}  // namespace vibe::core::feed
