#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/event.hpp"
#include "core/log.hpp"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <vector>

// `vibe ingest`: NDJSON records into events of a stream.
namespace vibe::core {

struct IngestTarget {
  std::string stream;  // the stream the events belong to
  std::string source;  // their source id; default "ingest.<stream>"
  std::string type;    // their type when a record has none; default "record"
};

// One NDJSON record (a JSON object) as an event. Picked up when present:
// "occurred_at" (RFC 3339 text, else the time now), "type" (text), "url"
// (text) and "id" (text or integer: the dedup key; else a hash of the
// record). The whole object is the content. Errors: Errc::parse naming the
// field, for a record that is not an object or a field of the wrong kind.
Result<Event> event_from_record(const nlohmann::json& record, const IngestTarget& target, UnixMicros now);

// The source id ingested events of `target` get.
std::string ingest_source(const IngestTarget& target);

class Store;
class BatchWriter;

struct IngestCounts {
  std::size_t accepted = 0;
  std::size_t duplicates = 0;
  std::size_t rejected = 0;
};

// Where ingested events go: a running serve (over its socket, so tail
// subscribers see them), or the store through a local batch writer when
// serve is not running, or stops meanwhile (the chunk in flight is written
// again; if serve had committed it, its events count as duplicates). While serve's writer is full
// write() waits and retries: back-pressure on the reader.
class IngestSink {
public:
  IngestSink(const Config& config, std::string stream, const Logging& logging);
  ~IngestSink();
  IngestSink(const IngestSink&) = delete;
  IngestSink& operator=(const IngestSink&) = delete;

  Result<void> start();
  bool through_serve() const { return m_serve; }
  bool fell_back() const { return m_fell_back; }  // serve stopped mid-way; the rest went to the store
  // Returns once `events` are committed, adding to `counts`.
  Result<void> write(std::vector<Event> events, IngestCounts& counts);

private:
  Result<void> open_store();

  const Config& m_config;
  std::string m_stream;
  const Logging& m_logging;
  bool m_serve = false;
  bool m_fell_back = false;
  std::unique_ptr<Store> m_store;
  std::unique_ptr<BatchWriter> m_writer;  // declared after m_store: destroyed first
};

}  // namespace vibe::core
