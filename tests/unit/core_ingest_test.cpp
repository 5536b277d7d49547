#include "core/hash.hpp"
#include "core/ingest.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace vibe::core;

namespace {

const IngestTarget k_target{"builds", "", ""};
constexpr UnixMicros k_now = 1'795'305'600'000'000;  // 2026-11-22T00:00:00Z

std::string message_of(std::string_view line) {
  auto event = event_from_record(line, k_target, k_now);
  REQUIRE_FALSE(event);
  return event.error().message;
}

}  // namespace

TEST_CASE("a record's top-level fields make the event; its text as given is the content") {
  const std::string line =
      R"(  {"url": "https://ci.example/b1", "id": "b1", "type": "build", "occurred_at": "2026-11-22T10:00:00Z",)"
      R"( "nested": {"id": "inner", "type": "x"}}  )"
      "\r";
  auto event = event_from_record(line, k_target, k_now);
  REQUIRE(event);
  CHECK(event->stream_id == "builds");
  CHECK(event->source_id == "ingest.builds");
  CHECK(event->type == "build");
  CHECK(event->dedup_key == "b1");
  CHECK(event->url == "https://ci.example/b1");
  CHECK(event->occurred_at == k_now + 10LL * 3600 * 1'000'000);
  // Key order and spacing kept; only the whitespace around the object goes.
  CHECK(event->content ==
        R"({"url": "https://ci.example/b1", "id": "b1", "type": "build", "occurred_at": "2026-11-22T10:00:00Z",)"
        R"( "nested": {"id": "inner", "type": "x"}})");
}

TEST_CASE("defaults: the target's source and type, the time now, the content's hash as key") {
  const IngestTarget target{"builds", "ci", "job"};
  auto event = event_from_record(R"({"status":"ok"})", target, k_now);
  REQUIRE(event);
  CHECK(event->source_id == "ci");
  CHECK(event->type == "job");
  CHECK(event->occurred_at == k_now);
  CHECK(event->dedup_key == "sha256:" + sha256_hex(R"({"status":"ok"})"));
  auto plain = event_from_record(R"({"status":"ok"})", k_target, k_now);
  REQUIRE(plain);
  CHECK(plain->type == "record");
}

TEST_CASE("an integer id is the dedup key in its digits; the last of a repeated key wins") {
  auto event = event_from_record(R"({"id": 18446744073709551615, "type": "a", "type": "b"})", k_target, k_now);
  REQUIRE(event);
  CHECK(event->dedup_key == "18446744073709551615");
  CHECK(event->type == "b");
  auto negative = event_from_record(R"({"id": -7})", k_target, k_now);
  REQUIRE(negative);
  CHECK(negative->dedup_key == "-7");
}

TEST_CASE("fields of the wrong kind are rejected with their name") {
  CHECK(message_of(R"({"type": ""})") == "\"type\" must be a non-empty string");
  CHECK(message_of(R"({"type": {"name": "x"}})") == "\"type\" must be a non-empty string");
  CHECK(message_of(R"({"occurred_at": "yesterday"})") == "\"occurred_at\" must be an RFC 3339 time, got \"yesterday\"");
  CHECK(message_of(R"({"occurred_at": 1795305600})") == "\"occurred_at\" must be an RFC 3339 time, got integer");
  CHECK(message_of(R"({"url": null})") == "\"url\" must be a string");
  CHECK(message_of(R"({"id": 1.5})") == "\"id\" must be a non-empty string or an integer");
  CHECK(message_of(R"({"id": ""})") == "\"id\" must be a non-empty string or an integer");
  CHECK(message_of(R"({"id": ["a"]})") == "\"id\" must be a non-empty string or an integer");
}

TEST_CASE("what is not one JSON object is rejected") {
  CHECK(message_of(R"([{"id": 1}])") == "expected a JSON object, got array");
  CHECK(message_of(R"("text")") == "expected a JSON object, got string");
  CHECK(message_of("42") == "expected a JSON object, got integer");
  CHECK(message_of("null") == "expected a JSON object, got null");
  CHECK(message_of("not json").rfind("not valid JSON: column 2: syntax error", 0) == 0);
  CHECK(message_of(R"({"id": "a"} {"id": "b"})").rfind("not valid JSON: ", 0) == 0);  // two values
  CHECK(message_of(R"({"id": "a")").rfind("not valid JSON: ", 0) == 0);              // cut short
  CHECK(message_of("{\"title\": \"caf\xc3\"}").rfind("not valid JSON: ", 0) == 0);   // broken UTF-8
  CHECK(message_of("{\"id\": \"a\"}\x01").rfind("not valid JSON: ", 0) == 0);
  CHECK(message_of("").rfind("not valid JSON: ", 0) == 0);
}

TEST_CASE("deeply nested content is parsed without recursion trouble") {
  const std::string deep = R"({"a":)" + std::string(10'000, '[') + std::string(10'000, ']') + "}";
  auto event = event_from_record(deep, k_target, k_now);
  REQUIRE(event);
  CHECK(event->content == deep);
}

TEST_CASE("NDJSON text: blank lines skipped, bad lines rejected by number, a last line without newline counts") {
  const std::string text = "{\"id\": \"a\"}\n\n   \r\nbroken\n{\"id\": \"b\"}\n[1]\n{\"id\": \"c\"}";
  auto batch = events_from_ndjson(text, 41, k_target, k_now, false);
  REQUIRE(batch.events.size() == 3);
  CHECK(batch.events[0].dedup_key == "a");
  CHECK(batch.events[1].dedup_key == "b");
  CHECK(batch.events[2].dedup_key == "c");
  REQUIRE(batch.rejects.size() == 2);
  CHECK(batch.rejects[0].line == 44);
  CHECK(batch.rejects[0].message.rfind("not valid JSON", 0) == 0);
  CHECK(batch.rejects[1].line == 46);
  CHECK(batch.rejects[1].message == "expected a JSON object, got array");
  CHECK_FALSE(batch.stopped);
}

TEST_CASE("NDJSON text, strict: the first bad line stops it, the lines before it stay") {
  const std::string text = "{\"id\": \"a\"}\n{\"id\": \"b\"}\nbroken\n{\"id\": \"c\"}\nalso broken\n";
  auto batch = events_from_ndjson(text, 1, k_target, k_now, true);
  REQUIRE(batch.events.size() == 2);
  CHECK(batch.events[1].dedup_key == "b");
  REQUIRE(batch.rejects.size() == 1);
  CHECK(batch.rejects[0].line == 3);
  CHECK(batch.stopped);
}

TEST_CASE("NDJSON text: empty and blank-only input make nothing") {
  CHECK(events_from_ndjson("", 1, k_target, k_now, true).events.empty());
  auto blank = events_from_ndjson("\n \n\t\n", 1, k_target, k_now, true);
  CHECK(blank.events.empty());
  CHECK(blank.rejects.empty());
  CHECK_FALSE(blank.stopped);
}
