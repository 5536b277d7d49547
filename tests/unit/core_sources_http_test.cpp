#include "core/config.hpp"
#include "core/net/fetcher.hpp"
#include "core/source.hpp"
#include "core/sources/http_api.hpp"
#include "core/sources/http_common.hpp"

#include "fixtures.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace vibe::core;

namespace {

// The sources of a config text, checked as vibe would load them.
Config load(const std::string& sources_yaml) {
  const EnvLookup env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "TOKEN") {
      return "s3cret";
    }
    return std::nullopt;
  };
  auto config = parse_config("version: 1\nsources:\n" + sources_yaml, "/tmp/unit/vibe.yaml", env);
  REQUIRE_MESSAGE(config, (config ? "" : config.error().message));
  return *config;
}

std::unique_ptr<Source> make(const Config& config, const std::string& id) {
  const SourceConfig* source = config.find_source(id);
  REQUIRE(source != nullptr);
  return find_source_kind(source->type)->make(SourceSpec{id, source->type, "", source->options});
}

std::string config_error(const std::string& sources_yaml) {
  auto config = parse_config("version: 1\nsources:\n" + sources_yaml, "/tmp/unit/vibe.yaml",
                             [](std::string_view) { return std::optional<std::string>{}; });
  return config ? std::string{} : config.error().message;
}

