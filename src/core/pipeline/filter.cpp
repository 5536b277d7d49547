// The filter language: a hand-written lexer and recursive-descent parser
// (the grammar is in filter.hpp) build an immutable tree; evaluation walks
// it. Regular expressions are compiled while parsing, so a bad one is a
// config error with its column, and evaluation never compiles anything.
#include "core/pipeline/filter.hpp"

#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <regex>
#include <vector>

namespace vibe::core::pipeline {

struct Filter::Node {
  enum class Kind { or_, and_, not_, exists, truthy, compare, contains, matches, path, literal } kind = Kind::literal;
  enum class Op { eq, ne, lt, le, gt, ge } op = Op::eq;
  std::vector<std::shared_ptr<const Node>> children;
  nlohmann::json::json_pointer pointer;  // path
  nlohmann::json literal;
  std::shared_ptr<const std::regex> regex;
};

namespace {

using Node = Filter::Node;
using NodePtr = std::shared_ptr<const Node>;

std::shared_ptr<Node> make_node(Node::Kind kind) {
  auto node = std::make_shared<Node>();
  node->kind = kind;
  return node;
}

struct Token {
  enum class Kind { end, name, path, string, number, op, lparen, rparen } kind = Kind::end;
  std::string text;        // name, op, the pointer of a path, a string's value
  nlohmann::json number;
  std::size_t column = 1;  // 1-based start
};

class Parser {
public:
  explicit Parser(std::string_view text) : m_text(text) {}

  tl::expected<NodePtr, FilterError> parse() {
    if (auto ok = advance(); !ok) {
      return tl::unexpected(ok.error());
    }
    if (m_token.kind == Token::Kind::end) {
      return error(m_token, "the filter is empty");
    }
    auto root = parse_or();
    if (!root) {
      return root;
    }
    if (m_token.kind != Token::Kind::end) {
      return error(m_token, fmt::format("unexpected '{}' (expected and, or, or the end)", shown(m_token)));
    }
    return root;
  }

private:
  static std::string shown(const Token& t) {
    return t.kind == Token::Kind::string ? "\"" + t.text + "\"" : t.text;
  }

  tl::unexpected<FilterError> error(const Token& at, std::string message) const {
    return tl::unexpected(FilterError{at.column, std::move(message)});
  }

  bool keyword(std::string_view word) const { return m_token.kind == Token::Kind::name && m_token.text == word; }

