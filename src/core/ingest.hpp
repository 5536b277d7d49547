#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/event.hpp"
#include "core/log.hpp"
#include "core/store/store.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// `vibe ingest`: NDJSON records into events of a stream.
//
// The client sends its input as it comes, in chunks of whole lines, and
// whoever writes the chunk (serve, or the local writer when serve is not
// running) turns the lines into events with events_from_ndjson(): each line
// is parsed once, on the writing side, and the same code decides what is
// accepted whichever path a chunk takes.
namespace vibe::core {

struct IngestTarget {
  std::string stream;  // the stream the events belong to
  std::string source;  // their source id; default "ingest.<stream>"
  std::string type;    // their type when a record has none; default "record"
};

// One NDJSON record, the text of one line, as an event. The record must be a
// JSON object. Picked up when present at its top level: "occurred_at" (RFC
// 3339 text, else `now`), "type" (non-empty text), "url" (text) and "id"
// (non-empty text or an integer: the dedup key; else "sha256:" and the hash
// of the content). The content is the record's text as given, without the
// whitespace around it. Errors: Errc::parse with a message for people
// ("not valid JSON: ...", "\"type\" must be a non-empty string", ...).
Result<Event> event_from_record(std::string_view text, const IngestTarget& target, UnixMicros now);

// The source id ingested events of `target` get.
std::string ingest_source(const IngestTarget& target);

struct IngestReject {
  std::size_t line = 0;  // its number in the input
  std::string message;
};

struct IngestBatch {
  std::vector<Event> events;
  std::vector<IngestReject> rejects;
  bool stopped = false;  // strict, and a line was rejected: what follows it was not read
};

// NDJSON text into events: every line that is not blank is a record; a line
// that is not one is rejected with its number (the first line of `text` is
// number `first_line`). With `strict` the first rejected line ends it: the
// events are those of the lines before it. A last line without '\n' counts.
IngestBatch events_from_ndjson(std::string_view text, std::size_t first_line, const IngestTarget& target,
                               UnixMicros now, bool strict);

class BatchWriter;
class ControlStream;

struct IngestCounts {
  std::size_t accepted = 0;
  std::size_t duplicates = 0;
  std::size_t rejected = 0;
};

// Whole lines of input and the number of the first.
struct IngestChunk {
  std::string text;
  std::size_t first_line = 1;
};

// What became of a chunk.
struct ChunkOutcome {
  std::size_t accepted = 0;
  std::size_t duplicates = 0;
  std::vector<IngestReject> rejects;
  bool stopped = false;  // strict: a line was rejected, nothing after it was written
};

using OnOutcome = std::function<void(const ChunkOutcome&)>;

// Where ingested chunks go: a running serve (over one connection to its
// socket, so tail subscribers see the events), or the store through a local
// batch writer when serve is not running or stops meanwhile (the chunks it
// has not answered are written again; if serve had committed one, its
// events count as duplicates).
//
// Up to three chunks travel at once, so reading the input, serve's parsing
// and the store's commits overlap; outcomes come back in input order. With
// `strict` one chunk travels at a time, so nothing after a rejected line is
// sent. When serve's writer is full it refuses the chunk and the ones sent
// after it (its protocol keeps a connection's chunks in order); the sink
// waits (20 ms, doubling up to 1 s) and sends them again: back-pressure on
// the reader.
class IngestSink {
public:
  IngestSink(const Config& config, IngestTarget target, bool strict, const Logging& logging);
  ~IngestSink();
  IngestSink(const IngestSink&) = delete;
  IngestSink& operator=(const IngestSink&) = delete;

  Result<void> start();
  bool through_serve() const { return m_conn != nullptr; }
  bool fell_back() const { return m_fell_back; }  // serve stopped mid-way; the rest went to the store

  // Sends `chunk` on its way. Chunks sent earlier that are done by now, or
  // must be to make room, are handed to `on_outcome`, in input order.
  Result<void> write(IngestChunk chunk, const OnOutcome& on_outcome);
  // Hands over the outcomes that are in, without waiting.
  Result<void> collect(const OnOutcome& on_outcome);
  // Waits until every chunk sent is done.
  Result<void> finish(const OnOutcome& on_outcome);

private:
  struct InFlight {
    IngestChunk chunk;
    bool awaiting = false;                 // serve: a reply is due for it
    bool refused = false;                  // serve: refused; to be sent again
    std::optional<ChunkOutcome> outcome;   // done
    std::optional<std::future<Result<WriteResult>>> commit;  // local writer: its commit
    ChunkOutcome local;                    // local writer: rejects and stop, before the commit
  };

  Result<void> open_store();
  void send_to_serve(InFlight& item, bool retry);
  void write_locally(InFlight& item);
  void connection_lost();  // m_conn broke: the chunks it owed answers for are to be sent again
  // Settles the oldest chunk (waiting for it when `wait`); false if it was not done and `wait` is false.
  Result<bool> settle_front(bool wait, const OnOutcome& on_outcome);
  Result<void> read_serve_reply(bool wait, bool& got);
  Result<void> recover();  // every chunk sent is answered or refused; serve refused some

  const Config& m_config;
  IngestTarget m_target;
  bool m_strict = false;
  const Logging& m_logging;
  bool m_fell_back = false;
  std::unique_ptr<ControlStream> m_conn;  // to serve; null when writing to the store
  bool m_conn_broken = false;             // m_conn failed: reconnect before sending again
  std::deque<InFlight> m_in_flight;
  Millis m_backoff{20};
  std::unique_ptr<Store> m_store;
  std::unique_ptr<BatchWriter> m_writer;  // declared after m_store: destroyed first
};

}  // namespace vibe::core