FetchResponse ok(std::string body) {
  FetchResponse r;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_SUITE("core::sources::http_common") {
  TEST_CASE("next_link finds rel=next among the links of a Link header") {
    CHECK(http_common::next_link(R"(<https://a.example/p?page=2>; rel="next", <https://a.example/p?page=9>; rel="last")") ==
          "https://a.example/p?page=2");
    CHECK(http_common::next_link(R"(<https://a.example/1>; rel="prev", <https://a.example/3>; rel="next")") ==
          "https://a.example/3");
    CHECK(http_common::next_link(R"(<https://a.example/1>; rel="prev", <https://a.example/1>; rel="first")").empty());
    CHECK(http_common::next_link("").empty());
    CHECK(http_common::next_link("<unterminated; rel=\"next\"").empty());
  }

  TEST_CASE("times: RFC 3339, RFC 822, epoch seconds and milliseconds") {
    CHECK(http_common::parse_time_value("2026-01-02T03:04:05Z") == 1767323045LL * 1'000'000);
    CHECK(http_common::parse_time_value("Fri, 02 Jan 2026 03:04:05 GMT") == 1767323045LL * 1'000'000);
    CHECK(http_common::parse_time_value(1767323045) == 1767323045LL * 1'000'000);
    CHECK(http_common::parse_time_value(1767323045123LL) == 1767323045123LL * 1'000);
    CHECK_FALSE(http_common::parse_time_value("yesterday"));
    CHECK_FALSE(http_common::parse_time_value(-5));
    CHECK_FALSE(http_common::parse_time_value(nlohmann::json::object()));
  }

  TEST_CASE("a record becomes an event keyed by its id, else by a hash of it") {
    SourceSpec spec{"api", "http_api", "s", {}};
    std::vector<std::string> warnings;
    const auto record = nlohmann::json::parse(R"({"id": 42, "at": "2026-01-02T03:04:05Z", "link": "https://x/42"})");
    const Event e = http_common::record_to_event(record, spec, {"thing", "/id", "/at", "/link"}, 7, warnings);
    CHECK(e.dedup_key == "42");
    CHECK(e.occurred_at == 1767323045LL * 1'000'000);
    CHECK(e.url == "https://x/42");
    CHECK(e.type == "thing");
    CHECK(warnings.empty());
    const Event hashed = http_common::record_to_event(record, spec, {"thing", "/missing", "/nope", ""}, 7, warnings);
    CHECK(hashed.dedup_key.rfind("sha256:", 0) == 0);
    CHECK(hashed.occurred_at == 7);
    CHECK(warnings.size() == 1);
    CHECK(http_common::record_to_event(record, spec, {"thing", "", "", ""}, 7, warnings).dedup_key == hashed.dedup_key);
  }

  TEST_CASE("query parameters are percent-encoded and appended") {
    const auto query = nlohmann::json{{"q", "a b&c"}, {"n", 5}};
    CHECK(http_api::with_query("https://a.example/x", query) == "https://a.example/x?n=5&q=a%20b%26c");
    CHECK(http_api::with_query("https://a.example/x?k=1#top", query) == "https://a.example/x?k=1&n=5&q=a%20b%26c#top");
    CHECK(http_api::with_query("https://a.example/x", nlohmann::json::object()) == "https://a.example/x");
  }

  TEST_CASE("host keys name scheme defaults and ignore credentials; file: has none") {
    CHECK(host_key("https://API.example.com/v1?x=1") == "api.example.com:443");
    CHECK(host_key("http://user:pw@api.example.com:8080/x") == "api.example.com:8080");
    CHECK(host_key("http://[::1]/x") == "[::1]:80");
    CHECK(host_key("http://[::1]:81/x") == "[::1]:81");
    CHECK(host_key("file:///tmp/x").empty());
  }
}

TEST_SUITE("core::sources::intervals") {
  TEST_CASE("every: auto halves after news and grows by half after none, within its bounds") {
    const Config config = load("  a: { type: http_api, url: 'http://x/', every: auto, every_min: 1m, every_max: 10m }\n"
                               "  b: { type: http_api, url: 'http://x/', every: 30s }\n");
    const PollInterval a = poll_interval(config.find_source("a")->options);
    CHECK(a.adaptive);
    CHECK(a.initial() == Millis{60'000});
    CHECK(a.next(Millis{60'000}, 0) == Millis{90'000});
    CHECK(a.next(Millis{500'000}, 0) == Millis{600'000});  // capped at every_max
    CHECK(a.next(Millis{90'000}, 3) == Millis{60'000});    // floored at every_min
    const PollInterval b = poll_interval(config.find_source("b")->options);
    CHECK_FALSE(b.adaptive);
    CHECK(b.next(Millis{30'000}, 5) == Millis{30'000});
  }
}

TEST_SUITE("core::sources::http_api") {
  TEST_CASE("structured options: query and headers are maps, body any YAML, secrets expanded") {
    const Config config = load(
        "  a: { type: http_api, url: 'http://x/items', method: POST, query: { q: open, n: 5 },\n"
        "       headers: { X-A: '${TOKEN}' }, body: { since: 5, name: \"5\", on: true, none: null },\n"
        "       auth: bearer, token: '${TOKEN}' }\n");
    const auto& options = config.find_source("a")->options;
    CHECK(options.json("body") == nlohmann::json::parse(R"({"since": 5, "name": "5", "on": true, "none": null})"));
    CHECK(options.json("query") == nlohmann::json::parse(R"({"q": "open", "n": "5"})"));
    CHECK(options.json("headers")["X-A"] == "s3cret");
    CHECK(options.display("headers").find("${TOKEN}") != std::string::npos);  // what may be shown or stored
    auto source = make(config, "a");
    PollState state;
    PollContext context{state, "", "", nullptr};
    const auto requests = source->requests(context);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].method == "POST");
    CHECK(requests[0].url == "http://x/items?n=5&q=open");
    CHECK(nlohmann::json::parse(requests[0].body)["since"] == 5);
    const auto has_header = [&](const std::string& name, const std::string& value) {
      for (const auto& [n, v] : requests[0].headers) {
        if (n == name && v == value) {
          return true;
        }
      }
      return false;
    };
    CHECK(has_header("Authorization", "Bearer s3cret"));
    CHECK(has_header("X-A", "s3cret"));
    CHECK(has_header("Content-Type", "application/json"));
    CHECK(requests[0].display_url.find("s3cret") == std::string::npos);
  }

  TEST_CASE("mistakes in options are config errors naming the option") {
    CHECK(config_error("  a: { type: http_api, url: 'http://x/', paginate: pages }\n").find("paginate") !=
          std::string::npos);
    CHECK(config_error("  a: { type: http_api, url: 'http://x/', items: 'data' }\n").find("JSON Pointer") !=
          std::string::npos);
    CHECK(config_error("  a: { type: http_api, url: 'http://x/', auth: bearer }\n").find("needs token") !=
          std::string::npos);
    CHECK(config_error("  a: { type: http_api, url: 'http://x/', query: [a, b] }\n").find("expected a mapping") !=
          std::string::npos);
    CHECK(config_error("  a: { type: github, repo: nope }\n").find("owner/name") != std::string::npos);
    CHECK(config_error("  a: { type: github, repo: o/n, watch: [issues, stars] }\n").find("stars") !=
          std::string::npos);
    CHECK(config_error("  a: { type: command, command: ls, mode: forever }\n").find("mode") != std::string::npos);
    CHECK(config_error("  a: { type: file, path: x.log, from: middle }\n").find("from") != std::string::npos);
    CHECK(config_error("  a: { type: rss, url: 'http://x/', every: sometimes }\n").find("every") != std::string::npos);
  }

  TEST_CASE("a page with a next link asks for the next page, up to max_pages") {
    const Config config = load("  a: { type: http_api, url: 'http://x/items', paginate: next_field, items: /items,"
                               " next: /next, id: /id, max_pages: 2 }\n");
    auto source = make(config, "a");
    PollState state;
    PollContext context{state, "", "", nullptr};
    FetchRequest first = source->requests(context).front();
    auto page1 = source->parse(first, ok(R"({"items": [{"id": "a"}, {"id": "b"}], "next": "/items?p=2"})"), context, 1);
    REQUIRE(page1);
    CHECK(page1->events.size() == 2);
    REQUIRE(page1->more.size() == 1);
    CHECK(page1->more[0].url == "http://x/items?p=2");
    CHECK(page1->more[0].page == 2);
    auto page2 = source->parse(page1->more[0], ok(R"({"items": [{"id": "c"}], "next": "/items?p=3"})"), context, 1);
    REQUIRE(page2);
    CHECK(page2->more.empty());  // max_pages reached
    CHECK(page2->warnings.size() == 1);
    auto broken = source->parse(first, ok(R"({"items": [)"), context, 1);
    REQUIRE_FALSE(broken);
    CHECK(broken.error().message.find("not JSON") != std::string::npos);
  }
}

TEST_SUITE("core::sources::github") {
  TEST_CASE("the fixture issues page: issues kept, pull requests left to `pulls`, since and ETag remembered") {
    const Config config = load("  gh: { type: github, repo: o/n, watch: [issues], base_url: 'http://gh.local' }\n");
    auto source = make(config, "gh");
    PollState state;
    PollContext context{state, "", "", nullptr};
    const auto requests = source->requests(context);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].url.rfind("http://gh.local/repos/o/n/issues?", 0) == 0);
    FetchResponse response = ok(vibe::test::read_fixture("github/issues.json"));
    response.etag = "W/\"abc\"";
    response.headers.emplace_back("link", "<http://gh.local/repositories/1/issues?page=2>; rel=\"next\"");
    auto poll = source->parse(requests[0], response, context, 1);
    REQUIRE(poll);
    CHECK(poll->events.size() == 5);  // 8 items, 3 of them pull requests
    for (const auto& event : poll->events) {
      CHECK(event.type == "github_issue");
      CHECK(event.dedup_key.rfind("issue:", 0) == 0);
    }
    REQUIRE(poll->more.size() == 1);
    CHECK(poll->more[0].page == 2);
    CHECK(context.memo["etags"]["issues"] == "W/\"abc\"");
    CHECK(context.memo["since"] == "2025-03-14T09:55:31Z");
    // The next poll is conditional and asks since then.
    const auto next = source->requests(context);
    CHECK(next[0].etag == "W/\"abc\"");
    CHECK(next[0].url.find("since=2025-03-14T09:55:31Z") != std::string::npos);
  }
}
