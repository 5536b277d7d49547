#pragma once

#include "core/config.hpp"
#include "core/serve/http.hpp"

#include <spdlog/logger.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace vibe::core {

class BatchWriter;
class Coordinator;
class Store;

namespace webhook {
class TokenBucket;
struct Settings;
}  // namespace webhook

// What serve's HTTP endpoint answers (documented in vibe-serve(1)):
//   POST /webhooks/<source id>  a webhook source's events: 202 once committed
//   GET  /metrics               Prometheus text
//   GET  /healthz               200 while the process runs
//   GET  /readyz                200 when the store takes writes, else 503
// Every error is a JSON body {"error": ..., "detail": ...}.
class HttpApi {
public:
  struct Deps {
    std::function<std::shared_ptr<const Config>()> config;  // the running config
    BatchWriter& writer;
    Store& store;
    Coordinator& coordinator;
    std::function<std::string()> metrics;                    // the Prometheus text, but for webhook responses
    std::function<std::optional<std::string>()> not_ready;  // why serve is not ready, or nullopt
    std::shared_ptr<spdlog::logger> log;
  };

  explicit HttpApi(Deps deps);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // The routes for HttpServer; they refer to this object.
  HttpRoutes routes();

  // Webhook responses so far, by (source id, status); "-" for an unknown source.
  std::map<std::pair<std::string, int>, std::uint64_t> webhook_responses();

private:
  std::optional<HttpResponse> head(HttpRequest& request, std::uint64_t& body_limit);
  void handle(HttpRequest request, Respond respond);
  void webhook(HttpRequest request, const std::string& source_id, Respond respond);
  // A 429 when the source's rate_limit has no token left.
  std::optional<HttpResponse> rate_limited(const std::string& id, const SourceConfig& source,
                                           const webhook::Settings& settings);
  // The source's settings, made once per config (with its HMAC key set up).
  std::shared_ptr<const webhook::Settings> settings_for(const std::shared_ptr<const Config>& config,
                                                        const SourceConfig& source);
  // Counts the response, then sends it.
  void answer(const std::string& source_label, HttpResponse response, const Respond& respond);

  Deps m_deps;
  std::mutex m_mutex;  // guards what follows
  std::map<std::string, std::unique_ptr<webhook::TokenBucket>> m_buckets;  // by source id
  std::map<std::string, std::string> m_bucket_rates;                       // the rate each was made for
  std::map<std::pair<std::string, int>, std::uint64_t> m_responses;
  std::atomic<std::uint64_t> m_unique{0};  // for keys of deliveries without an id
  std::shared_ptr<const Config> m_settings_config;  // the config m_settings were made from
  std::map<std::string, std::shared_ptr<const webhook::Settings>> m_settings;
};

}  // namespace vibe::core
