#include "core/config.hpp"

#include "core/cron.hpp"
#include "core/hash.hpp"
#include "core/pipeline/filter.hpp"
#include "core/pipeline/mapping.hpp"
#include "core/sink.hpp"
#include "core/source.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <tuple>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace vibe::core {

namespace fs = std::filesystem;

namespace {

// serve.http: "off", or IP:PORT ("127.0.0.1:8787", "[::1]:8787"); a message when it is neither.
std::optional<std::string> check_listen_address(const std::string& text) {
  if (text == "off") {
    return std::nullopt;
  }
  const auto colon = text.rfind(':');
  std::string host = colon == std::string::npos ? text : text.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
  const bool v6 = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (v6) {
    host = host.substr(1, host.size() - 2);
  }
  unsigned char addr[sizeof(in6_addr)];
  const bool ip = ::inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), addr) == 1;
  const bool port_ok = !port.empty() && port.size() <= 5 &&
                       port.find_first_not_of("0123456789") == std::string::npos && std::stoul(port) <= 65535;
  if (!ip || !port_ok) {
    return fmt::format("'{}' is not IP:PORT (e.g. 127.0.0.1:8787, [::1]:8787, 0.0.0.0:8787) or off", text);
  }
  return std::nullopt;
}

}  // namespace

namespace {

constexpr OptionSpec k_buffer_options[] = {
    {"max_events", OptionType::integer, "1000", "commit a batch once this many events wait"},
    {"max_delay", OptionType::delay, "5ms",
     "commit a batch once its oldest event waited this long (0s: as soon as the previous commit ends)"},
    {"max_pending", OptionType::integer, "50000", "refuse ingest while more than this many events wait"},
};

constexpr OptionSpec k_serve_options[] = {
    {"socket", OptionType::string, "", "control socket path (default DATA_DIR/vibe.sock)"},
    {"http", OptionType::string, "", "HTTP endpoint HOST:PORT (webhooks, /metrics, /healthz; default 127.0.0.1:8787), or off"},
    {"http_max_connections", OptionType::integer, "4096", "HTTP connections open at once; more are closed at once"},
    {"http_header_timeout", OptionType::duration, "10s", "time a client has to send a request's head"},
    {"http_body_timeout", OptionType::duration, "30s", "time a client has to send a request's body"},
    {"shutdown_timeout", OptionType::duration, "30s", "on SIGTERM, how long running jobs may take to finish"},
    {"max_restarts", OptionType::integer, "10", "restarts within restart_window before a source is failed"},
    {"restart_window", OptionType::duration, "60s", "the window max_restarts counts in"},
    {"restart_backoff", OptionType::duration, "1s", "delay before a crashed source's first restart"},
    {"restart_backoff_max", OptionType::duration, "60s", "longest delay between restarts"},
    {"breaker_failures", OptionType::integer, "5", "consecutive failed polls that open a source's breaker"},
    {"breaker_cooldown", OptionType::duration, "5m", "how long an open breaker waits before one probe"},
};

constexpr OptionSpec k_stream_options[] = {
    {"title", OptionType::string, "", "a human-readable name"},
    {"sources", OptionType::string, "", "ids of the sources on this timeline"},
};

constexpr OptionSpec k_fetch_options[] = {
    {"per_host", OptionType::integer, "2", "HTTP requests in flight to one host (scheme, name, port) at once"},
    {"host_spacing", OptionType::delay, "0s", "least time between the starts of two requests to one host"},
    {"ca_bundle", OptionType::string, "", "PEM file of CA certificates to trust for https (default: the system's)"},
};

const std::vector<std::string> k_top_level_keys = {"version", "data_dir", "store",  "buffer",    "serve", "fetch",
                                                   "sources", "streams",  "queues", "pipelines", "cron"};

// Collects every mistake in the file, so one run reports them all, in file
// order.
class Diagnostics {
public:
  explicit Diagnostics(std::string file) : m_file(std::move(file)) {}

  void add(const YAML::Mark& mark, std::string message) {
    if (mark.is_null()) {
      m_entries.push_back({0, 0, fmt::format("{}: {}", m_file, message)});
    } else {
      m_entries.push_back({mark.line + 1, mark.column + 1,
                           fmt::format("{}:{}:{}: {}", m_file, mark.line + 1, mark.column + 1, message)});
    }
  }

  bool empty() const { return m_entries.empty(); }
  std::size_t count() const { return m_entries.size(); }

  std::string join() const {
    std::vector<Entry> sorted = m_entries;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    std::string out;
    for (const auto& entry : sorted) {
      if (!out.empty()) {
        out += '\n';
      }
      out += entry.text;
    }
    return out;
  }

private:
  struct Entry {
    int line;
    int column;
    std::string text;
  };
  std::string m_file;
  std::vector<Entry> m_entries;
};

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string guess = nearest(word, candidates);
  return guess.empty() ? std::string{} : fmt::format(" (did you mean '{}'?)", guess);
}

std::string node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "nothing";
    default: return "an undefined value";
  }
}

bool is_slug(std::string_view id) {
  if (id.empty() || id.size() > 64 || !std::isalnum(static_cast<unsigned char>(id[0]))) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// Expands ${VAR} in `text`; "$$" is a literal '$'. Unset variables are
// reported through `diag` and expand to "".
std::string expand_env(const std::string& text, const YAML::Mark& mark, const EnvLookup& env,
                       Diagnostics& diag) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out += text[i];
      continue;
    }
    const auto close = text.find('}', i + 2);
    if (close == std::string::npos) {
      diag.add(mark, fmt::format("unterminated '${{' in '{}'", text));
      return out;
    }
    const std::string name = text.substr(i + 2, close - i - 2);
    const bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                       });
    if (!valid) {
      diag.add(mark, fmt::format("'${{{}}}' is not a valid variable reference", name));
    } else if (auto value = env(name)) {
      out += *value;
    } else {
      diag.add(mark, fmt::format("environment variable {} is not set", name));
    }
    i = close;
  }
  return out;
}

