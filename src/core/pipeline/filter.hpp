#pragma once

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include <memory>
#include <string>
#include <string_view>

// A pipeline's `filter:`, a small expression over the mapped record,
// parsed once at config load:
//
//   expr   := or
//   or     := and ("or" and)*
//   and    := unary ("and" unary)*
//   unary  := "not" unary | "(" expr ")" | "exists" path | test
//   test   := value [ ("==" | "!=" | "<" | "<=" | ">" | ">=") value
//                   | "contains" value | "matches" STRING ]
//   value  := path | STRING | NUMBER | true | false | null
//   path   := NAME ("." NAME | "[" INDEX "]")*   (price, user.name, tags[0])
//           | a JSON Pointer                      (/user/name)
//
// Strings are "double" or 'single' quoted with \-escapes. Comparisons of two
// numbers are numeric, of two strings lexical; of other pairs only == and !=
// hold (as JSON equality). `contains` is substring for strings, membership
// for lists. `matches` is an ECMAScript regular expression, compiled at
// load. A path that is absent is null (and `exists` is false). A lone value
// is true unless it is null, false, 0 or "".
namespace vibe::core::pipeline {

struct FilterError {
  std::size_t column = 0;  // 1-based, in the expression text
  std::string message;
};

class Filter {
public:
  static tl::expected<Filter, FilterError> parse(std::string_view text);

  bool matches(const nlohmann::json& record) const;

  const std::string& text() const { return m_text; }

  struct Node;

private:
  std::string m_text;
  std::shared_ptr<const Node> m_root;  // immutable once parsed: copies share it
};

}  // namespace vibe::core::pipeline
