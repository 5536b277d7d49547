#pragma once

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

// A pipeline's `map:`, compiled once at config load and applied to each
// record. The spec is a JSON object (the YAML as loaded); each output field
// is one of
//   "/json/pointer"                       the value there (null when absent, counted)
//   "text with {/pointer} placeholders"   a string; a missing value renders as ""
//                                         ("{{" and "}}" are literal braces)
//   {path: "/p", as: T, default: V}       the value converted to T (string,
//                                         number, bool, time), V when absent
//   {field: ...}                          a nested output object
// A value that does not convert fails the record (it is counted, and an
// example kept), never silently dropped.
namespace vibe::core::pipeline {

enum class As { any, string, number, boolean, time };

class Mapping {
public:
  // Compiles `spec`. Errors name the output field ("price.as: 'int' is not
  // one of string, number, bool, time").
  static Result<Mapping> compile(const nlohmann::json& spec);

  struct Outcome {
    nlohmann::json record;             // the mapped record (an object)
    std::vector<std::string> missing;  // output fields whose path was absent, no default
  };

  // Maps one record. Errors: Errc::parse naming the field and the value.
  Result<Outcome> apply(const nlohmann::json& input) const;

  // The output field names, dotted for nested objects, in order.
  std::vector<std::string> fields() const;

private:
  struct Part {  // of a template: literal text, or a pointer to render
    std::string text;
    std::optional<nlohmann::json::json_pointer> pointer;
  };
  struct Node {
    std::string name;  // dotted output name
    enum class Kind { pointer, templated, converted, object } kind = Kind::pointer;
    nlohmann::json::json_pointer pointer;
    std::vector<Part> parts;
    As as = As::any;
    std::optional<nlohmann::json> fallback;
    std::vector<std::pair<std::string, Node>> children;  // object
  };

  static Result<Node> compile_node(const std::string& name, const nlohmann::json& spec);
  static Result<void> apply_node(const Node& node, const nlohmann::json& input, nlohmann::json& out,
                                 std::vector<std::string>& missing);
  static void collect(const Node& node, std::vector<std::string>& out);

  Node m_root;
};

// `value` converted to `as`; nullopt when it does not convert.
std::optional<nlohmann::json> convert(const nlohmann::json& value, As as);

}  // namespace vibe::core::pipeline