fs::path resolve_path(const fs::path& base_dir, const std::string& text) {
  fs::path p{text};
  return (p.is_absolute() ? p : base_dir / p).lexically_normal();
}

// file:relative/path is resolved against the config directory, so examples
// can ship their feeds next to their vibe.yaml.
std::string resolve_file_url(const fs::path& base_dir, const std::string& url) {
  if (url.rfind("file:", 0) != 0 || url.rfind("file://", 0) == 0) {
    return url;
  }
  return "file://" + resolve_path(base_dir, url.substr(5)).string();
}

// A plain (unquoted) YAML scalar as the JSON value it reads as: null,
// true/false, a number, else a string. Quoted scalars stay strings.
nlohmann::json typed_scalar(const YAML::Node& node, const std::string& text) {
  if (node.Tag() == "!") {
    return text;
  }
  if (text == "null" || text == "~" || text.empty()) {
    return nullptr;
  }
  if (auto b = parse_bool(text)) {
    return *b;
  }
  auto number = nlohmann::json::parse(text, nullptr, false);
  if (!number.is_discarded() && number.is_number()) {
    return number;
  }
  return text;
}

// A list, map or json option's YAML as JSON: with ${VAR} expanded (for use)
// or as written (for display). Mistakes go to `diag` (only when expanding,
// so each is reported once).
std::optional<nlohmann::json> structured_option(const YAML::Node& node, OptionType type, const std::string& where,
                                                const EnvLookup& env, Diagnostics& diag, bool expand) {
  Diagnostics quiet{""};
  Diagnostics& d = expand ? diag : quiet;
  auto scalar_text = [&](const YAML::Node& n) {
    return expand ? expand_env(n.Scalar(), n.Mark(), env, d) : n.Scalar();
  };
  auto expect = [&](const YAML::Node& n, const char* wanted) {
    d.add(n.Mark(), fmt::format("{}: expected {}, got {}", where, wanted, node_kind(n)));
    return std::nullopt;
  };
  switch (type) {
    case OptionType::list: {
      nlohmann::json out = nlohmann::json::array();
      if (node.IsScalar()) {
        out.push_back(scalar_text(node));
        return out;
      }
      if (!node.IsSequence()) {
        return expect(node, "a list of strings");
      }
      for (const auto& item : node) {
        if (!item.IsScalar()) {
          return expect(item, "a string");
        }
        out.push_back(scalar_text(item));
      }
      return out;
    }
    case OptionType::map: {
      nlohmann::json out = nlohmann::json::object();
      if (!node.IsMap()) {
        return expect(node, "a mapping of names to strings");
      }
      for (const auto& kv : node) {
        if (!kv.second.IsScalar()) {
          return expect(kv.second, "a string");
        }
        out[kv.first.Scalar()] = scalar_text(kv.second);
      }
      return out;
    }
    default: {
      std::function<std::optional<nlohmann::json>(const YAML::Node&, int)> convert =
          [&](const YAML::Node& n, int depth) -> std::optional<nlohmann::json> {
        if (depth > 64) {
          d.add(n.Mark(), fmt::format("{}: nested too deeply", where));
          return std::nullopt;
        }
        if (n.IsScalar()) {
          return typed_scalar(n, scalar_text(n));
        }
        if (n.IsNull()) {
          return nlohmann::json(nullptr);
        }
        if (n.IsSequence()) {
          nlohmann::json out = nlohmann::json::array();
          for (const auto& item : n) {
            auto v = convert(item, depth + 1);
            if (!v) {
              return std::nullopt;
            }
            out.push_back(std::move(*v));
          }
          return out;
        }
        nlohmann::json out = nlohmann::json::object();
        for (const auto& kv : n) {
          auto v = convert(kv.second, depth + 1);
          if (!v) {
            return std::nullopt;
          }
          out[kv.first.Scalar()] = std::move(*v);
        }
        return out;
      };
      return convert(node, 0);
    }
  }
}

// Checks the keys of `node` (a mapping) against `table` and fills `out` with
// every row's value or default. `what` names the block in messages.
void read_options(const YAML::Node& node, std::span<const OptionSpec> table, std::string_view what,
                  const std::vector<std::string>& extra_keys, const EnvLookup& env,
                  const fs::path& base_dir, Diagnostics& diag, OptionValues& out) {
  std::vector<std::string> names(extra_keys);
  for (const auto& row : table) {
    names.emplace_back(row.name);
  }
  std::vector<std::string> given;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    given.push_back(key);
    if (std::find(extra_keys.begin(), extra_keys.end(), key) != extra_keys.end()) {
      continue;
    }
    const auto row = std::find_if(table.begin(), table.end(),
                                  [&](const OptionSpec& spec) { return key == spec.name; });
    if (row == table.end()) {
      diag.add(kv.first.Mark(), fmt::format("{}: unknown key '{}'{}", what, key, did_you_mean(key, names)));
      continue;
    }
    if (row->type == OptionType::list || row->type == OptionType::map || row->type == OptionType::json) {
      const std::string where = fmt::format("{}.{}", what, key);
      auto value = structured_option(kv.second, row->type, where, env, diag, true);
      auto display = structured_option(kv.second, row->type, where, env, diag, false);
      if (value && display) {
        out.set(key, OptionValue{value->dump(), display->dump()});
      }
      continue;
    }
    if (!kv.second.IsScalar()) {
      diag.add(kv.second.Mark(), fmt::format("{}.{}: expected a {}, got {}", what, key,
                                             option_type_name(row->type), node_kind(kv.second)));
      continue;
    }
    const std::string raw = kv.second.Scalar();
    std::string value = expand_env(raw, kv.second.Mark(), env, diag);
    if (row->type == OptionType::url) {
      value = resolve_file_url(base_dir, value);
    } else if (row->type == OptionType::path && !value.empty()) {
      value = resolve_path(base_dir, value).string();
    }
    if (auto problem = check_option_value(row->type, value)) {
      // Never echo an expanded secret: report the text as written.
      const bool from_env = raw.find("${") != std::string::npos;
      diag.add(kv.second.Mark(), fmt::format("{}.{}: {}", what, key,
                                             from_env ? fmt::format("value of '{}' is not a valid {}", raw,
                                                                    option_type_name(row->type))
                                                      : *problem));
      continue;
    }
    out.set(key, OptionValue{std::move(value), raw});
  }
  for (const auto& row : table) {
    if (out.has(row.name) || std::find(given.begin(), given.end(), row.name) != given.end()) {
      continue;  // set, or given but invalid (already reported)
    }
    if (row.default_value == k_required) {
      diag.add(node.Mark(), fmt::format("{}: missing required key '{}' ({})", what, row.name, row.help));
    } else if (row.type == OptionType::path && *row.default_value != '\0') {
      // A default path means the same as written: relative to the config file.
      out.set(row.name, OptionValue{resolve_path(base_dir, row.default_value).string(), row.default_value});
    } else {
      out.set(row.name, OptionValue{row.default_value, row.default_value});
    }
  }
}

