#include "core/serve/http_api.hpp"

#include "core/metrics.hpp"
#include "core/serve/coordinator.hpp"
#include "core/source.hpp"
#include "core/sources/webhook.hpp"
#include "core/store/batch_writer.hpp"
#include "core/store/store.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace vibe::core {

namespace {

constexpr std::string_view k_webhooks = "/webhooks/";

// What head() found for a webhook, for the rest of the request: the config
// it checked against, the source in it, and the source's settings.
struct WebhookRoute {
  std::shared_ptr<const Config> config;
  const SourceConfig* source = nullptr;
  std::shared_ptr<const webhook::Settings> settings;
};

std::string dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse error(int status, std::string_view error, std::string_view detail) {
  return HttpResponse{status, "application/json", {}, dump({{"error", error}, {"detail", detail}})};
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

bool is_json(std::string_view content_type) {
  std::string type{content_type.substr(0, content_type.find(';'))};
  type.erase(std::remove(type.begin(), type.end(), ' '), type.end());
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  return type == "application/json" || (type.rfind("application/", 0) == 0 && type.size() > 17 &&
                                        type.compare(type.size() - 5, 5, "+json") == 0);
}

}  // namespace

HttpApi::HttpApi(Deps deps) : m_deps(std::move(deps)) {}

HttpApi::~HttpApi() = default;

HttpRoutes HttpApi::routes() {
  return HttpRoutes{
      [this](HttpRequest& request, std::uint64_t& body_limit) { return head(request, body_limit); },
      [this](HttpRequest request, Respond respond) { handle(std::move(request), std::move(respond)); },
      [this](const HttpRequest& head, int status) {
        const std::string_view path = path_of(head.target);
        if (path.rfind(k_webhooks, 0) == 0) {
          std::lock_guard lock{m_mutex};
          ++m_responses[{std::string{path.substr(k_webhooks.size())}, status}];
        }
      },
  };
}

std::map<std::pair<std::string, int>, std::uint64_t> HttpApi::webhook_responses() {
  std::lock_guard lock{m_mutex};
  return m_responses;
}

void HttpApi::answer(const std::string& source_label, HttpResponse response, const Respond& respond) {
  {
    std::lock_guard lock{m_mutex};
    ++m_responses[{source_label, response.status}];
  }
  respond(std::move(response));
}

std::optional<HttpResponse> HttpApi::head(HttpRequest& request, std::uint64_t& body_limit) {
  const std::string_view path = path_of(request.target);
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    if (request.method != "GET") {
      auto response = error(405, "method not allowed", fmt::format("{} takes GET", path));
      response.headers.emplace_back("Allow", "GET");
      return response;
    }
    body_limit = 0;
    return std::nullopt;
  }
  if (path.rfind(k_webhooks, 0) != 0) {
    return error(404, "not found", fmt::format("no such path: {} (webhooks go to /webhooks/SOURCE_ID)", path));
  }
  const std::string id{path.substr(k_webhooks.size())};
  auto refuse = [&](const std::string& label, HttpResponse response) {
    std::lock_guard lock{m_mutex};
    ++m_responses[{label, response.status}];
    return std::optional<HttpResponse>{std::move(response)};
  };
  const auto config = m_deps.config();
  const SourceConfig* source = config->find_source(id);
  if (request.method != "POST") {
    auto response = error(405, "method not allowed", "webhooks take POST");
    response.headers.emplace_back("Allow", "POST");
    return refuse(source != nullptr ? id : "-", std::move(response));
  }
  if (source == nullptr) {
    return refuse("-", error(404, "unknown source", fmt::format("no source '{}' in {}", id, config->path.filename().string())));
  }
  switch (m_deps.coordinator.push_check(id)) {
    case Coordinator::PushCheck::accept:
      break;
    case Coordinator::PushCheck::unknown:  // added by a reload not applied yet
      return refuse("-", error(404, "unknown source", fmt::format("source '{}' is not running yet", id)));
    case Coordinator::PushCheck::not_pushed:
      return refuse(id, error(409, "not a webhook source",
                              fmt::format("source '{}' is of type {}; only webhook sources take POSTs", id,
                                          source->type)));
    case Coordinator::PushCheck::stopping: {
      auto response = error(503, "stopping", "vibe serve is shutting down");
      response.headers.emplace_back("Retry-After", "1");
      return refuse(id, std::move(response));
    }
    case Coordinator::PushCheck::paused:
      return refuse(id, error(409, "stream not active",
                              fmt::format("source '{}' belongs only to paused or stopped streams; "
                                          "start one with vibe stream start",
                                          id)));
  }
  const auto content_type = webhook::find_header(request.headers, "Content-Type");
  if (!content_type || !is_json(*content_type)) {
    return refuse(id, error(415, "unsupported media type",
                            fmt::format("Content-Type must be application/json, got {}",
                                        content_type ? std::string{*content_type} : std::string{"none"})));
  }
  auto route = std::make_shared<WebhookRoute>(WebhookRoute{config, source, settings_for(config, *source)});
  body_limit = route->settings->max_body;
  request.route_state = std::move(route);  // the body's handling goes on with the same config
  return std::nullopt;
}

