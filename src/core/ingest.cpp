#include "core/ingest.hpp"

#include "core/hash.hpp"
#include "core/serve/control_client.hpp"
#include "core/store/batch_writer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <thread>

namespace vibe::core {

namespace {

// Reads one record with nlohmann's SAX parser: the whole text is checked
// (syntax, UTF-8, nothing after the value) without building a document, and
// only the top-level fields ingest picks up are kept.
class RecordFields final : public nlohmann::json_sax<nlohmann::json> {
public:
  enum Field { none = -1, type, occurred_at, url, id, count };
  struct Value {
    bool present = false;
    const char* kind = "";  // "string", "integer", "number", "boolean", "null", "object", "array"
    std::string text;       // a string's value, an integer's digits
  };

  const char* top_kind = nullptr;  // what the record is, when it is not an object
  std::string error;               // the parser's message
  std::array<Value, count> values;

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("boolean"); }
  bool number_integer(number_integer_t v) override { return scalar("integer", std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return scalar("integer", std::to_string(v)); }
  bool number_float(number_float_t, const string_t&) override { return scalar("number"); }
  bool string(string_t& v) override { return scalar("string", std::move(v)); }
  bool binary(binary_t&) override { return scalar("binary"); }
  bool start_object(std::size_t) override { return open("object"); }
  bool start_array(std::size_t) override { return open("array"); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (m_depth == 1) {
      static constexpr std::array<std::string_view, count> k_names{"type", "occurred_at", "url", "id"};
      m_field = none;
      for (int f = 0; f < count; ++f) {
        if (k == k_names[static_cast<std::size_t>(f)]) {
          m_field = static_cast<Field>(f);
        }
      }
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
    std::string what = e.what();
    if (const auto at = what.find(", column "); at != std::string::npos) {
      what = what.substr(at + 2);
    }
    error = std::move(what);
    return false;
  }

private:
  bool scalar(const char* kind, std::string text = {}) {
    if (m_depth == 0) {
      top_kind = kind;
      return false;
    }
    take(kind, std::move(text));
    return true;
  }
  bool open(const char* kind) {
    if (m_depth == 0 && std::string_view{kind} != "object") {
      top_kind = kind;
      return false;
    }
    take(kind, {});
    ++m_depth;
    return true;
  }
  bool close() {
    --m_depth;
    return true;
  }
  void take(const char* kind, std::string text) {
    if (m_depth == 1 && m_field != none) {
      values[static_cast<std::size_t>(m_field)] = Value{true, kind, std::move(text)};
      m_field = none;
    }
  }

  int m_depth = 0;
  Field m_field = none;
};

constexpr std::string_view k_blank = " \t\r\n";

}  // namespace

std::string ingest_source(const IngestTarget& target) {
  return target.source.empty() ? "ingest." + target.stream : target.source;
}

Result<Event> event_from_record(std::string_view text, const IngestTarget& target, UnixMicros now) {
  const auto first = text.find_first_not_of(k_blank);
  text = first == std::string_view::npos ? std::string_view{} : text.substr(first, text.find_last_not_of(k_blank) - first + 1);
  RecordFields fields;
  const bool parsed = nlohmann::json::sax_parse(text.begin(), text.end(), &fields);
  if (fields.top_kind != nullptr) {
    return fail(Errc::parse, fmt::format("expected a JSON object, got {}", fields.top_kind));
  }
  if (!parsed) {
    return fail(Errc::parse, fields.error.empty() ? "not valid JSON" : "not valid JSON: " + fields.error);
  }
  Event event;
  event.stream_id = target.stream;
  event.source_id = ingest_source(target);
  event.type = target.type.empty() ? "record" : target.type;
  event.occurred_at = now;
  using F = RecordFields;
  if (auto& v = fields.values[F::type]; v.present) {
    if (std::string_view{v.kind} != "string" || v.text.empty()) {
      return fail(Errc::parse, "\"type\" must be a non-empty string");
    }
    event.type = std::move(v.text);
  }
  if (auto& v = fields.values[F::occurred_at]; v.present) {
    const auto time = std::string_view{v.kind} == "string" ? parse_rfc3339(v.text) : std::nullopt;
    if (!time) {
      return fail(Errc::parse,
                  fmt::format("\"occurred_at\" must be an RFC 3339 time, got {}",
                              std::string_view{v.kind} == "string" ? nlohmann::json(v.text).dump() : std::string{v.kind}));
    }
    event.occurred_at = *time;
  }
  if (auto& v = fields.values[F::url]; v.present) {
    if (std::string_view{v.kind} != "string") {
      return fail(Errc::parse, "\"url\" must be a string");
    }
    event.url = std::move(v.text);
  }
  event.content = std::string{text};
  if (auto& v = fields.values[F::id]; v.present) {
    const std::string_view kind{v.kind};
    if ((kind != "string" && kind != "integer") || v.text.empty()) {
      return fail(Errc::parse, "\"id\" must be a non-empty string or an integer");
    }
    event.dedup_key = std::move(v.text);
  } else {
    event.dedup_key = "sha256:" + sha256_hex(event.content);
  }
  return event;
}

IngestBatch events_from_ndjson(std::string_view text, std::size_t first_line, const IngestTarget& target,
                               UnixMicros now, bool strict) {
  IngestBatch batch;
  std::size_t number = first_line;
  for (std::size_t start = 0; start < text.size(); ++number) {
    const auto newline = text.find('\n', start);
    const std::string_view line = text.substr(start, newline == std::string_view::npos ? text.npos : newline - start);
    start = newline == std::string_view::npos ? text.size() : newline + 1;
    if (line.find_first_not_of(k_blank) == std::string_view::npos) {
      continue;  // blank lines are not records
    }
    auto event = event_from_record(line, target, now);
    if (!event) {
      batch.rejects.push_back({number, std::move(event.error().message)});
      if (strict) {
        batch.stopped = true;
        break;
      }
      continue;
    }
    batch.events.push_back(std::move(*event));
  }
  return batch;
}

// --- IngestSink -------------------------------------------------------------

namespace {

constexpr std::size_t k_in_flight = 3;       // chunks travelling at once (1 with strict)
constexpr Millis k_reply_timeout{120'000};   // for serve's answer to one chunk
constexpr Millis k_max_backoff{1'000};

ChunkOutcome outcome_from_reply(const nlohmann::json& result) {
  ChunkOutcome outcome;
  outcome.accepted = result.value("accepted", std::size_t{0});
  outcome.duplicates = result.value("duplicates", std::size_t{0});
  outcome.stopped = result.value("stopped", false);
  if (const auto it = result.find("rejected"); it != result.end() && it->is_array()) {
    for (const auto& reject : *it) {
      if (reject.is_object()) {
        outcome.rejects.push_back({reject.value("line", std::size_t{0}), reject.value("message", std::string{})});
      }
    }
  }
  return outcome;
}

}  // namespace

IngestSink::IngestSink(const Config& config, IngestTarget target, bool strict, const Logging& logging)
    : m_config(config), m_target(std::move(target)), m_strict(strict), m_logging(logging) {}

IngestSink::~IngestSink() = default;

Result<void> IngestSink::start() {
  auto conn = ControlStream::connect(m_config.serve.socket);
  if (conn) {
    // Something listens; a stale socket file nobody accepts on fails to connect.
    m_conn = std::make_unique<ControlStream>(std::move(*conn));
    return {};
  }
  if (conn.error().code != Errc::unavailable) {
    return tl::unexpected(conn.error());
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

void IngestSink::send_to_serve(InFlight& item, bool retry) {
  nlohmann::json header{{"cmd", "ingest"},
                        {"stream", m_target.stream},
                        {"first_line", item.chunk.first_line},
                        {"bytes", item.chunk.text.size()}};
  if (!m_target.source.empty()) {
    header["source"] = m_target.source;
  }
  if (!m_target.type.empty()) {
    header["type"] = m_target.type;
  }
  if (m_strict) {
    header["strict"] = true;
  }
  if (retry) {
    header["retry"] = true;
  }
  item.refused = false;
  item.awaiting = true;
  if (auto sent = m_conn->send(header, item.chunk.text); !sent) {
    connection_lost();
  }
}

void IngestSink::connection_lost() {
  // Every chunk still waiting for an answer is lost with the connection and
  // goes again (or to the store).
  for (auto& item : m_in_flight) {
    if (item.awaiting) {
      item.awaiting = false;
      item.refused = true;
    }
  }
  m_conn_broken = true;
}

void IngestSink::write_locally(InFlight& item) {
  auto batch = events_from_ndjson(item.chunk.text, item.chunk.first_line, m_target, now_micros(), m_strict);
  item.local = ChunkOutcome{0, 0, std::move(batch.rejects), batch.stopped};
  item.awaiting = false;
  item.refused = false;
  if (batch.events.empty()) {
    item.outcome = std::move(item.local);
    return;
  }
  item.commit = m_writer->submit(WriteRequest{std::move(batch.events), std::nullopt});
}

Result<void> IngestSink::write(IngestChunk chunk, const OnOutcome& on_outcome) {
  if (chunk.text.empty()) {
    return {};
  }
  m_in_flight.emplace_back();
  m_in_flight.back().chunk = std::move(chunk);
  if (m_conn) {
    if (m_conn_broken) {
      m_in_flight.back().refused = true;  // goes with the others once recovered
    } else {
      send_to_serve(m_in_flight.back(), false);
    }
  } else {
    write_locally(m_in_flight.back());
  }
  const std::size_t travelling = m_strict ? 1 : k_in_flight;
  while (m_in_flight.size() >= travelling) {
    auto settled = settle_front(true, on_outcome);
    if (!settled) {
      return tl::unexpected(settled.error());
    }
  }
  return collect(on_outcome);
}

Result<void> IngestSink::collect(const OnOutcome& on_outcome) {
  for (;;) {
    auto settled = settle_front(false, on_outcome);
    if (!settled) {
      return tl::unexpected(settled.error());
    }
    if (!*settled) {
      return {};
    }
  }
}

Result<void> IngestSink::finish(const OnOutcome& on_outcome) {
  while (!m_in_flight.empty()) {
    auto settled = settle_front(true, on_outcome);
    if (!settled) {
      return tl::unexpected(settled.error());
    }
  }
  return {};
}

Result<bool> IngestSink::settle_front(bool wait, const OnOutcome& on_outcome) {
  for (;;) {
    if (m_in_flight.empty()) {
      return false;
    }
    InFlight& front = m_in_flight.front();
    if (front.outcome) {
      const ChunkOutcome outcome = std::move(*front.outcome);
      m_in_flight.pop_front();
      on_outcome(outcome);
      return true;
    }
    if (front.commit) {
      if (!wait && front.commit->wait_for(std::chrono::seconds{0}) != std::future_status::ready) {
        return false;
      }
      auto written = front.commit->get();
      if (!written) {
        return tl::unexpected(written.error());
      }
      ChunkOutcome outcome = std::move(front.local);
      outcome.accepted = written->inserted;
      outcome.duplicates = written->duplicates;
      m_in_flight.pop_front();
      on_outcome(outcome);
      return true;
    }
    // A chunk for serve: read the answers in order until the front's is in;
    // once every chunk sent is answered and some were refused, recover.
    const bool awaiting = std::any_of(m_in_flight.begin(), m_in_flight.end(), [](const InFlight& i) { return i.awaiting; });
    if (awaiting) {
      bool got = false;
      if (auto ok = read_serve_reply(wait, got); !ok) {
        return tl::unexpected(ok.error());
      }
      if (!got) {
        return false;
      }
      continue;
    }
    if (!wait) {
      return false;
    }
    if (auto ok = recover(); !ok) {
      return tl::unexpected(ok.error());
    }
  }
}

Result<void> IngestSink::read_serve_reply(bool wait, bool& got) {
  got = false;
  auto item = std::find_if(m_in_flight.begin(), m_in_flight.end(), [](const InFlight& i) { return i.awaiting; });
  auto line = m_conn->next_line(wait ? k_reply_timeout : Millis{0});
  if (!line) {
    connection_lost();  // serve gone, or dying
    got = true;
    return {};
  }
  if (!*line) {
    if (wait) {
      return fail(Errc::network, fmt::format("vibe serve did not answer within {}", format_duration(k_reply_timeout)));
    }
    return {};
  }
  got = true;
  item->awaiting = false;
  auto result = reply_result(**line);
  if (result) {
    item->outcome = outcome_from_reply(*result);
    m_backoff = Millis{20};
    return {};
  }
  const Errc code = result.error().code;
  if (code != Errc::unavailable && code != Errc::cancelled) {
    return tl::unexpected(result.error());
  }
  // Serve's writer is full (or stopping). Serve refuses the chunks sent
  // after this one too, so they keep their order when sent again.
  item->refused = true;
  return {};
}

Result<void> IngestSink::recover() {
  // Serve gone (or dying: a ping that fails in any way)? Then the store takes
  // the chunks it has not answered, and the rest; if serve had committed
  // one, its events count as duplicates.
  auto alive = control_request(m_config.serve.socket, {{"cmd", "ping"}}, Millis{5'000});
  if (alive && m_conn_broken) {
    auto conn = ControlStream::connect(m_config.serve.socket);
    if (conn) {
      m_conn = std::make_unique<ControlStream>(std::move(*conn));
      m_conn_broken = false;
    } else {
      alive = tl::unexpected(conn.error());
    }
  }
  if (!alive) {
    std::fprintf(stderr, "vibe ingest: vibe serve stopped; writing the rest to the store directly\n");
    m_conn.reset();
    m_conn_broken = false;
    m_fell_back = true;
    if (auto ok = open_store(); !ok) {
      return ok;
    }
    for (auto& item : m_in_flight) {
      if (!item.outcome) {
        write_locally(item);
      }
    }
    return {};
  }
  // Serve is up and its writer was full: hold the reader a moment, then send
  // the refused chunks again, in order.
  std::this_thread::sleep_for(m_backoff);
  m_backoff = std::min(k_max_backoff, m_backoff * 2);
  // Only the first says "retry": were it refused again, serve must refuse
  // the others behind it too.
  bool first = true;
  for (auto& item : m_in_flight) {
    if (item.refused && !m_conn_broken) {
      send_to_serve(item, std::exchange(first, false));
    }
  }
  return {};
}

}  // namespace vibe::core