// The body of a source (`sources.ID`, or a pipeline's inline `from:`):
// its type and the options of that kind. `key_mark` is where its id is.
void read_source_body(const YAML::Node& body, const YAML::Mark& key_mark, const std::string& what,
                      const EnvLookup& env, const fs::path& base_dir, Diagnostics& diag, SourceConfig& source) {
  std::vector<std::string> kinds;
  for (const auto& kind : source_kinds()) {
    kinds.emplace_back(kind.name);
  }
  if (!body.IsMap()) {
    diag.add(body.Mark(), fmt::format("{}: expected a mapping with at least 'type', got {}", what, node_kind(body)));
    return;
  }
  const YAML::Node type = body["type"];
  if (!type) {
    diag.add(body.Mark(), fmt::format("{}: missing required key 'type' (one of: {})", what, fmt::join(kinds, ", ")));
    return;
  }
  source.type = type.IsScalar() ? type.Scalar() : "";
  const SourceKind* kind = find_source_kind(source.type);
  if (kind == nullptr) {
    diag.add(type.Mark(), fmt::format("{}.type: unknown source type '{}'{}", what, source.type,
                                      did_you_mean(source.type, kinds)));
    return;
  }
  const std::size_t errors = diag.count();
  read_options(body, kind->options, what, {"type"}, env, base_dir, diag, source.options);
  if (kind->check != nullptr && diag.count() == errors) {
    if (auto problem = kind->check(source.options)) {
      diag.add(key_mark, fmt::format("{}: {}", what, *problem));
    }
  }
}

void read_sources(const YAML::Node& node, const EnvLookup& env, const fs::path& base_dir,
                  Diagnostics& diag, Config& config) {
  if (!node.IsMap()) {
    diag.add(node.Mark(), fmt::format("sources: expected a mapping of id to source, got {}", node_kind(node)));
    return;
  }
  for (const auto& kv : node) {
    SourceConfig source;
    source.id = kv.first.Scalar();
    source.line = kv.first.Mark().line + 1;
    const std::string what = "sources." + source.id;
    if (!is_slug(source.id)) {
      diag.add(kv.first.Mark(), fmt::format("{}: id must be letters, digits, '-', '_' or '.'", what));
    }
    read_source_body(kv.second, kv.first.Mark(), what, env, base_dir, diag, source);
    // Kept even when invalid, so streams that name it are not reported too.
    config.sources.push_back(std::move(source));
  }
}

void read_streams(const YAML::Node& node, Diagnostics& diag, Config& config) {
  if (!node.IsMap()) {
    diag.add(node.Mark(), fmt::format("streams: expected a mapping of id to stream, got {}", node_kind(node)));
    return;
  }
  std::vector<std::string> source_ids;
  for (const auto& s : config.sources) {
    source_ids.push_back(s.id);
  }
  std::vector<std::string> keys;
  for (const auto& row : k_stream_options) {
    keys.emplace_back(row.name);
  }
  for (const auto& kv : node) {
    StreamConfig stream;
    stream.id = kv.first.Scalar();
    const std::string what = "streams." + stream.id;
    if (!is_slug(stream.id)) {
      diag.add(kv.first.Mark(), fmt::format("{}: id must be letters, digits, '-', '_' or '.'", what));
    }
    const YAML::Node& body = kv.second;
    if (!body.IsMap()) {
      diag.add(body.Mark(), fmt::format("{}: expected a mapping with 'sources', got {}", what, node_kind(body)));
      continue;
    }
    for (const auto& field : body) {
      const std::string key = field.first.Scalar();
      if (key == "title") {
        if (field.second.IsScalar()) {
          stream.title = field.second.Scalar();
        } else {
          diag.add(field.second.Mark(), fmt::format("{}.title: expected a string, got {}", what, node_kind(field.second)));
        }
      } else if (key == "sources") {
        if (!field.second.IsSequence()) {
          diag.add(field.second.Mark(), fmt::format("{}.sources: expected a list of source ids, got {}", what,
                                                    node_kind(field.second)));
          continue;
        }
        for (const auto& item : field.second) {
          const std::string id = item.IsScalar() ? item.Scalar() : "";
          if (config.find_source(id) == nullptr) {
            diag.add(item.Mark(), fmt::format("{}.sources: no source named '{}'{}", what, id,
                                              did_you_mean(id, source_ids)));
            continue;
          }
          stream.sources.push_back(id);
        }
      } else {
        diag.add(field.first.Mark(), fmt::format("{}: unknown key '{}'{}", what, key, did_you_mean(key, keys)));
      }
    }
    config.streams.push_back(std::move(stream));
  }
}

