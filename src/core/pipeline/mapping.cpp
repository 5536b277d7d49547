// Mapping: the spec is compiled into a tree of nodes once (pointers parsed,
// templates split into literal and pointer parts), so applying it to a
// record is a walk over the tree with no parsing left.
#include "core/pipeline/mapping.hpp"

#include "core/feed/date.hpp"
#include "core/time.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace vibe::core::pipeline {

namespace {

std::optional<As> parse_as(std::string_view text) {
  if (text == "string") {
    return As::string;
  }
  if (text == "number") {
    return As::number;
  }
  if (text == "bool" || text == "boolean") {
    return As::boolean;
  }
  if (text == "time") {
    return As::time;
  }
  return std::nullopt;
}

std::string as_text(const nlohmann::json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_null()) {
    return {};
  }
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<nlohmann::json::json_pointer> pointer_of(const std::string& name, const std::string& text) {
  try {
    return nlohmann::json::json_pointer{text};
  } catch (const std::exception&) {
    return fail(Errc::config, fmt::format("{}: '{}' is not a JSON Pointer (like /data/price)", name, text));
  }
}

const nlohmann::json* find(const nlohmann::json& document, const nlohmann::json::json_pointer& pointer) {
  // contains() and at() on a pointer through a scalar or a non-numeric array
  // index throw; a record that does not have the path has nothing there.
  try {
    if (!document.contains(pointer)) {
      return nullptr;
    }
    return &document.at(pointer);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

std::optional<nlohmann::json> convert(const nlohmann::json& value, As as) {
  switch (as) {
    case As::any:
      return value;
    case As::string:
      return nlohmann::json(as_text(value));
    case As::number: {
      if (value.is_number()) {
        return value;
      }
      if (value.is_boolean()) {
        return nlohmann::json(value.get<bool>() ? 1 : 0);
      }
      if (value.is_string()) {
        const std::string& text = value.get_ref<const std::string&>();
        std::int64_t integer = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), integer);
        if (ec == std::errc{} && end == text.data() + text.size() && !text.empty()) {
          return nlohmann::json(integer);
        }
        double real = 0;
        const auto [end2, ec2] = std::from_chars(text.data(), text.data() + text.size(), real);
        if (ec2 == std::errc{} && end2 == text.data() + text.size() && !text.empty() && std::isfinite(real)) {
          return nlohmann::json(real);
        }
      }
      return std::nullopt;
    }
    case As::boolean: {
      if (value.is_boolean()) {
        return value;
      }
      if (value.is_number()) {
        return nlohmann::json(value.get<double>() != 0);
      }
      if (value.is_string()) {
        const std::string& text = value.get_ref<const std::string&>();
        if (text == "true" || text == "1" || text == "yes") {
          return nlohmann::json(true);
        }
        if (text == "false" || text == "0" || text == "no") {
          return nlohmann::json(false);
        }
      }
      return std::nullopt;
    }
    case As::time: {
      std::optional<UnixMicros> t;
      if (value.is_string()) {
        const std::string& text = value.get_ref<const std::string&>();
        t = parse_rfc3339(text);
        if (!t) {
          t = feed::parse_date(text);
        }
      } else if (value.is_number()) {
        const double seconds = value.get<double>();
        if (std::isfinite(seconds) && seconds >= 0 && seconds < 1e15) {
          t = static_cast<UnixMicros>((seconds > 1e11 ? seconds / 1000.0 : seconds) * 1e6);  // ms when large
        }
      }
      if (!t) {
        return std::nullopt;
      }
      return nlohmann::json(format_rfc3339(*t));
    }
  }
  return std::nullopt;
}

Result<Mapping::Node> Mapping::compile_node(const std::string& name, const nlohmann::json& spec) {
  Node node;
  node.name = name;
  if (spec.is_string()) {
    const std::string& text = spec.get_ref<const std::string&>();
    if (!text.empty() && text.front() == '/' && text.find('{') == std::string::npos) {
      auto pointer = pointer_of(name, text);
      if (!pointer) {
        return tl::unexpected(pointer.error());
      }
      node.kind = Node::Kind::pointer;
      node.pointer = std::move(*pointer);
      return node;
    }
    // A template: literal text with {/pointer} placeholders ("{{" and "}}"
    // are a literal "{" and "}").
    node.kind = Node::Kind::templated;
    std::string literal;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '{') {
        literal += '{';
        ++i;
        continue;
      }
      if (text[i] == '}' && i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      if (text[i] != '{') {
        literal += text[i];
        continue;
      }
      const auto close = text.find('}', i);
      if (close == std::string::npos) {
        return fail(Errc::config, fmt::format("{}: unclosed '{{' at character {} of the template", name, i + 1));
      }
      auto pointer = pointer_of(name, text.substr(i + 1, close - i - 1));
      if (!pointer) {
        return tl::unexpected(pointer.error());
      }
      if (!literal.empty()) {
        node.parts.push_back({std::move(literal), std::nullopt});
        literal.clear();
      }
      node.parts.push_back({{}, std::move(*pointer)});
      i = close;
    }
    if (!literal.empty()) {
      node.parts.push_back({std::move(literal), std::nullopt});
    }
    return node;
  }
  if (!spec.is_object()) {
    return fail(Errc::config, fmt::format("{}: expected a JSON Pointer, a template, {{path, as, default}} or a "
                                          "mapping of fields, got {}",
                                          name, spec.type_name()));
  }
  if (spec.contains("path")) {
    for (const auto& [key, value] : spec.items()) {
      if (key != "path" && key != "as" && key != "default") {
        return fail(Errc::config, fmt::format("{}: unknown key '{}' (a field with a path takes path, as, default)",
                                              name, key));
      }
    }
    if (!spec["path"].is_string()) {
      return fail(Errc::config, fmt::format("{}.path: expected a JSON Pointer", name));
    }
    auto pointer = pointer_of(name + ".path", spec["path"].get<std::string>());
    if (!pointer) {
      return tl::unexpected(pointer.error());
    }
    node.kind = Node::Kind::converted;
    node.pointer = std::move(*pointer);
    if (spec.contains("as")) {
      const auto as = spec["as"].is_string() ? parse_as(spec["as"].get<std::string>()) : std::nullopt;
      if (!as) {
        return fail(Errc::config, fmt::format("{}.as: '{}' is not one of string, number, bool, time", name,
                                              as_text(spec["as"])));
      }
      node.as = *as;
    }
    if (spec.contains("default")) {
      auto fallback = convert(spec["default"], node.as);
      if (!fallback && !spec["default"].is_null()) {
        return fail(Errc::config, fmt::format("{}.default: {} is not a {}", name, spec["default"].dump(),
                                              as_text(spec["as"])));
      }
      node.fallback = spec["default"].is_null() ? nlohmann::json(nullptr) : *fallback;
    }
    return node;
  }
  node.kind = Node::Kind::object;
  for (const auto& [key, value] : spec.items()) {
    auto child = compile_node(name.empty() ? key : name + "." + key, value);
    if (!child) {
      return tl::unexpected(child.error());
    }
    node.children.emplace_back(key, std::move(*child));
  }
  return node;
}

