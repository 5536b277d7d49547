#include "core/sources/graphql.hpp"

#include "core/net/fetcher.hpp"
#include "core/sources/http_common.hpp"

#include <fmt/format.h>

namespace vibe::core::graphql {

const OptionSpec k_options[24] = {
    {"url", OptionType::url, k_required, "the GraphQL endpoint"},
    {"query", OptionType::string, k_required, "the GraphQL query document"},
    {"variables", OptionType::json, "{}", "the query's variables (a YAML mapping)"},
    {"headers", OptionType::map, "{}", "extra request headers (values may use ${VAR})"},
    VIBE_AUTH_OPTION_ROWS,
    {"items", OptionType::string, k_required, "JSON Pointer into `data` to the records (a list, or one object)"},
    {"id", OptionType::string, "", "JSON Pointer (in a record) to its id, the dedup key; unset: a hash of the record"},
    {"time", OptionType::string, "", "JSON Pointer to the record's time (RFC 3339, RFC 822 or epoch seconds)"},
    {"url_field", OptionType::string, "", "JSON Pointer to the record's link"},
    {"max_pages", OptionType::integer, "5", "pages fetched per poll at most (with cursor)"},
    {"event_type", OptionType::string, "graphql_item", "the type of the events"},
    {"cursor", OptionType::string, "", "JSON Pointer into data to the next page's cursor (e.g. "
                                       "/repository/issues/pageInfo/endCursor); unset: one page"},
    {"has_next", OptionType::string, "", "JSON Pointer into data to whether there is a next page (hasNextPage)"},
    {"cursor_variable", OptionType::string, "after", "the variable the cursor is sent in"},
    VIBE_POLL_OPTION_ROWS("5m", "1m", "1h"),
    {"timeout", OptionType::duration, "30s", "give up on a request after this long"},
    {"max_size", OptionType::size, "16MiB", "largest response body accepted"},
};

namespace {

class GraphqlSource final : public Source {
public:
  explicit GraphqlSource(SourceSpec spec) : m_spec(std::move(spec)) {
    m_fields = {m_spec.options.get("event_type"), m_spec.options.get("id"), m_spec.options.get("time"),
                m_spec.options.get("url_field")};
  }

  std::vector<FetchRequest> requests(PollContext&) const override {
    return {page_request(m_spec.options.json("variables"), 1)};
  }

  Result<Poll> parse(const FetchRequest& request, const FetchResponse& response, PollContext&,
                     UnixMicros fetched_at) const override {
    auto document = http_common::parse_body(m_spec, request, response);
    if (!document) {
      return tl::unexpected(document.error());
    }
    if (!document->is_object()) {
      return fail(Errc::parse, fmt::format("source {}: {}: a GraphQL response is a JSON object", m_spec.id,
                                           request.display_url));
    }
    if (const auto errors = document->find("errors"); errors != document->end() && errors->is_array() &&
                                                      !errors->empty()) {
      std::string messages;
      for (const auto& error : *errors) {
        std::string message = error.is_object() && error.contains("message") ? http_common::scalar_text(error["message"])
                                                                             : http_common::scalar_text(error);
        if (error.is_object() && error.contains("locations") && error["locations"].is_array() &&
            !error["locations"].empty() && error["locations"][0].is_object()) {
          const auto& at = error["locations"][0];
          message += fmt::format(" (line {}, column {})", at.value("line", 0), at.value("column", 0));
        }
        messages += (messages.empty() ? "" : "; ") + message;
      }
      return fail(Errc::parse, fmt::format("source {}: GraphQL errors: {}", m_spec.id, messages));
    }
    const auto data = document->find("data");
    if (data == document->end() || !data->is_object()) {
      return fail(Errc::parse, fmt::format("source {}: {}: the response has no data", m_spec.id, request.display_url));
    }
    const nlohmann::json* records = http_common::at_pointer(*data, m_spec.options.get("items"));
    Poll poll;
    if (records == nullptr || records->is_null()) {
      poll.warnings.push_back(fmt::format("data has nothing at {}", m_spec.options.get("items")));
      return poll;
    }
    auto add = [&](const nlohmann::json& record) {
      poll.events.push_back(http_common::record_to_event(record, m_spec, m_fields, fetched_at, poll.warnings));
    };
    next_page(request, *data, poll);
    if (records->is_array()) {
      for (const auto& record : *records) {
        if (record.is_object()) {
          add(record);
        } else {
          poll.skipped.push_back("a record is not an object");
        }
      }
    } else if (records->is_object()) {
      add(*records);
    } else {
      return fail(Errc::parse, fmt::format("source {}: data{} is neither a list nor an object", m_spec.id,
                                           m_spec.options.get("items")));
    }
    return poll;
  }

private:
  FetchRequest page_request(const nlohmann::json& variables, int page) const {
    const auto& o = m_spec.options;
    FetchRequest request = http_common::base_request(o, o.get("url"));
    request.display_url = redact_url(o.display("url"));
    request.method = "POST";
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = nlohmann::json{{"query", o.get("query")}, {"variables", variables}}.dump();
    request.page = page;
    return request;
  }

  // Asks for the next page when `cursor` is set, the page says there is one
  // and max_pages allows.
  void next_page(const FetchRequest& request, const nlohmann::json& data, Poll& poll) const {
    const auto& o = m_spec.options;
    if (o.get("cursor").empty()) {
      return;
    }
    const nlohmann::json* cursor = http_common::at_pointer(data, o.get("cursor"));
    if (cursor == nullptr || cursor->is_null() || (cursor->is_string() && cursor->get<std::string>().empty())) {
      return;
    }
    if (!o.get("has_next").empty()) {
      const nlohmann::json* has_next = http_common::at_pointer(data, o.get("has_next"));
      if (has_next == nullptr || !has_next->is_boolean() || !has_next->get<bool>()) {
        return;
      }
    }
    if (request.page >= o.integer("max_pages")) {
      poll.warnings.push_back(fmt::format("stopped after max_pages ({}) pages", o.integer("max_pages")));
      return;
    }
    nlohmann::json variables = o.json("variables");
    variables[o.get("cursor_variable")] = *cursor;
    poll.more.push_back(page_request(variables, request.page + 1));
  }

  SourceSpec m_spec;
  http_common::RecordFields m_fields;
};

}  // namespace

std::optional<std::string> check(const OptionValues& options) {
  if (auto problem = http_common::check_auth(options)) {
    return problem;
  }
  if (options.integer("max_pages") < 1) {
    return "max_pages: must be at least 1";
  }
  if (options.get("cursor_variable").empty()) {
    return "cursor_variable: must name a variable";
  }
  for (const char* pointer : {"items", "id", "time", "url_field", "cursor", "has_next"}) {
    if (auto problem = http_common::check_pointer(options, pointer)) {
      return problem;
    }
  }
  if (!options.json("variables").is_object()) {
    return "variables: expected a mapping";
  }
  if (options.get("url").rfind("file:", 0) == 0) {
    return "url: graphql posts to http:// or https:// URLs";
  }
  return std::nullopt;
}

std::unique_ptr<Source> make(const SourceSpec& spec) {
  return std::make_unique<GraphqlSource>(spec);
}

}  // namespace vibe::core::graphql