// Where a filter's mistake is in the file: the scalar's position plus the
// column within the expression (one line), past an opening quote.
YAML::Mark filter_mark(const YAML::Node& node, std::size_t column) {
  YAML::Mark mark = node.Mark();
  const std::string& text = node.Scalar();
  const std::size_t offset = std::min(column == 0 ? 0 : column - 1, text.size());
  const auto newlines = static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
  if (newlines > 0 || text.find('\n') != std::string::npos) {
    // A block scalar: its text starts on the line after the indicator.
    const auto line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
    mark.line += newlines + 1;
    mark.column += 2 + static_cast<int>(offset - (line_start == std::string::npos ? 0 : line_start + 1));
    return mark;
  }
  mark.column += static_cast<int>(offset) + (node.Tag() == "!" ? 1 : 0);
  return mark;
}

// The keys of a pipeline (vibe.yaml(5), PIPELINES); each is read by hand
// below, as most are not plain options (from, map, sinks).
const std::vector<std::string> k_pipeline_keys = {"from",   "every",   "cron", "timezone", "execution", "map",
                                                  "filter", "persist", "keep", "stream",   "sinks"};

void read_sinks(const YAML::Node& node, const std::string& what, const EnvLookup& env, const fs::path& base_dir,
                Diagnostics& diag, PipelineConfig& pipeline) {
  if (!node.IsSequence()) {
    diag.add(node.Mark(), fmt::format("{}: expected a list of sinks, got {}", what, node_kind(node)));
    return;
  }
  std::vector<std::string> kinds;
  for (const auto& kind : sink_kinds()) {
    kinds.emplace_back(kind.name);
  }
  std::size_t index = 0;
  for (const auto& item : node) {
    const std::string where = fmt::format("{}[{}]", what, index++);
    if (!item.IsMap()) {
      diag.add(item.Mark(), fmt::format("{}: expected a mapping with 'type', got {}", where, node_kind(item)));
      continue;
    }
    SinkConfig sink;
    sink.line = item.Mark().line + 1;
    const YAML::Node type = item["type"];
    if (!type || !type.IsScalar()) {
      diag.add(item.Mark(), fmt::format("{}: missing required key 'type' (one of: {})", where, fmt::join(kinds, ", ")));
      continue;
    }
    sink.type = type.Scalar();
    const SinkKind* kind = find_sink_kind(sink.type);
    if (kind == nullptr) {
      diag.add(type.Mark(), fmt::format("{}.type: unknown sink type '{}'{}", where, sink.type,
                                        did_you_mean(sink.type, kinds)));
      continue;
    }
    const std::size_t errors = diag.count();
    read_options(item, kind->options, where, {"type"}, env, base_dir, diag, sink.options);
    if (kind->check != nullptr && diag.count() == errors) {
      if (auto problem = kind->check(sink.options)) {
        diag.add(item.Mark(), fmt::format("{}: {}", where, *problem));
      }
    }
    pipeline.sinks.push_back(std::move(sink));
  }
}

