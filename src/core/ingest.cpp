#include "core/ingest.hpp"

#include "core/hash.hpp"
#include "core/serve/control_client.hpp"
#include "core/store/batch_writer.hpp"
#include "core/store/store.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

namespace vibe::core {

std::string ingest_source(const IngestTarget& target) {
  return target.source.empty() ? "ingest." + target.stream : target.source;
}

Result<Event> event_from_record(const nlohmann::json& record, const IngestTarget& target, UnixMicros now) {
  if (!record.is_object()) {
    return fail(Errc::parse, fmt::format("expected a JSON object, got {}", record.type_name()));
  }
  Event event;
  event.stream_id = target.stream;
  event.source_id = ingest_source(target);
  event.type = target.type.empty() ? "record" : target.type;
  event.occurred_at = now;
  if (const auto it = record.find("type"); it != record.end()) {
    if (!it->is_string() || it->get<std::string>().empty()) {
      return fail(Errc::parse, "\"type\" must be a non-empty string");
    }
    event.type = it->get<std::string>();
  }
  if (const auto it = record.find("occurred_at"); it != record.end()) {
    const auto parsed = it->is_string() ? parse_rfc3339(it->get<std::string>()) : std::nullopt;
    if (!parsed) {
      return fail(Errc::parse, fmt::format("\"occurred_at\" must be an RFC 3339 time, got {}", it->dump()));
    }
    event.occurred_at = *parsed;
  }
  if (const auto it = record.find("url"); it != record.end()) {
    if (!it->is_string()) {
      return fail(Errc::parse, "\"url\" must be a string");
    }
    event.url = it->get<std::string>();
  }
  event.content = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (const auto it = record.find("id"); it != record.end()) {
    if (it->is_string() && !it->get<std::string>().empty()) {
      event.dedup_key = it->get<std::string>();
    } else if (it->is_number_integer()) {
      event.dedup_key = it->dump();
    } else {
      return fail(Errc::parse, "\"id\" must be a non-empty string or an integer");
    }
  } else {
    event.dedup_key = "sha256:" + sha256_hex(event.content);
  }
  return event;
}

IngestSink::IngestSink(const Config& config, std::string stream, const Logging& logging)
    : m_config(config), m_stream(std::move(stream)), m_logging(logging) {}

IngestSink::~IngestSink() = default;

Result<void> IngestSink::start() {
  auto ping = control_request(m_config.serve.socket, {{"cmd", "ping"}}, Millis{5'000});
  if (ping) {
    m_serve = true;
    return {};
  }
  if (ping.error().code != Errc::unavailable) {
    return tl::unexpected(ping.error());
  }
  return open_store();
}

Result<void> IngestSink::open_store() {
  auto store = open_store_synced(m_config);
  if (!store) {
    return tl::unexpected(store.error());
  }
  m_store = std::move(*store);
  m_writer = std::make_unique<BatchWriter>(*m_store, m_config.buffer, m_logging.get("store.writer"));
  return {};
}

Result<void> IngestSink::write(std::vector<Event> events, IngestCounts& counts) {
  if (events.empty()) {
    return {};
  }
  if (m_serve) {
    nlohmann::json request{{"cmd", "ingest"}, {"stream", m_stream}, {"events", nlohmann::json::array()}};
    for (const auto& event : events) {
      request["events"].push_back(to_json(event));
    }
    Millis backoff{20};
    for (;;) {
      auto reply = control_request(m_config.serve.socket, request, Millis{120'000});
      if (reply) {
        counts.accepted += reply->value("accepted", std::size_t{0});
        counts.duplicates += reply->value("duplicates", std::size_t{0});
        return {};
      }
      const Errc code = reply.error().code;
      if (code != Errc::unavailable && code != Errc::network && code != Errc::cancelled) {
        return tl::unexpected(reply.error());
      }
      // Serve gone (or dying: a ping that fails in any way)? Then the store
      // takes this chunk and the rest; if serve had committed the chunk, its
      // events count as duplicates.
      auto alive = control_request(m_config.serve.socket, {{"cmd", "ping"}}, Millis{5'000});
      if (!alive) {
        std::fprintf(stderr, "vibe ingest: vibe serve stopped; writing the rest to the store directly\n");
        m_serve = false;
        m_fell_back = true;
        if (auto ok = open_store(); !ok) {
          return ok;
        }
        break;
      }
      // Serve is up: its writer was full (or the connection broke): hold the
      // reader a moment and send the chunk again.
      std::this_thread::sleep_for(backoff);
      backoff = std::min(Millis{1'000}, backoff * 2);
    }
  }
  auto written = m_writer->submit(WriteRequest{std::move(events), std::nullopt}).get();
  if (!written) {
    return tl::unexpected(written.error());
  }
  counts.accepted += written->inserted;
  counts.duplicates += written->duplicates;
  return {};
}

}  // namespace vibe::core
