#include "core/sinks/http.hpp"

#include "core/config.hpp"
#include "core/hash.hpp"
#include "core/net/fetcher.hpp"
#include "core/sources/http_common.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vibe::core::http_sink {

const OptionSpec k_options[17] = {
    {"url", OptionType::url, k_required, "where records are sent (http:// or https://)"},
    {"method", OptionType::string, "POST", "HTTP method: POST, PUT or PATCH"},
    {"headers", OptionType::map, "{}", "extra request headers (values may use ${VAR})"},
    VIBE_AUTH_OPTION_ROWS,
    {"secret", OptionType::string, "", "HMAC-SHA256 key: signs each body into signature_header, e.g. \"${HOOK_SECRET}\""},
    {"signature_header", OptionType::string, "X-Vibe-Signature", "header that carries \"sha256=<hex>\" of the body"},
    {"idempotency_header", OptionType::string, "Idempotency-Key", "header that carries the delivery's idempotency key"},
    {"timeout", OptionType::duration, "30s", "give up on a request after this long"},
    VIBE_SINK_OPTION_ROWS("1"),
};

std::optional<std::string> check(const OptionValues& options) {
  const std::string& url = options.get("url");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return fmt::format("url: '{}' is not an http:// or https:// URL", options.display("url"));
  }
  const std::string& method = options.get("method");
  if (method != "POST" && method != "PUT" && method != "PATCH") {
    return fmt::format("method: '{}' is not one of POST, PUT, PATCH", method);
  }
  if (options.integer("batch") < 1 || options.integer("batch") > 10'000) {
    return "batch: want 1 to 10000 records";
  }
  return http_common::check_auth(options);
}

Result<void> deliver(const SinkSpec& spec, std::span<const SinkRecord> records, const std::atomic<bool>* cancel) {
  const OptionValues& options = spec.options;
  FetchRequest request;
  request.url = options.get("url");
  request.method = options.get("method");
  request.accept = "application/json, */*;q=0.5";
  request.timeout = options.duration("timeout");
  request.max_redirects = 0;  // a POST is not replayed to wherever a redirect points
  request.ca_bundle = spec.config.fetch.ca_bundle.string();
  request.body = records_json(records, options.integer("batch") == 1 && records.size() == 1);
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back(options.get("idempotency_header"),
                               idempotency_key(spec.pipeline_id, spec.index, records));
  request.headers.emplace_back("X-Vibe-Pipeline", spec.pipeline_id);
  if (!options.get("secret").empty()) {
    request.headers.emplace_back(options.get("signature_header"),
                                 "sha256=" + hmac_sha256_hex(options.get("secret"), request.body));
  }
  const nlohmann::json headers = options.json("headers");  // items() of a temporary would dangle
  for (const auto& [name, value] : headers.items()) {
    request.headers.emplace_back(name, value.is_string() ? value.get<std::string>() : value.dump());
  }
  http_common::apply_auth(options, request);

  Result<FetchResponse> answer = fail(Errc::network, "no answer");
  FetcherOptions fetch_options;
  fetch_options.cancel = cancel;
  fetch_all(std::span<const FetchRequest>{&request, 1}, fetch_options,
            [&](std::size_t, Result<FetchResponse> response) { answer = std::move(response); });
  if (!answer) {
    return tl::unexpected(answer.error());
  }
  if (answer->status >= 200 && answer->status < 300) {
    return {};
  }
  std::string body = answer->body.substr(0, 200);
  std::replace_if(body.begin(), body.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return fail(Errc::network, fmt::format("{} {}: HTTP {}{}{}", request.method, redact_url(request.url), answer->status,
                                         body.empty() ? "" : ": ", body));
}

}  // namespace vibe::core::http_sink
