#include "core/sources/http_api.hpp"

#include "core/net/fetcher.hpp"
#include "core/sources/http_common.hpp"

#include <fmt/format.h>

#include <cctype>

namespace vibe::core::http_api {

const OptionSpec k_options[27] = {
    {"url", OptionType::url, k_required, "the API URL (http:// or https://)"},
    {"method", OptionType::string, "GET", "HTTP method: GET, POST, PUT, PATCH, DELETE"},
    {"query", OptionType::map, "{}", "query parameters added to the URL (values may use ${VAR})"},
    {"headers", OptionType::map, "{}", "extra request headers (values may use ${VAR})"},
    {"body", OptionType::json, "null", "JSON request body (any YAML value), sent as application/json"},
    VIBE_AUTH_OPTION_ROWS,
    {"items", OptionType::string, "", "JSON Pointer to the array of records; unset: an array document is the "
                                      "records, an object is one record"},
    {"id", OptionType::string, "", "JSON Pointer (in a record) to its id, the dedup key; unset: a hash of the record"},
    {"time", OptionType::string, "", "JSON Pointer to the record's time (RFC 3339, RFC 822 or epoch seconds)"},
    {"url_field", OptionType::string, "", "JSON Pointer to the record's link"},
    {"event_type", OptionType::string, "api_item", "the type of the events"},
    {"paginate", OptionType::string, "none", "none, link (Link: rel=next header), next_field or cursor"},
    {"next", OptionType::string, "/next", "JSON Pointer to the next page's URL (paginate: next_field)"},
    {"cursor", OptionType::string, "/cursor", "JSON Pointer to the next cursor (paginate: cursor)"},
    {"cursor_param", OptionType::string, "cursor", "query parameter that sends the cursor (paginate: cursor)"},
    {"resume", OptionType::boolean, "false", "paginate: cursor: start the next poll from the last cursor"},
    {"max_pages", OptionType::integer, "5", "pages fetched per poll at most"},
    VIBE_POLL_OPTION_ROWS("5m", "1m", "1h"),
    {"timeout", OptionType::duration, "30s", "give up on a request after this long"},
    {"max_size", OptionType::size, "16MiB", "largest response body accepted"},
};

namespace {

std::string percent_encode(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

class HttpApiSource final : public Source {
public:
  explicit HttpApiSource(SourceSpec spec) : m_spec(std::move(spec)) {
    m_fields = {m_spec.options.get("event_type"), m_spec.options.get("id"), m_spec.options.get("time"),
                m_spec.options.get("url_field")};
  }

  std::vector<FetchRequest> requests(PollContext& context) const override {
    const auto& o = m_spec.options;
    nlohmann::json query = o.json("query");
    if (o.get("paginate") == "cursor" && o.boolean("resume") && context.memo.is_object() &&
        context.memo.contains("cursor") && context.memo["cursor"].is_string()) {
      query[o.get("cursor_param")] = context.memo["cursor"];
    }
    FetchRequest request = page_request(with_query(o.get("url"), query), 1);
    request.display_url = redact_url(with_query(o.display("url"), nlohmann::json::parse(o.display("query"))));
    // Conditional only when the last poll's answer was one page: when a
    // collection spans pages, new records may land on a later page while
    // the first stays the same (an oldest-first list), and a 304 for page
    // 1 would hide them.
    const bool one_page = !context.memo.is_object() || context.memo.value("pages", 1) <= 1;
    if (one_page) {
      request.etag = context.etag;
      request.last_modified = context.last_modified;
    }
    return {std::move(request)};
  }

  Result<Poll> parse(const FetchRequest& request, const FetchResponse& response, PollContext& context,
                     UnixMicros fetched_at) const override {
    const auto& o = m_spec.options;
    auto document = http_common::parse_body(m_spec, request, response);
    if (!document) {
      return tl::unexpected(document.error());
    }
    if (request.page == 1) {
      context.etag = response.etag;
      context.last_modified = response.last_modified;
    }
    if (!context.memo.is_object()) {
      context.memo = nlohmann::json::object();
    }
    context.memo["pages"] = request.page;  // how many pages this poll has read so far
    Poll poll;
    const std::string& items = o.get("items");
    const nlohmann::json* records = items.empty() ? &*document : http_common::at_pointer(*document, items);
    if (records == nullptr) {
      return fail(Errc::parse, fmt::format("source {}: {}: the response has nothing at items {}", m_spec.id,
                                           request.display_url, items));
    }
    auto add = [&](const nlohmann::json& record) {
      if (!record.is_object() && !record.is_array()) {
        poll.skipped.push_back(fmt::format("record is not an object: {}", http_common::scalar_text(record).substr(0, 80)));
        return;
      }
      poll.events.push_back(http_common::record_to_event(record, m_spec, m_fields, fetched_at, poll.warnings));
    };
    if (records->is_array()) {
      for (const auto& record : *records) {
        add(record);
      }
    } else if (records->is_object()) {
      add(*records);
    } else if (!records->is_null()) {
      return fail(Errc::parse, fmt::format("source {}: {}: items {} is neither a list nor an object", m_spec.id,
                                           request.display_url, items));
    }

    // The next page, if any.
    const std::string& paginate = o.get("paginate");
    std::string next_url;
    if (paginate == "link") {
      next_url = http_common::next_link(response.header("link"));
    } else if (paginate == "next_field") {
      const nlohmann::json* next = http_common::at_pointer(*document, o.get("next"));
      if (next != nullptr && next->is_string()) {
        next_url = next->get<std::string>();
      }
    } else if (paginate == "cursor") {
      const nlohmann::json* cursor = http_common::at_pointer(*document, o.get("cursor"));
      if (cursor != nullptr && !cursor->is_null() && !(cursor->is_string() && cursor->get<std::string>().empty())) {
        const std::string value = http_common::scalar_text(*cursor);
        context.memo["cursor"] = value;
        nlohmann::json query = o.json("query");
        query[o.get("cursor_param")] = value;
        next_url = with_query(o.get("url"), query);
      }
    }
    if (!next_url.empty()) {
      if (request.page >= o.integer("max_pages")) {
        poll.warnings.push_back(fmt::format("stopped after max_pages ({}) pages", o.integer("max_pages")));
      } else {
        poll.more.push_back(page_request(resolve(request.url, next_url), request.page + 1));
      }
    }
    return poll;
  }

private:
  FetchRequest page_request(std::string url, int page) const {
    const auto& o = m_spec.options;
    FetchRequest request = http_common::base_request(o, std::move(url));
    request.method = o.get("method");
    const nlohmann::json body = o.json("body");
    if (!body.is_null()) {
      request.body = body.dump();
      request.headers.emplace_back("Content-Type", "application/json");
    }
    request.page = page;
    return request;
  }

  // A next link may be relative to the page it came from.
  static std::string resolve(const std::string& base, const std::string& link) {
    if (link.find("://") != std::string::npos) {
      return link;
    }
    const auto scheme = base.find("://");
    if (scheme == std::string::npos) {
      return link;
    }
    if (!link.empty() && link.front() == '/') {
      const auto path = base.find('/', scheme + 3);
      return base.substr(0, path) + link;
    }
    const auto query = base.find('?');
    const auto slash = base.rfind('/', query);
    return base.substr(0, slash + 1) + link;
  }

  SourceSpec m_spec;
  http_common::RecordFields m_fields;
};

}  // namespace

std::string with_query(std::string url, const nlohmann::json& query) {
  if (!query.is_object() || query.empty()) {
    return url;
  }
  const auto hash = url.find('#');
  std::string fragment;
  if (hash != std::string::npos) {
    fragment = url.substr(hash);
    url.resize(hash);
  }
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [name, value] : query.items()) {
    url += sep;
    url += percent_encode(name);
    url += '=';
    url += percent_encode(http_common::scalar_text(value));
    sep = '&';
  }
  return url + fragment;
}

std::optional<std::string> check(const OptionValues& options) {
  if (auto problem = http_common::check_auth(options)) {
    return problem;
  }
  for (const char* pointer : {"items", "id", "time", "url_field", "next", "cursor"}) {
    if (auto problem = http_common::check_pointer(options, pointer)) {
      return problem;
    }
  }
  const std::string& paginate = options.get("paginate");
  if (paginate != "none" && paginate != "link" && paginate != "next_field" && paginate != "cursor") {
    return fmt::format("paginate: '{}' is not one of none, link, next_field, cursor", paginate);
  }
  const std::string& method = options.get("method");
  if (method != "GET" && method != "POST" && method != "PUT" && method != "PATCH" && method != "DELETE") {
    return fmt::format("method: '{}' is not one of GET, POST, PUT, PATCH, DELETE", method);
  }
  if (options.integer("max_pages") < 1) {
    return "max_pages: must be at least 1";
  }
  if (options.get("url").rfind("file:", 0) == 0) {
    return "url: http_api fetches http:// or https:// URLs";
  }
  return std::nullopt;
}

std::unique_ptr<Source> make(const SourceSpec& spec) {
  return std::make_unique<HttpApiSource>(spec);
}

}  // namespace vibe::core::http_api