void read_pipelines(const YAML::Node& node, const EnvLookup& env, const fs::path& base_dir, Diagnostics& diag,
                    Config& config) {
  if (!node.IsMap()) {
    diag.add(node.Mark(), fmt::format("pipelines: expected a mapping of id to pipeline, got {}", node_kind(node)));
    return;
  }
  const std::vector<std::string>& keys = k_pipeline_keys;
  std::vector<std::string> source_ids;
  for (const auto& s : config.sources) {
    source_ids.push_back(s.id);
  }
  std::vector<std::pair<const YAML::Node, std::size_t>> chained;  // from: pipeline:ID, checked after all are read
  for (const auto& kv : node) {
    PipelineConfig pipeline;
    pipeline.id = kv.first.Scalar();
    pipeline.line = kv.first.Mark().line + 1;
    const std::string what = "pipelines." + pipeline.id;
    if (!is_slug(pipeline.id)) {
      diag.add(kv.first.Mark(), fmt::format("{}: id must be letters, digits, '-', '_' or '.'", what));
    }
    if (config.find_pipeline(pipeline.id) != nullptr) {
      diag.add(kv.first.Mark(), fmt::format("{}: defined twice", what));
    }
    const YAML::Node& body = kv.second;
    if (!body.IsMap()) {
      diag.add(body.Mark(), fmt::format("{}: expected a mapping with at least 'from', got {}", what, node_kind(body)));
      continue;
    }
    for (const auto& field : body) {
      const std::string key = field.first.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        diag.add(field.first.Mark(), fmt::format("{}: unknown key '{}'{}", what, key, did_you_mean(key, keys)));
      }
    }
    auto scalar = [&](const char* key) -> std::optional<std::pair<std::string, YAML::Node>> {
      const YAML::Node value = body[key];
      if (!value) {
        return std::nullopt;
      }
      if (!value.IsScalar()) {
        diag.add(value.Mark(), fmt::format("{}.{}: expected a string, got {}", what, key, node_kind(value)));
        return std::nullopt;
      }
      return std::pair{value.Scalar(), value};
    };

    // from: an inline source, a source id, or pipeline:ID.
    const YAML::Node from = body["from"];
    if (!from) {
      diag.add(body.Mark(), fmt::format("{}: missing required key 'from' (an inline source, a source id, or "
                                        "pipeline:ID)", what));
    } else if (from.IsMap()) {
      SourceConfig source;
      source.id = pipeline.topic_source();
      source.line = from.Mark().line + 1;
      if (from["every"] || from["every_min"] || from["every_max"]) {
        const YAML::Node at = from["every"] ? from["every"] : from["every_min"] ? from["every_min"] : from["every_max"];
        diag.add(at.Mark(), fmt::format("{}.from: a pipeline's schedule is its own: put every: on the pipeline", what));
      }
      read_source_body(from, from.Mark(), what + ".from", env, base_dir, diag, source);
      pipeline.source = std::move(source);
    } else if (from.IsScalar() && from.Scalar().rfind("pipeline:", 0) == 0) {
      pipeline.from_pipeline = from.Scalar().substr(9);
      chained.emplace_back(from, config.pipelines.size());
    } else if (from.IsScalar()) {
      const SourceConfig* source = config.find_source(from.Scalar());
      if (source == nullptr) {
        diag.add(from.Mark(), fmt::format("{}.from: no source named '{}'{}", what, from.Scalar(),
                                          did_you_mean(from.Scalar(), source_ids)));
      } else {
        pipeline.source = *source;
      }
    } else {
      diag.add(from.Mark(), fmt::format("{}.from: expected a source (a mapping), a source id or pipeline:ID, got {}",
                                        what, node_kind(from)));
    }

    if (auto every = scalar("every")) {
      auto d = parse_duration(every->first);
      if (!d || d->count() <= 0) {
        diag.add(every->second.Mark(),
                 fmt::format("{}.every: {}", what, d ? "must be greater than zero" : d.error().message));
      } else {
        pipeline.every = *d;
      }
    }
    if (auto timezone = scalar("timezone")) {
      pipeline.timezone = timezone->first;
    }
    if (auto cron = scalar("cron")) {
      pipeline.cron = cron->first;
      if (auto schedule = CronSchedule::parse(pipeline.cron, pipeline.timezone); !schedule) {
        diag.add(cron->second.Mark(), fmt::format("{}.cron: {}", what, schedule.error().message));
      }
      if (pipeline.every.count() > 0) {
        diag.add(cron->second.Mark(), fmt::format("{}: give every or cron, not both", what));
      }
    }
    if (auto execution = scalar("execution")) {
      if (execution->first == "worker") {
        pipeline.execution = Execution::worker;
        if (pipeline.every.count() == 0) {
          diag.add(execution->second.Mark(), fmt::format("{}.execution: worker runs on an interval: set every", what));
        }
      } else if (execution->first != "job") {
        diag.add(execution->second.Mark(),
                 fmt::format("{}.execution: want job or worker, got '{}'", what, execution->first));
      }
    }
    if (pipeline.source && is_pushed_kind(pipeline.source->type) &&
        (pipeline.every.count() > 0 || !pipeline.cron.empty())) {
      diag.add(body["every"] ? body["every"].Mark() : body["cron"].Mark(),
               fmt::format("{}: its source is a {}: its records arrive when pushed, on no schedule", what,
                           pipeline.source->type));
    }
    if (const YAML::Node map = body["map"]) {
      if (auto spec = structured_option(map, OptionType::json, what + ".map", env, diag, true)) {
        if (!spec->is_object()) {
          diag.add(map.Mark(), fmt::format("{}.map: expected a mapping of output field to path, got {}", what,
                                           node_kind(map)));
        } else if (auto mapping = pipeline::Mapping::compile(*spec); !mapping) {
          diag.add(map.Mark(), fmt::format("{}.map.{}", what, mapping.error().message));
        } else {
          pipeline.map = std::move(*spec);
        }
      }
    }
    if (auto filter = scalar("filter")) {
      auto parsed = pipeline::Filter::parse(filter->first);
      if (!parsed) {
        diag.add(filter_mark(filter->second, parsed.error().column),
                 fmt::format("{}.filter: {}", what, parsed.error().message));
      } else {
        pipeline.filter = filter->first;
      }
    }
    if (auto persist = scalar("persist")) {
      if (auto b = parse_bool(persist->first)) {
        pipeline.persist = *b;
      } else {
        diag.add(persist->second.Mark(), fmt::format("{}.persist: want true or false, got '{}'", what, persist->first));
      }
    }
    if (auto keep = scalar("keep")) {
      if (keep->first == "forever") {
        pipeline.keep = Millis{0};
      } else if (auto d = parse_duration(keep->first); !d || d->count() <= 0) {
        diag.add(keep->second.Mark(), fmt::format("{}.keep: want a duration such as 30d, or forever", what));
      } else {
        pipeline.keep = *d;
      }
    }
    if (auto stream = scalar("stream")) {
      pipeline.stream = stream->first;
      if (config.find_stream(pipeline.stream) == nullptr) {
        std::vector<std::string> ids;
        for (const auto& s : config.streams) {
          ids.push_back(s.id);
        }
        diag.add(stream->second.Mark(), fmt::format("{}.stream: no stream named '{}'{}", what, pipeline.stream,
                                                    did_you_mean(pipeline.stream, ids)));
      }
    }
    if (const YAML::Node sinks = body["sinks"]) {
      read_sinks(sinks, what + ".sinks", env, base_dir, diag, pipeline);
    }
    config.pipelines.push_back(std::move(pipeline));
  }

  // Chained pipelines: the upstream exists, and following `from` never loops.
  std::vector<std::string> ids;
  for (const auto& p : config.pipelines) {
    ids.push_back(p.id);
  }
  for (const auto& [from, index] : chained) {
    PipelineConfig& pipeline = config.pipelines[index];
    const std::string what = "pipelines." + pipeline.id;
    if (config.find_pipeline(pipeline.from_pipeline) == nullptr) {
      diag.add(from.Mark(), fmt::format("{}.from: no pipeline named '{}'{}", what, pipeline.from_pipeline,
                                        did_you_mean(pipeline.from_pipeline, ids)));
      continue;
    }
    if (pipeline.every.count() > 0 || !pipeline.cron.empty()) {
      diag.add(from.Mark(), fmt::format("{}: a chained pipeline runs when pipeline '{}' has new records: drop "
                                        "every/cron", what, pipeline.from_pipeline));
    }
    std::string at = pipeline.from_pipeline;
    for (std::size_t steps = 0; !at.empty() && steps <= config.pipelines.size(); ++steps) {
      if (at == pipeline.id) {
        diag.add(from.Mark(), fmt::format("{}.from: pipelines chained in a loop", what));
        break;
      }
      const PipelineConfig* up = config.find_pipeline(at);
      at = up == nullptr ? std::string{} : up->from_pipeline;
    }
  }
}