  tl::expected<void, FilterError> advance() {
    while (m_pos < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_pos]))) {
      ++m_pos;
    }
    Token t;
    t.column = m_pos + 1;
    if (m_pos >= m_text.size()) {
      m_token = t;
      return {};
    }
    const char c = m_text[m_pos];
    if (c == '(' || c == ')') {
      t.kind = c == '(' ? Token::Kind::lparen : Token::Kind::rparen;
      t.text = std::string(1, c);
      ++m_pos;
    } else if (c == '"' || c == '\'') {
      t.kind = Token::Kind::string;
      ++m_pos;
      bool closed = false;
      while (m_pos < m_text.size()) {
        const char d = m_text[m_pos++];
        if (d == c) {
          closed = true;
          break;
        }
        if (d == '\\' && m_pos < m_text.size()) {
          const char e = m_text[m_pos++];
          t.text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
          continue;
        }
        t.text += d;
      }
      if (!closed) {
        return tl::unexpected(FilterError{t.column, "unterminated string"});
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '-' && m_pos + 1 < m_text.size() && std::isdigit(static_cast<unsigned char>(m_text[m_pos + 1])))) {
      std::size_t end = m_pos + 1;
      while (end < m_text.size() && (std::isdigit(static_cast<unsigned char>(m_text[end])) || m_text[end] == '.' ||
                                     m_text[end] == 'e' || m_text[end] == 'E' ||
                                     ((m_text[end] == '-' || m_text[end] == '+') &&
                                      (m_text[end - 1] == 'e' || m_text[end - 1] == 'E')))) {
        ++end;
      }
      const std::string number{m_text.substr(m_pos, end - m_pos)};
      t.number = nlohmann::json::parse(number, nullptr, false);
      if (t.number.is_discarded() || !t.number.is_number()) {
        return tl::unexpected(FilterError{t.column, fmt::format("'{}' is not a number", number)});
      }
      t.kind = Token::Kind::number;
      t.text = number;
      m_pos = end;
    } else if (c == '/') {
      std::size_t end = m_pos;
      while (end < m_text.size() && !std::isspace(static_cast<unsigned char>(m_text[end])) && m_text[end] != ')' &&
             m_text[end] != '(') {
        ++end;
      }
      t.kind = Token::Kind::path;
      t.text = std::string{m_text.substr(m_pos, end - m_pos)};
      m_pos = end;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      // A name, or a dotted path with [index] parts: user.name, tags[0].
      std::size_t end = m_pos;
      std::string pointer;
      std::string part;
      auto flush = [&] {
        std::string escaped;
        for (const char ch : part) {
          escaped += ch == '~' ? "~0" : ch == '/' ? "~1" : std::string(1, ch);
        }
        pointer += "/" + escaped;
        part.clear();
      };
      bool dotted = false;
      while (end < m_text.size()) {
        const char d = m_text[end];
        if (std::isalnum(static_cast<unsigned char>(d)) || d == '_' || d == '-') {
          part += d;
          ++end;
        } else if (d == '.' && !part.empty()) {
          flush();
          dotted = true;
          ++end;
        } else if (d == '[') {
          if (!part.empty()) {
            flush();
          }
          const auto close = m_text.find(']', end);
          if (close == std::string_view::npos) {
            return tl::unexpected(FilterError{end + 1, "unclosed '['"});
          }
          part = std::string{m_text.substr(end + 1, close - end - 1)};
          if (part.empty() || !std::all_of(part.begin(), part.end(), [](char x) { return std::isdigit(static_cast<unsigned char>(x)); })) {
            return tl::unexpected(FilterError{end + 2, "a list index is a number, like tags[0]"});
          }
          flush();
          dotted = true;
          end = close + 1;
          if (end < m_text.size() && m_text[end] == '.') {
            ++end;
          }
        } else {
          break;
        }
      }
      if (!part.empty()) {
        flush();
      }
      t.text = std::string{m_text.substr(m_pos, end - m_pos)};
      if (dotted) {
        t.kind = Token::Kind::path;
        t.text = pointer;
      } else {
        t.kind = Token::Kind::name;
        m_name_pointer = pointer;
      }
      m_pos = end;
    } else {
      static constexpr std::string_view k_ops[] = {"==", "!=", "<=", ">=", "<", ">", "="};
      for (const auto op : k_ops) {
        if (m_text.substr(m_pos, op.size()) == op) {
          t.kind = Token::Kind::op;
          t.text = op == "=" ? "==" : std::string{op};
          m_pos += op.size();
          break;
        }
      }
      if (t.kind != Token::Kind::op) {
        return tl::unexpected(FilterError{t.column, fmt::format("unexpected character '{}'", c)});
      }
    }
    m_token = std::move(t);
    return {};
  }

  tl::expected<NodePtr, FilterError> parse_or() {
    auto left = parse_and();
    if (!left) {
      return left;
    }
    while (keyword("or")) {
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      auto right = parse_and();
      if (!right) {
        return right;
      }
      auto node = make_node(Node::Kind::or_);
      node->children = {*left, *right};
      left = node;
    }
    return left;
  }

  tl::expected<NodePtr, FilterError> parse_and() {
    auto left = parse_unary();
    if (!left) {
      return left;
    }
    while (keyword("and")) {
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      auto right = parse_unary();
      if (!right) {
        return right;
      }
      auto node = make_node(Node::Kind::and_);
      node->children = {*left, *right};
      left = node;
    }
    return left;
  }

  tl::expected<NodePtr, FilterError> parse_unary() {
    if (keyword("not")) {
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      auto inner = parse_unary();
      if (!inner) {
        return inner;
      }
      auto node = make_node(Node::Kind::not_);
      node->children = {*inner};
      return node;
    }
    if (m_token.kind == Token::Kind::lparen) {
      const Token open = m_token;
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      auto inner = parse_or();
      if (!inner) {
        return inner;
      }
      if (m_token.kind != Token::Kind::rparen) {
        return error(m_token, fmt::format("expected ')' to close the '(' at column {}", open.column));
      }
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      return inner;
    }
    if (keyword("exists")) {
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      auto path = parse_value();
      if (!path) {
        return path;
      }
      if ((*path)->kind != Node::Kind::path) {
        return error(m_previous, "exists takes a field, like: exists user.email");
      }
      auto node = make_node(Node::Kind::exists);
      node->pointer = (*path)->pointer;
      return node;
    }
    return parse_test();
  }

  tl::expected<NodePtr, FilterError> parse_test() {
    auto left = parse_value();
    if (!left) {
      return left;
    }
    if (m_token.kind == Token::Kind::op) {
      const std::string op = m_token.text;
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      auto right = parse_value();
      if (!right) {
        return right;
      }
      auto node = make_node(Node::Kind::compare);
      node->op = op == "==" ? Node::Op::eq : op == "!=" ? Node::Op::ne : op == "<" ? Node::Op::lt
                 : op == "<=" ? Node::Op::le : op == ">" ? Node::Op::gt : Node::Op::ge;
      node->children = {*left, *right};
      return node;
    }
    if (keyword("contains")) {
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      auto right = parse_value();
      if (!right) {
        return right;
      }
      auto node = make_node(Node::Kind::contains);
      node->children = {*left, *right};
      return node;
    }
    if (keyword("matches")) {
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      if (m_token.kind != Token::Kind::string) {
        return error(m_token, "matches takes a quoted regular expression, like: title matches \"^v[0-9]\"");
      }
      auto node = make_node(Node::Kind::matches);
      try {
        node->regex = std::make_shared<const std::regex>(m_token.text, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return error(m_token, fmt::format("bad regular expression \"{}\": {}", m_token.text, e.what()));
      }
      if (auto ok = advance(); !ok) {
        return tl::unexpected(ok.error());
      }
      node->children = {*left};
      return node;
    }
    auto node = make_node(Node::Kind::truthy);
    node->children = {*left};
    return node;
  }

  tl::expected<NodePtr, FilterError> parse_value() {
    const Token t = m_token;
    auto node = make_node(Node::Kind::literal);
    switch (t.kind) {
      case Token::Kind::string:
        node->literal = t.text;
        break;
      case Token::Kind::number:
        node->literal = t.number;
        break;
      case Token::Kind::path:
        try {
          node->pointer = nlohmann::json::json_pointer{t.text};
        } catch (const std::exception&) {
          return error(t, fmt::format("'{}' is not a JSON Pointer", t.text));
        }
        node->kind = Node::Kind::path;
        break;
      case Token::Kind::name:
        if (t.text == "true" || t.text == "false") {
          node->literal = t.text == "true";
        } else if (t.text == "null") {
          node->literal = nullptr;
        } else if (t.text == "and" || t.text == "or" || t.text == "not" || t.text == "contains" ||
                   t.text == "matches" || t.text == "exists") {
          return error(t, fmt::format("expected a field or a value, got the keyword '{}'", t.text));
        } else {
          node->kind = Node::Kind::path;
          node->pointer = nlohmann::json::json_pointer{m_name_pointer};
        }
        break;
      case Token::Kind::end:
        return error(t, "unexpected end of the filter (expected a field or a value)");
      default:
        return error(t, fmt::format("expected a field or a value, got '{}'", t.text));
    }
    m_previous = t;
    if (auto ok = advance(); !ok) {
      return tl::unexpected(ok.error());
    }
    return NodePtr{node};
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
  Token m_token;
  Token m_previous;
  std::string m_name_pointer;  // the pointer of the last name token
};

const nlohmann::json k_null = nullptr;

const nlohmann::json* resolve(const nlohmann::json& record, const nlohmann::json::json_pointer& pointer) {
  try {
    if (!record.contains(pointer)) {
      return nullptr;
    }
    return &record.at(pointer);
  } catch (const std::exception&) {
    return nullptr;
  }
}

const nlohmann::json& value_of(const Node& node, const nlohmann::json& record) {
  if (node.kind == Node::Kind::literal) {
    return node.literal;
  }
  const nlohmann::json* value = resolve(record, node.pointer);
  return value != nullptr ? *value : k_null;
}

bool truthy(const nlohmann::json& v) {
  if (v.is_null()) {
    return false;
  }
  if (v.is_boolean()) {
    return v.get<bool>();
  }
  if (v.is_number()) {
    return v.get<double>() != 0;
  }
  if (v.is_string()) {
    return !v.get_ref<const std::string&>().empty();
  }
  return true;
}

bool evaluate(const Node& node, const nlohmann::json& record) {
  switch (node.kind) {
    case Node::Kind::or_:
      return evaluate(*node.children[0], record) || evaluate(*node.children[1], record);
    case Node::Kind::and_:
      return evaluate(*node.children[0], record) && evaluate(*node.children[1], record);
    case Node::Kind::not_:
      return !evaluate(*node.children[0], record);
    case Node::Kind::exists:
      return resolve(record, node.pointer) != nullptr;
    case Node::Kind::truthy:
      return truthy(value_of(*node.children[0], record));
    case Node::Kind::compare: {
      const nlohmann::json& a = value_of(*node.children[0], record);
      const nlohmann::json& b = value_of(*node.children[1], record);
      if (node.op == Node::Op::eq) {
        return a == b;
      }
      if (node.op == Node::Op::ne) {
        return a != b;
      }
      int order = 0;
      if (a.is_number() && b.is_number()) {
        const double x = a.get<double>();
        const double y = b.get<double>();
        order = x < y ? -1 : x > y ? 1 : 0;
      } else if (a.is_string() && b.is_string()) {
        order = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
      } else {
        return false;
      }
      switch (node.op) {
        case Node::Op::lt: return order < 0;
        case Node::Op::le: return order <= 0;
        case Node::Op::gt: return order > 0;
        case Node::Op::ge: return order >= 0;
        default: return false;
      }
    }
    case Node::Kind::contains: {
      const nlohmann::json& a = value_of(*node.children[0], record);
      const nlohmann::json& b = value_of(*node.children[1], record);
      if (a.is_string() && b.is_string()) {
        return a.get_ref<const std::string&>().find(b.get_ref<const std::string&>()) != std::string::npos;
      }
      if (a.is_array()) {
        return std::find(a.begin(), a.end(), b) != a.end();
      }
      return false;
    }
    case Node::Kind::matches: {
      const nlohmann::json& a = value_of(*node.children[0], record);
      return a.is_string() && std::regex_search(a.get_ref<const std::string&>(), *node.regex);
    }
    case Node::Kind::path:
    case Node::Kind::literal:
      return truthy(value_of(node, record));
  }
  return false;
}

}  // namespace

tl::expected<Filter, FilterError> Filter::parse(std::string_view text) {
  Parser parser{text};
  auto root = parser.parse();
  if (!root) {
    return tl::unexpected(root.error());
  }
  Filter filter;
  filter.m_text = std::string{text};
  filter.m_root = std::move(*root);
  return filter;
}

bool Filter::matches(const nlohmann::json& record) const {
  return m_root != nullptr && evaluate(*m_root, record);
}

}  // namespace vibe::core::pipeline
