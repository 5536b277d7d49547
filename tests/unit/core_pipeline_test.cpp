#include "core/pipeline/filter.hpp"
#include "core/pipeline/mapping.hpp"

#include <doctest/doctest.h>

using namespace vibe::core;
using namespace vibe::core::pipeline;
using nlohmann::json;

namespace {

Mapping compile(const char* spec) {
  auto mapping = Mapping::compile(json::parse(spec));
  REQUIRE_MESSAGE(mapping, (mapping ? "" : mapping.error().message));
  return *mapping;
}

std::string compile_error(const char* spec) {
  auto mapping = Mapping::compile(json::parse(spec));
  return mapping ? std::string{} : mapping.error().message;
}

bool keeps(const char* filter, const char* record) {
  auto f = Filter::parse(filter);
  REQUIRE_MESSAGE(f, (f ? "" : f.error().message));
  return f->matches(json::parse(record));
}

FilterError filter_error(const char* filter) {
  auto f = Filter::parse(filter);
  REQUIRE_FALSE(f);
  return f.error();
}

const char* k_record = R"({"ticker": "ACME", "last": "12.5", "volume": 300, "at": 1767323045,
  "user": {"name": "ann", "tags": ["a", "b"]}, "flag": "yes", "empty": ""})";

}  // namespace

TEST_SUITE("core::pipeline::mapping") {
  TEST_CASE("pointers, conversions, templates and nested objects") {
    const Mapping m = compile(R"J({
      "symbol": "/ticker",
      "price": {"path": "/last", "as": "number"},
      "volume": {"path": "/volume", "as": "string"},
      "when": {"path": "/at", "as": "time"},
      "flagged": {"path": "/flag", "as": "bool"},
      "label": "{/ticker} by {/user/name} ({{x}})",
      "who": {"name": "/user/name", "first_tag": "/user/tags/0"}
    })J");
    auto out = m.apply(json::parse(k_record));
    REQUIRE(out);
    CHECK(out->record == json::parse(R"J({"symbol": "ACME", "price": 12.5, "volume": "300",
      "when": "2026-01-02T03:04:05Z", "flagged": true, "label": "ACME by ann ({x})",
      "who": {"name": "ann", "first_tag": "a"}})J"));
    CHECK(out->missing.empty());
    CHECK(m.fields() == std::vector<std::string>{"flagged", "label", "price", "symbol", "volume", "when",
                                                 "who.first_tag", "who.name"});
  }

  TEST_CASE("a missing path is null and counted; a default replaces it") {
    const Mapping m = compile(R"({"a": "/nope", "b": {"path": "/nope", "default": 7, "as": "number"},
                                 "c": {"path": "/user/nope"}, "d": "/ticker/deeper"})");
    auto out = m.apply(json::parse(k_record));
    REQUIRE(out);
    CHECK(out->record["a"].is_null());
    CHECK(out->record["b"] == 7);
    CHECK(out->record["c"].is_null());
    CHECK(out->record["d"].is_null());  // a pointer through a string: absent, not an error
    CHECK(out->missing == std::vector<std::string>{"a", "c", "d"});
  }

  TEST_CASE("a value that does not convert fails the record, naming the field") {
    const Mapping m = compile(R"({"n": {"path": "/ticker", "as": "number"}})");
    auto out = m.apply(json::parse(k_record));
    REQUIRE_FALSE(out);
    CHECK(out.error().message == "n: ACME is not a number");
    CHECK_FALSE(compile("{\"t\": {\"path\": \"/user\", \"as\": \"time\"}}").apply(json::parse(k_record)));
  }

  TEST_CASE("mistakes are found when the map is compiled") {
    CHECK(compile_error(R"({"a": {"path": "/x", "as": "int"}})") ==
          "a.as: 'int' is not one of string, number, bool, time");
    CHECK(compile_error(R"({"a": {"path": "/x", "default": "abc", "as": "number"}})").find("a.default") == 0);
    CHECK(compile_error(R"({"a": {"path": "/x", "type": "number"}})").find("unknown key 'type'") !=
          std::string::npos);
    CHECK(compile_error(R"({"a": "/x~2"})").find("not a JSON Pointer") != std::string::npos);
    CHECK(compile_error(R"({"a": "price: {/x"})").find("unclosed") != std::string::npos);
    CHECK(compile_error(R"({"a": 5})").find("expected a JSON Pointer") != std::string::npos);
    CHECK(compile_error(R"({})") == "map: expected a mapping of output fields");
  }
}

TEST_SUITE("core::pipeline::filter") {
  TEST_CASE("comparisons, logic and precedence") {
    CHECK(keeps("volume > 100", k_record));
    CHECK_FALSE(keeps("volume > 300", k_record));
    CHECK(keeps("volume >= 300 and ticker == \"ACME\"", k_record));
    CHECK(keeps("volume < 10 or ticker = 'ACME'", k_record));
    CHECK_FALSE(keeps("not ticker == 'ACME'", k_record));
    CHECK(keeps("volume < 10 or volume > 10 and ticker == 'ACME'", k_record));   // and binds tighter
    CHECK_FALSE(keeps("(volume < 10 or volume > 10) and ticker == 'X'", k_record));
    CHECK(keeps("ticker != 'X'", k_record));
    CHECK(keeps("last > '12'", k_record));           // two strings: lexical
    CHECK_FALSE(keeps("last > 12", k_record));       // a string and a number: no order
    CHECK(keeps("volume == 300.0", k_record));       // numbers compare by value
    CHECK(keeps("-5 < 0", k_record));
  }

  TEST_CASE("paths, exists, contains, matches, truthiness") {
    CHECK(keeps("user.name == 'ann'", k_record));
    CHECK(keeps("/user/name == 'ann'", k_record));
    CHECK(keeps("user.tags[1] == 'b'", k_record));
    CHECK(keeps("user.tags contains 'a'", k_record));
    CHECK_FALSE(keeps("user.tags contains 'z'", k_record));
    CHECK(keeps("ticker contains 'CM'", k_record));
    CHECK(keeps("exists user.name and not exists user.email", k_record));
    CHECK(keeps("ticker matches '^A.M'", k_record));
    CHECK_FALSE(keeps("volume matches '3'", k_record));  // only strings match
    CHECK(keeps("flag", k_record));
    CHECK_FALSE(keeps("empty", k_record));
    CHECK_FALSE(keeps("missing", k_record));
    CHECK(keeps("missing == null", k_record));
  }

  TEST_CASE("errors give the column") {
    auto e = filter_error("volume > ");
    CHECK(e.column == 10);
    CHECK(e.message.find("end of the filter") != std::string::npos);
    e = filter_error("ticker matches '(unclosed'");
    CHECK(e.column == 16);
    CHECK(e.message.find("bad regular expression") == 0);
    e = filter_error("a == 'open");
    CHECK(e.column == 6);
    CHECK(e.message == "unterminated string");
    e = filter_error("(a == 1");
    CHECK(e.message == "expected ')' to close the '(' at column 1");
    e = filter_error("a == 1 b");
    CHECK(e.column == 8);
    e = filter_error("a & b");
    CHECK(e.column == 3);
    CHECK(filter_error("").message == "the filter is empty");
    CHECK(filter_error("exists 5").message.find("exists takes a field") == 0);
    CHECK(filter_error("a == and").message.find("keyword 'and'") != std::string::npos);
  }
}