// YAML to JSON for job args: scalars become numbers or booleans when they
// read as such (YAML's core schema), strings otherwise.
nlohmann::json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) {
        out[kv.first.Scalar()] = to_json(kv.second);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) {
        out.push_back(to_json(item));
      }
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() == "!") {
        return text;  // quoted in the file: always a string
      }
      if (auto b = parse_bool(text)) {
        return *b;
      }
      char* end = nullptr;
      const long long i = std::strtoll(text.c_str(), &end, 10);
      if (!text.empty() && end == text.c_str() + text.size()) {
        return i;
      }
      const double d = std::strtod(text.c_str(), &end);
      if (!text.empty() && end == text.c_str() + text.size()) {
        return d;
      }
      return text;
    }
    default:
      return nullptr;
  }
}

void read_queues(const YAML::Node& node, Diagnostics& diag, Config& config) {
  if (!node.IsMap()) {
    diag.add(node.Mark(), fmt::format("queues: expected a mapping of queue name to concurrency, got {}", node_kind(node)));
    return;
  }
  for (const auto& kv : node) {
    const std::string name = kv.first.Scalar();
    if (!is_slug(name)) {
      diag.add(kv.first.Mark(), fmt::format("queues.{}: a queue name is letters, digits, '-', '_' or '.'", name));
      continue;
    }
    const std::string text = kv.second.IsScalar() ? kv.second.Scalar() : "";
    char* end = nullptr;
    const long long n = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || end != text.c_str() + text.size() || n < 1 || n > 1000) {
      diag.add(kv.second.Mark(), fmt::format("queues.{}: concurrency must be an integer from 1 to 1000", name));
      continue;
    }
    config.queues[name] = static_cast<std::size_t>(n);
  }
}

void read_cron(const YAML::Node& node, const EnvLookup& env, const std::vector<std::string>* workers,
               Diagnostics& diag, Config& config) {
  if (!node.IsSequence()) {
    diag.add(node.Mark(), fmt::format("cron: expected a list of entries, got {}", node_kind(node)));
    return;
  }
  static const std::vector<std::string> k_keys = {"name",  "schedule", "timezone", "catch_up", "command",
                                                  "run",   "worker",   "args",     "queue",    "priority",
                                                  "max_attempts", "timeout"};
  std::size_t index = 0;
  for (const auto& item : node) {
    const std::string what = fmt::format("cron[{}]", index++);
    if (!item.IsMap()) {
      diag.add(item.Mark(), fmt::format("{}: expected a mapping with 'schedule', got {}", what, node_kind(item)));
      continue;
    }
    CronConfig entry;
    int actions = 0;
    bool ok = true;
    auto scalar = [&](const YAML::Node& value, std::string_view key) -> std::optional<std::string> {
      if (!value.IsScalar()) {
        diag.add(value.Mark(), fmt::format("{}.{}: expected a string, got {}", what, key, node_kind(value)));
        ok = false;
        return std::nullopt;
      }
      return expand_env(value.Scalar(), value.Mark(), env, diag);
    };
    for (const auto& kv : item) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& value = kv.second;
      if (std::find(k_keys.begin(), k_keys.end(), key) == k_keys.end()) {
        diag.add(kv.first.Mark(), fmt::format("{}: unknown key '{}'{}", what, key, did_you_mean(key, k_keys)));
        ok = false;
      } else if (key == "args") {
        if (!value.IsMap()) {
          diag.add(value.Mark(), fmt::format("{}.args: expected a mapping, got {}", what, node_kind(value)));
          ok = false;
        } else {
          entry.args = to_json(value).dump();
        }
      } else if (auto text = scalar(value, key)) {
        if (key == "name") {
          entry.name = *text;
        } else if (key == "schedule") {
          entry.schedule = *text;
        } else if (key == "timezone") {
          entry.timezone = *text;
        } else if (key == "catch_up") {
          if (*text != "one" && *text != "none") {
            diag.add(value.Mark(), fmt::format("{}.catch_up: want one or none, got '{}'", what, *text));
            ok = false;
          }
          entry.catch_up_one = *text == "one";
        } else if (key == "command") {
          ++actions;
          entry.worker = "exec";
          entry.args = nlohmann::json{{"shell", *text}}.dump();
        } else if (key == "run" && text->rfind("pipeline:", 0) == 0) {
          ++actions;
          const PipelineConfig* target = config.find_pipeline(text->substr(9));
          if (target == nullptr) {
            diag.add(value.Mark(), fmt::format("{}.run: no pipeline named '{}'", what, text->substr(9)));
            ok = false;
          } else if (target->pushed() || !target->from_pipeline.empty()) {
            diag.add(value.Mark(), fmt::format("{}.run: pipeline '{}' runs when its records arrive, not on a "
                                               "schedule", what, target->id));
            ok = false;
          }
          entry.worker = "pipeline";
          entry.args = nlohmann::json{{"pipeline", text->substr(9)}}.dump();
        } else if (key == "run") {
          ++actions;
          const SourceConfig* target = text->rfind("source:", 0) == 0 ? config.find_source(text->substr(7)) : nullptr;
          if (target == nullptr) {
            diag.add(value.Mark(), fmt::format("{}.run: want source:<id> or pipeline:<id>, got '{}'", what, *text));
            ok = false;
          } else if (is_pushed_kind(target->type)) {
            diag.add(value.Mark(), fmt::format("{}.run: source '{}' is a {}: it is pushed, not polled", what,
                                               target->id, target->type));
            ok = false;
          }
          entry.worker = "poll";
          entry.queue = "poll";
          entry.args = nlohmann::json{{"source", text->size() > 7 ? text->substr(7) : ""}}.dump();
        } else if (key == "worker") {
          ++actions;
          entry.worker = *text;
          if (workers != nullptr && std::find(workers->begin(), workers->end(), *text) == workers->end()) {
            diag.add(value.Mark(), fmt::format("{}.worker: no worker named '{}'{}", what, *text,
                                               did_you_mean(*text, *workers)));
            ok = false;
          }
        } else if (key == "queue") {
          entry.queue = *text;
        } else if (key == "priority" || key == "max_attempts") {
          char* end = nullptr;
          const long long n = std::strtoll(text->c_str(), &end, 10);
          const bool priority = key == "priority";
          if (text->empty() || end != text->c_str() + text->size() || (priority && (n < 0 || n > 9)) ||
              (!priority && (n < 1 || n > 1000))) {
            diag.add(value.Mark(), fmt::format("{}.{}: want an integer {}", what, key, priority ? "0-9" : "1-1000"));
            ok = false;
          } else {
            (priority ? entry.priority : entry.max_attempts) = static_cast<int>(n);
          }
        } else if (key == "timeout") {
          auto d = parse_duration(*text);
          if (!d || d->count() <= 0) {
            diag.add(value.Mark(), fmt::format("{}.timeout: {}", what, d ? "must be greater than zero" : d.error().message));
            ok = false;
          } else {
            entry.timeout_ms = d->count();
          }
        }
      }
    }
    if (!item["schedule"]) {
      diag.add(item.Mark(), fmt::format("{}: missing required key 'schedule'", what));
      ok = false;
    } else if (ok || !entry.schedule.empty()) {
      auto schedule = CronSchedule::parse(entry.schedule, entry.timezone);
      if (!schedule) {
        const YAML::Node& at = schedule.error().message.find("time zone") != std::string::npos && item["timezone"]
                                   ? item["timezone"]
                                   : item["schedule"];
        diag.add(at.Mark(), fmt::format("{}: {}", what, schedule.error().message));
        ok = false;
      }
    }
    if (actions != 1) {
      diag.add(item.Mark(), fmt::format("{}: give exactly one of 'command', 'run' or 'worker'", what));
      ok = false;
    }
    if (entry.name.empty()) {
      entry.name = "cron-" + sha256_hex(entry.schedule + '\x1f' + entry.timezone + '\x1f' + entry.worker + '\x1f' +
                                        entry.args).substr(0, 12);
    }
    if (ok) {
      config.cron.push_back(std::move(entry));
    }
  }
}