Result<Mapping> Mapping::compile(const nlohmann::json& spec) {
  if (!spec.is_object() || spec.empty()) {
    return fail(Errc::config, "map: expected a mapping of output fields");
  }
  auto root = compile_node("", spec);
  if (!root) {
    return tl::unexpected(root.error());
  }
  Mapping mapping;
  mapping.m_root = std::move(*root);
  return mapping;
}

Result<void> Mapping::apply_node(const Node& node, const nlohmann::json& input, nlohmann::json& out,
                                 std::vector<std::string>& missing) {
  switch (node.kind) {
    case Node::Kind::pointer: {
      const nlohmann::json* value = find(input, node.pointer);
      if (value == nullptr) {
        missing.push_back(node.name);
        out = nullptr;
      } else {
        out = *value;
      }
      return {};
    }
    case Node::Kind::templated: {
      std::string text;
      for (const auto& part : node.parts) {
        if (!part.pointer) {
          text += part.text;
        } else if (const nlohmann::json* value = find(input, *part.pointer)) {
          text += as_text(*value);
        }
      }
      out = std::move(text);
      return {};
    }
    case Node::Kind::converted: {
      const nlohmann::json* value = find(input, node.pointer);
      if (value == nullptr || value->is_null()) {
        if (node.fallback) {
          out = *node.fallback;
        } else {
          if (value == nullptr) {
            missing.push_back(node.name);
          }
          out = nullptr;
        }
        return {};
      }
      auto converted = convert(*value, node.as);
      if (!converted) {
        return fail(Errc::parse, fmt::format("{}: {} is not a {}", node.name, as_text(*value).substr(0, 80),
                                             node.as == As::number    ? "number"
                                             : node.as == As::boolean ? "bool"
                                             : node.as == As::time    ? "time"
                                                                      : "string"));
      }
      out = std::move(*converted);
      return {};
    }
    case Node::Kind::object: {
      out = nlohmann::json::object();
      for (const auto& [key, child] : node.children) {
        nlohmann::json value;
        if (auto ok = apply_node(child, input, value, missing); !ok) {
          return ok;
        }
        out[key] = std::move(value);
      }
      return {};
    }
  }
  return {};
}

Result<Mapping::Outcome> Mapping::apply(const nlohmann::json& input) const {
  Outcome outcome;
  if (auto ok = apply_node(m_root, input, outcome.record, outcome.missing); !ok) {
    return tl::unexpected(ok.error());
  }
  return outcome;
}

void Mapping::collect(const Node& node, std::vector<std::string>& out) {
  if (node.kind != Node::Kind::object) {
    out.push_back(node.name);
    return;
  }
  for (const auto& [key, child] : node.children) {
    collect(child, out);
  }
}

std::vector<std::string> Mapping::fields() const {
  std::vector<std::string> out;
  collect(m_root, out);
  return out;
}

}  // namespace vibe::core::pipeline