void HttpApi::handle(HttpRequest request, Respond respond) {
  const std::string path{path_of(request.target)};
  if (path == "/healthz") {
    respond({200, "application/json", {}, dump({{"status", "ok"}})});
  } else if (path == "/readyz") {
    if (auto reason = m_deps.not_ready()) {
      respond(error(503, "not ready", *reason));
    } else {
      respond({200, "application/json", {}, dump({{"status", "ready"}})});
    }
  } else if (path == "/metrics") {
    std::string text = m_deps.metrics();
    PrometheusText more;
    more.family("vibe_webhook_responses_total", "counter", "Webhook requests answered, by source and HTTP status.");
    for (const auto& [key, count] : webhook_responses()) {
      const std::string code = std::to_string(key.second);
      more.sample("vibe_webhook_responses_total", {{"source", key.first}, {"code", code}}, static_cast<double>(count));
    }
    respond({200, "text/plain; version=0.0.4; charset=utf-8", {}, text + more.text()});
  } else {
    const std::string id = path.substr(k_webhooks.size());
    webhook(std::move(request), id, std::move(respond));
  }
}

std::shared_ptr<const webhook::Settings> HttpApi::settings_for(const std::shared_ptr<const Config>& config,
                                                              const SourceConfig& source) {
  std::lock_guard lock{m_mutex};
  if (m_settings_config != config) {
    m_settings.clear();
    m_settings_config = config;
  }
  auto& settings = m_settings[source.id];
  if (!settings) {
    settings = std::make_shared<const webhook::Settings>(webhook::settings_of(source.options));
  }
  return settings;
}

std::optional<HttpResponse> HttpApi::rate_limited(const std::string& id, const SourceConfig& source,
                                                 const webhook::Settings& settings) {
  if (!settings.rate_limit) {
    return std::nullopt;
  }
  std::lock_guard lock{m_mutex};
  const std::string& rate = source.options.get("rate_limit");
  auto& bucket = m_buckets[id];
  if (!bucket || m_bucket_rates[id] != rate) {
    bucket = std::make_unique<webhook::TokenBucket>(*settings.rate_limit);
    m_bucket_rates[id] = rate;
  }
  const auto wait = bucket->take(now_micros());
  if (!wait) {
    return std::nullopt;
  }
  const auto seconds = std::max<std::int64_t>(1, (wait->count() + 999) / 1000);
  auto response = error(429, "too many requests",
                        fmt::format("source '{}' takes {} (rate_limit); try again in {} s", id, rate, seconds));
  response.headers.emplace_back("Retry-After", std::to_string(seconds));
  return response;
}