std::string scalar_or_report(const YAML::Node& node, std::string_view what, Diagnostics& diag) {
  if (!node.IsScalar()) {
    diag.add(node.Mark(), fmt::format("{}: expected a string, got {}", what, node_kind(node)));
    return {};
  }
  return node.Scalar();
}

}  // namespace

const SourceConfig* Config::find_source(std::string_view id) const {
  const auto it = std::find_if(sources.begin(), sources.end(), [&](const auto& s) { return s.id == id; });
  return it == sources.end() ? nullptr : &*it;
}

const PipelineConfig* Config::find_pipeline(std::string_view id) const {
  const auto it = std::find_if(pipelines.begin(), pipelines.end(), [&](const auto& p) { return p.id == id; });
  return it == pipelines.end() ? nullptr : &*it;
}

std::vector<const PipelineConfig*> Config::downstream_of(std::string_view id) const {
  std::vector<const PipelineConfig*> out;
  for (const auto& p : pipelines) {
    if (p.from_pipeline == id) {
      out.push_back(&p);
    }
  }
  return out;
}

bool PipelineConfig::pushed() const {
  return source && is_pushed_kind(source->type);
}

const StreamConfig* Config::find_stream(std::string_view id) const {
  const auto it = std::find_if(streams.begin(), streams.end(), [&](const auto& s) { return s.id == id; });
  return it == streams.end() ? nullptr : &*it;
}

std::string Config::stream_of(std::string_view source_id) const {
  for (const auto& stream : streams) {
    if (std::find(stream.sources.begin(), stream.sources.end(), source_id) != stream.sources.end()) {
      return stream.id;
    }
  }
  return {};
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string{name}.c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>{value};
  };
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 3;
  for (const auto& candidate : candidates) {
    std::vector<std::size_t> row(candidate.size() + 1);
    for (std::size_t j = 0; j <= candidate.size(); ++j) {
      row[j] = j;
    }
    for (std::size_t i = 1; i <= word.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= candidate.size(); ++j) {
        const std::size_t above = row[j];
        const std::size_t cost = std::tolower(static_cast<unsigned char>(word[i - 1])) ==
                                         std::tolower(static_cast<unsigned char>(candidate[j - 1]))
                                     ? 0
                                     : 1;
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
        diagonal = above;
      }
    }
    const std::size_t distance = row[candidate.size()];
    // At most two edits, and at most half the word: "z" suggests nothing.
    if (distance < best_distance && distance * 2 <= word.size()) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

Result<Config> parse_config(std::string_view text, const fs::path& path, const EnvLookup& env,
                            const std::vector<std::string>* workers) {
  const fs::path absolute = fs::absolute(path).lexically_normal();
  const fs::path base_dir = absolute.parent_path();
  const std::string shown = path.string();
  Diagnostics diag{shown};

  YAML::Node root;
  try {
    root = YAML::Load(std::string{text});
  } catch (const YAML::ParserException& e) {
    diag.add(e.mark, fmt::format("not valid YAML: {}", e.msg));
    return fail(Errc::config, diag.join());
  }
  Config config;
  config.path = absolute;
  if (root.IsNull()) {
    root = YAML::Node(YAML::NodeType::Map);
  }
  if (!root.IsMap()) {
    diag.add(root.Mark(), fmt::format("expected a mapping at the top level, got {}", node_kind(root)));
    return fail(Errc::config, diag.join());
  }

  std::vector<std::string> all_keys = k_top_level_keys;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (std::find(k_top_level_keys.begin(), k_top_level_keys.end(), key) != k_top_level_keys.end()) {
      continue;
    }
    diag.add(kv.first.Mark(), fmt::format("unknown top-level key '{}'{}", key, did_you_mean(key, all_keys)));
  }

  if (const YAML::Node version = root["version"]) {
    if (!version.IsScalar() || version.Scalar() != "1") {
      diag.add(version.Mark(), "version: this vibe reads version 1 files");
    }
  }
  std::string data_dir = ".vibe";
  if (const YAML::Node node = root["data_dir"]) {
    data_dir = expand_env(scalar_or_report(node, "data_dir", diag), node.Mark(), env, diag);
  }
  config.data_dir = resolve_path(base_dir, data_dir);
  config.store = "sqlite:" + (fs::path{data_dir} / "vibe.db").string();
  config.sqlite_path = config.data_dir / "vibe.db";
  if (const YAML::Node node = root["store"]) {
    const std::string store = expand_env(scalar_or_report(node, "store", diag), node.Mark(), env, diag);
    if (store.rfind("sqlite:", 0) == 0 && store.size() > 7) {
      config.store = node.Scalar();
      config.sqlite_path = resolve_path(base_dir, store.substr(7));
    } else if (store.rfind("postgres://", 0) == 0 || store.rfind("postgresql://", 0) == 0) {
      diag.add(node.Mark(), "store: PostgreSQL is not supported by this version yet; use sqlite:PATH");
    } else if (!store.empty()) {
      diag.add(node.Mark(), fmt::format("store: '{}' is not a store URL (want sqlite:PATH)", node.Scalar()));
    }
  }
  if (const YAML::Node node = root["buffer"]) {
    if (!node.IsMap()) {
      diag.add(node.Mark(), fmt::format("buffer: expected a mapping, got {}", node_kind(node)));
    } else {
      OptionValues values;
      read_options(node, k_buffer_options, "buffer", {}, env, base_dir, diag, values);
      if (values.has("max_events") && values.has("max_delay") && values.has("max_pending")) {
        config.buffer.max_events = static_cast<std::size_t>(std::max<std::int64_t>(1, values.integer("max_events")));
        config.buffer.max_delay = values.duration("max_delay");
        config.buffer.max_pending = static_cast<std::size_t>(std::max<std::int64_t>(1, values.integer("max_pending")));
      }
    }
  }
  if (const YAML::Node node = root["fetch"]) {
    if (!node.IsMap()) {
      diag.add(node.Mark(), fmt::format("fetch: expected a mapping, got {}", node_kind(node)));
    } else {
      OptionValues values;
      read_options(node, k_fetch_options, "fetch", {}, env, base_dir, diag, values);
      if (values.all().size() == std::size(k_fetch_options)) {
        config.fetch.per_host = static_cast<int>(std::clamp<std::int64_t>(values.integer("per_host"), 1, 1000));
        config.fetch.host_spacing = values.duration("host_spacing");
        if (!values.get("ca_bundle").empty()) {
          config.fetch.ca_bundle = resolve_path(base_dir, values.get("ca_bundle"));
        }
      }
    }
  }
  config.serve.socket = config.data_dir / "vibe.sock";
  if (const YAML::Node node = root["serve"]) {
    if (!node.IsMap()) {
      diag.add(node.Mark(), fmt::format("serve: expected a mapping, got {}", node_kind(node)));
    } else {
      OptionValues values;
      read_options(node, k_serve_options, "serve", {}, env, base_dir, diag, values);
      if (values.all().size() == std::size(k_serve_options)) {
        ServeConfig& serve = config.serve;
        if (!values.get("socket").empty()) {
          serve.socket = resolve_path(base_dir, values.get("socket"));
        }
        serve.shutdown_timeout = values.duration("shutdown_timeout");
        serve.max_restarts = std::max<std::int64_t>(0, values.integer("max_restarts"));
        serve.restart_window = values.duration("restart_window");
        serve.restart_backoff = values.duration("restart_backoff");
        serve.restart_backoff_max = std::max(serve.restart_backoff, values.duration("restart_backoff_max"));
        serve.breaker_failures = std::max<std::int64_t>(1, values.integer("breaker_failures"));
        serve.breaker_cooldown = values.duration("breaker_cooldown");
        if (!values.get("http").empty()) {
          serve.http = values.get("http");
          serve.http_explicit = true;
          if (auto problem = check_listen_address(serve.http)) {
            diag.add(node["http"].Mark(), fmt::format("serve.http: {}", *problem));
          }
        }
        serve.http_max_connections =
            static_cast<std::size_t>(std::max<std::int64_t>(1, values.integer("http_max_connections")));
        serve.http_header_timeout = values.duration("http_header_timeout");
        serve.http_body_timeout = values.duration("http_body_timeout");
      }
    }
  }
  if (const YAML::Node node = root["sources"]) {
    read_sources(node, env, base_dir, diag, config);
  }
  if (const YAML::Node node = root["streams"]) {
    read_streams(node, diag, config);
  }
  if (const YAML::Node node = root["queues"]) {
    read_queues(node, diag, config);
  }
  if (const YAML::Node node = root["pipelines"]) {
    read_pipelines(node, env, base_dir, diag, config);
  }
  if (const YAML::Node node = root["cron"]) {
    read_cron(node, env, workers, diag, config);
  }
  if (!diag.empty()) {
    return fail(Errc::config, diag.join());
  }
  return config;
}

Result<Config> load_config(const fs::path& path, const EnvLookup& env, const std::vector<std::string>* workers) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    return fail(Errc::config, fmt::format("{}: cannot read config file: {}", path.string(),
                                          std::error_code{errno, std::generic_category()}.message()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, env, workers);
}

fs::path resolve_config_path(const std::optional<std::string>& flag, const EnvLookup& env) {
  if (flag) {
    return *flag;
  }
  if (auto from_env = env("VIBE_CONFIG"); from_env && !from_env->empty()) {
    return *from_env;
  }
  return "vibe.yaml";
}

}  // namespace vibe::core