void HttpApi::webhook(HttpRequest request, const std::string& id, Respond respond) {
  const auto route = std::static_pointer_cast<const WebhookRoute>(request.route_state);
  if (route == nullptr || route->source == nullptr || !is_pushed_kind(route->source->type)) {
    answer("-", error(404, "unknown source", fmt::format("no source '{}'", id)), respond);  // head() let nothing else by
    return;
  }
  const auto& config = route->config;
  const SourceConfig* source = route->source;
  const webhook::Settings& settings = *route->settings;
  const UnixMicros now = now_micros();
  if (auto ok = webhook::verify(settings, request.headers, request.body, now); !ok) {
    m_deps.log->debug("webhook.unauthorized source={} peer={} reason={}", id, request.peer, ok.error().message);
    answer(id, error(401, "unauthorized", ok.error().message), respond);
    return;
  }
  // The rate limit counts signed requests only: forged ones cannot use up the sender's allowance.
  if (auto limited = rate_limited(id, *source, settings)) {
    answer(id, std::move(*limited), respond);
    return;
  }
  // The dedup key if the delivery carries no id.
  const std::string unique = fmt::format("r{}-{}", now, ++m_unique);
  auto events = webhook::events_from_body(settings, id, request.headers, request.body, now, unique);
  if (!events) {
    answer(id, error(400, "malformed JSON", events.error().message), respond);
    return;
  }
  if (events->empty()) {
    answer(id, {202, "application/json", {}, dump({{"accepted", 0}, {"duplicates", 0}, {"ids", nlohmann::json::array()}})},
           respond);
    return;
  }
  const std::string stream = config->stream_of(id);
  std::vector<std::string> keys;
  for (auto& event : *events) {
    event.stream_id = stream;
    keys.push_back(event.dedup_key);
  }
  const std::size_t count = events->size();
  auto done = [this, id, keys = std::move(keys), count, respond](Result<WriteResult> written) {
    if (!written) {
      const bool stopping = written.error().code == Errc::cancelled;
      answer(id, error(stopping ? 503 : 500, stopping ? "stopping" : "store failed", written.error().message), respond);
      return;
    }
    std::vector<std::int64_t> ids = written->ids;
    if (written->duplicates > 0) {
      // A redelivery: answered like the first delivery, with the ids stored then.
      if (auto stored = m_deps.store.event_ids(id, keys)) {
        for (std::size_t i = 0; i < ids.size() && i < stored->size(); ++i) {
          ids[i] = ids[i] != 0 ? ids[i] : (*stored)[i];
        }
      }
    }
    m_deps.coordinator.pushed(id, written->inserted);
    std::string body = fmt::format(R"({{"accepted":{},"duplicates":{},"ids":[{}]}})", count, written->duplicates,
                                   fmt::join(ids, ","));
    answer(id, {202, "application/json", {}, std::move(body)}, respond);
  };
  WriteRequest write{std::move(*events), std::nullopt};
  write.waited_on = true;  // the sender waits for its 202
  // Pipelines that take this source: a job each, with the new events, in the
  // same transaction, so an acknowledged delivery always reaches them.
  std::vector<std::string> pipelines;
  for (const auto& pipeline : config->pipelines) {
    if (pipeline.pushed() && pipeline.source->id == id) {
      pipelines.push_back(pipeline.id);
    }
  }
  if (!pipelines.empty()) {
    auto pushed = std::make_shared<std::vector<Event>>(write.events);
    write.jobs = [pushed, pipelines = std::move(pipelines)](const WriteResult& result) {
      nlohmann::json fresh = nlohmann::json::array();
      for (std::size_t i = 0; i < result.ids.size() && i < pushed->size(); ++i) {
        if (result.ids[i] > 0) {
          Event event = (*pushed)[i];
          event.id = result.ids[i];
          fresh.push_back(to_json(event));
        }
      }
      std::vector<NewJob> jobs;
      if (fresh.empty()) {
        return jobs;
      }
      for (const auto& pipeline : pipelines) {
        NewJob job;
        job.worker = "pipeline";
        job.args = nlohmann::json{{"pipeline", pipeline}, {"events", fresh}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
        job.tags = {"pipeline:" + pipeline};
        jobs.push_back(std::move(job));
      }
      return jobs;
    };
  }
  auto queued = m_deps.writer.try_submit(std::move(write), std::move(done));
  if (!queued) {
    auto response = error(503, queued.error().code == Errc::cancelled ? "stopping" : "busy", queued.error().message);
    response.headers.emplace_back("Retry-After", "1");
    answer(id, std::move(response), respond);
  }
}

}  // namespace vibe::core
