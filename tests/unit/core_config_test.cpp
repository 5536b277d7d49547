#include "core/config.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using namespace vibe::core;

namespace {

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string{name});
    return it == vars.end() ? std::nullopt : std::optional<std::string>{it->second};
  };
}

Result<Config> parse(std::string_view text, std::map<std::string, std::string> env = {}) {
  return parse_config(text, "/etc/vibe/vibe.yaml", fake_env(std::move(env)));
}

}  // namespace

TEST_SUITE("core::config") {
  TEST_CASE("a minimal file gets defaults resolved against its directory") {
    auto config = parse("sources:\n  hn: { type: rss, url: \"https://news.example/rss\" }\n");
    REQUIRE(config);
    CHECK(config->data_dir == "/etc/vibe/.vibe");
    CHECK(config->sqlite_path == "/etc/vibe/.vibe/vibe.db");
    REQUIRE(config->sources.size() == 1);
    CHECK(config->sources[0].options.get("every") == "15m");
    CHECK(config->sources[0].options.duration("every") == std::chrono::minutes{15});
    CHECK(config->buffer.max_events == 1000);
  }

  TEST_CASE("an empty file is a valid config with nothing in it") {
    auto config = parse("");
    REQUIRE(config);
    CHECK(config->sources.empty());
  }

  TEST_CASE("file: URLs and the store path are relative to the config file") {
    auto config = parse("store: sqlite:data/x.db\nsources:\n  a: { type: rss, url: \"file:feeds/a.xml\" }\n");
    REQUIRE(config);
    CHECK(config->sqlite_path == "/etc/vibe/data/x.db");
    CHECK(config->sources[0].options.get("url") == "file:///etc/vibe/feeds/a.xml");
  }

  TEST_CASE("an unknown key names line and column and suggests the likely key") {
    auto config = parse("sources:\n  hn:\n    type: rss\n    url: https://a.example/\n    evry: 5m\n");
    REQUIRE(!config);
    CHECK(config.error().code == Errc::config);
    CHECK(config.error().message ==
          "/etc/vibe/vibe.yaml:5:5: sources.hn: unknown key 'evry' (did you mean 'every'?)");
  }

  TEST_CASE("every mistake is reported, not just the first") {
    auto config = parse(
        "version: 2\n"
        "sourcs: {}\n"
        "sources:\n"
        "  a: { type: rss, url: \"ftp://x/\" }\n"
        "  b: { type: rss }\n"
        "  c: { type: rss, url: \"https://c.example/\", every: 0s }\n"
        "streams:\n"
        "  s: { sources: [a, z] }\n");
    REQUIRE(!config);
    const std::string& m = config.error().message;
    CHECK(m.find("vibe.yaml:1:10: version: this vibe reads version 1 files") != std::string::npos);
    CHECK(m.find("vibe.yaml:2:1: unknown top-level key 'sourcs' (did you mean 'sources'?)") != std::string::npos);
    CHECK(m.find("vibe.yaml:4:24: sources.a.url: unsupported URL scheme 'ftp'") != std::string::npos);
    CHECK(m.find("vibe.yaml:5:6: sources.b: missing required key 'url'") != std::string::npos);
    CHECK(m.find("sources.c.every: duration '0s' must be greater than zero") != std::string::npos);
    CHECK(m.find("vibe.yaml:8:21: streams.s.sources: no source named 'z'") != std::string::npos);
    CHECK(std::count(m.begin(), m.end(), '\n') == 5);
  }

  TEST_CASE("${VAR} is expanded for use but the display form keeps the reference") {
    auto config = parse("sources:\n  p: { type: rss, url: \"https://x.example/f?token=${TOKEN}\" }\n",
                        {{"TOKEN", "hunter2"}});
    REQUIRE(config);
    CHECK(config->sources[0].options.get("url") == "https://x.example/f?token=hunter2");
    CHECK(config->sources[0].options.display("url") == "https://x.example/f?token=${TOKEN}");
  }

  TEST_CASE("an unset variable is an error at its value") {
    auto config = parse("sources:\n  p: { type: rss, url: \"https://x/${NOPE}\" }\n");
    REQUIRE(!config);
    CHECK(config.error().message == "/etc/vibe/vibe.yaml:2:24: environment variable NOPE is not set");
  }

  TEST_CASE("a secret that makes a value invalid is not echoed") {
    auto config = parse("sources:\n  p: { type: rss, url: \"${URL}\" }\n", {{"URL", "not a url hunter2"}});
    REQUIRE(!config);
    CHECK(config.error().message.find("hunter2") == std::string::npos);
    CHECK(config.error().message.find("value of '${URL}' is not a valid url") != std::string::npos);
  }

  TEST_CASE("$$ is a literal dollar") {
    auto config = parse("sources:\n  p: { type: rss, url: \"https://x.example/$$5\" }\n");
    REQUIRE(config);
    CHECK(config->sources[0].options.get("url") == "https://x.example/$5");
  }

  TEST_CASE("YAML syntax errors carry line and column") {
    auto config = parse("sources:\n  a: [\n");
    REQUIRE(!config);
    CHECK(config.error().message.rfind("/etc/vibe/vibe.yaml:", 0) == 0);
    CHECK(config.error().message.find("not valid YAML") != std::string::npos);
  }

  TEST_CASE("a pipeline reads its source, schedule, map, filter and sinks") {
    auto config = parse(R"(sources:
  hn: { type: rss, url: "https://news.example/rss" }
streams:
  wall: { sources: [hn] }
pipelines:
  prices:
    from: { type: http_api, url: "https://api.example/t", items: /data }
    every: 30s
    map: { symbol: /ticker, price: { path: /last, as: number } }
    filter: 'price > 10'
    persist: false
    keep: forever
    stream: wall
    sinks:
      - { type: webhook, url: "https://hooks.example/x", secret: "${S}", batch: 10 }
      - { type: file, path: out/p.ndjson }
  news: { from: hn, cron: "*/5 * * * *" }
  chained: { from: "pipeline:prices", execution: job }
)", {{"S", "s3"}});
    REQUIRE_MESSAGE(config, config.error().message);
    REQUIRE(config->pipelines.size() == 3);
    const auto& prices = config->pipelines[0];
    REQUIRE(prices.source);
    CHECK(prices.source->id == "pipeline:prices");
    CHECK(prices.source->type == "http_api");
    CHECK(prices.every == std::chrono::seconds{30});
    CHECK(prices.map["price"]["as"] == "number");
    CHECK(prices.filter == "price > 10");
    CHECK_FALSE(prices.persist);
    CHECK(prices.keep.count() == 0);
    CHECK(prices.stream == "wall");
    REQUIRE(prices.sinks.size() == 2);
    CHECK(prices.sinks[0].options.get("secret") == "s3");
    CHECK(prices.sinks[0].options.display("secret") == "${S}");
    CHECK(prices.sinks[0].options.integer("batch") == 10);
    CHECK(prices.sinks[1].options.get("path") == "/etc/vibe/out/p.ndjson");
    CHECK(prices.sinks[1].options.integer("batch") == 100);
    CHECK(config->pipelines[1].source->id == "hn");
    CHECK(config->pipelines[1].cron == "*/5 * * * *");
    CHECK(config->pipelines[2].from_pipeline == "prices");
    CHECK_FALSE(config->pipelines[2].source);
    REQUIRE(config->downstream_of("prices").size() == 1);
    CHECK(config->downstream_of("prices")[0]->id == "chained");
    CHECK(config->queues.at("deliver") == 5);
  }

  TEST_CASE("pipeline mistakes are reported at their line and column") {
    auto config = parse(R"(pipelines:
  a:
    from: { type: http_api, url: "https://api.example/t", every: 5m }
    filter: 'price >> 3'
    map: { p: { path: /x, as: int } }
    sinks: [ { type: webhok, url: "https://x.example" }, { type: file } ]
  b: { from: nowhere, every: 1m, cron: "* * * * *" }
  c: { from: "pipeline:d" }
  d: { from: "pipeline:c" }
  e: { from: "pipeline:zzz", execution: worker }
)");
    REQUIRE(!config);
    const std::string& m = config.error().message;
    INFO(m);
    CHECK(m.find("vibe.yaml:3:66: pipelines.a.from: a pipeline's schedule is its own") != std::string::npos);
    // The column of ">>" inside the quoted expression: 13 + 1 (quote) + 7.
    CHECK(m.find("vibe.yaml:4:21: pipelines.a.filter:") != std::string::npos);
    CHECK(m.find("pipelines.a.map.p.as: 'int' is not one of") != std::string::npos);
    CHECK(m.find("pipelines.a.sinks[0].type: unknown sink type 'webhok' (did you mean 'webhook'?)") != std::string::npos);
    CHECK(m.find("pipelines.a.sinks[1]: missing required key 'path'") != std::string::npos);
    CHECK(m.find("pipelines.b.from: no source named 'nowhere'") != std::string::npos);
    CHECK(m.find("pipelines.b: give every or cron, not both") != std::string::npos);
    CHECK(m.find("pipelines.c.from: pipelines chained in a loop") != std::string::npos);
    CHECK(m.find("pipelines.e.from: no pipeline named 'zzz'") != std::string::npos);
    CHECK(m.find("pipelines.e.execution: worker runs on an interval: set every") != std::string::npos);
  }

  TEST_CASE("serve: block has defaults and checks its keys") {
    auto defaults = parse("sources: {}\n");
    REQUIRE(defaults);
    CHECK(defaults->serve.socket == defaults->data_dir / "vibe.sock");
    CHECK(defaults->serve.max_restarts == 10);
    CHECK(defaults->serve.restart_window == vibe::core::Millis{60'000});
    auto custom = parse("serve:\n  socket: run/v.sock\n  max_restarts: 3\n  breaker_cooldown: 2s\n");
    REQUIRE(custom);
    CHECK(custom->serve.socket == "/etc/vibe/run/v.sock");
    CHECK(custom->serve.max_restarts == 3);
    CHECK(custom->serve.breaker_cooldown == vibe::core::Millis{2'000});
    auto typo = parse("serve:\n  max_restart: 3\n");
    REQUIRE(!typo);
    CHECK(typo.error().message.find("/etc/vibe/vibe.yaml:2:3: serve: unknown key 'max_restart' (did you mean "
                                    "'max_restarts'?)") != std::string::npos);
  }

  TEST_CASE("wrong shapes are reported with what was found") {
    auto config = parse("sources:\n  a: [1, 2]\nstreams:\n  s: { sources: hn }\n");
    REQUIRE(!config);
    CHECK(config.error().message.find("sources.a: expected a mapping with at least 'type', got a list") !=
          std::string::npos);
    CHECK(config.error().message.find("streams.s.sources: expected a list of source ids, got a scalar") !=
          std::string::npos);
  }

  TEST_CASE("buffer limits are read and checked") {
    auto config = parse("buffer: { max_events: 500, max_delay: 20ms, max_pending: 9000 }\n");
    REQUIRE(config);
    CHECK(config->buffer.max_events == 500);
    CHECK(config->buffer.max_delay == std::chrono::milliseconds{20});
    CHECK(config->buffer.max_pending == 9000);
    CHECK(!parse("buffer: { max_events: lots }\n"));
  }

  TEST_CASE("streams know their sources and a source knows its first stream") {
    auto config = parse(
        "sources:\n  a: { type: rss, url: \"https://a.example/\" }\n  b: { type: rss, url: \"https://b.example/\" }\n"
        "streams:\n  one: { title: One, sources: [b] }\n  two: { sources: [a, b] }\n");
    REQUIRE(config);
    CHECK(config->stream_of("b") == "one");
    CHECK(config->stream_of("a") == "two");
    CHECK(config->find_stream("one")->title == "One");
  }

  TEST_CASE("the config file is found by flag, then $VIBE_CONFIG, then ./vibe.yaml") {
    CHECK(resolve_config_path(std::string{"x.yaml"}, fake_env({{"VIBE_CONFIG", "y.yaml"}})) == "x.yaml");
    CHECK(resolve_config_path(std::nullopt, fake_env({{"VIBE_CONFIG", "y.yaml"}})) == "y.yaml");
    CHECK(resolve_config_path(std::nullopt, fake_env({})) == "vibe.yaml");
  }

  TEST_CASE("nearest suggests only close words") {
    CHECK(nearest("evry", {"every", "url"}) == "every");
    CHECK(nearest("zzzzzz", {"every", "url"}).empty());
    CHECK(nearest("URL", {"every", "url"}) == "url");
  }

  TEST_CASE("queues set concurrency per queue and keep the defaults for the rest") {
    auto config = parse("queues: { deliver: 3, poll: 20 }\n");
    REQUIRE(config);
    CHECK(config->queues.at("deliver") == 3);
    CHECK(config->queues.at("poll") == 20);
    CHECK(config->queues.at("default") == 5);
    auto bad = parse("queues: { poll: 0, 'x y': 2 }\n");
    REQUIRE(!bad);
    CHECK(bad.error().message.find("queues.poll: concurrency must be an integer from 1 to 1000") != std::string::npos);
  }

  TEST_CASE("cron entries become jobs: command, run source:ID, or worker with args") {
    auto config = parse(
        "sources:\n  hn: { type: rss, url: \"https://a.example/\" }\n"
        "cron:\n"
        "  - { schedule: \"0 * * * *\", command: \"echo hi\" }\n"
        "  - { name: hn-hourly, schedule: \"@hourly\", run: \"source:hn\", catch_up: none }\n"
        "  - { schedule: \"30 2 * * *\", timezone: America/New_York, worker: noop, args: { n: 3, s: x, q: \"4\" } }\n");
    REQUIRE(config);
    REQUIRE(config->cron.size() == 3);
    CHECK(config->cron[0].worker == "exec");
    CHECK(config->cron[0].args == R"({"shell":"echo hi"})");
    CHECK(config->cron[0].name.rfind("cron-", 0) == 0);
    CHECK(config->cron[1].name == "hn-hourly");
    CHECK(config->cron[1].worker == "poll");
    CHECK(config->cron[1].queue == "poll");
    CHECK(!config->cron[1].catch_up_one);
    CHECK(config->cron[2].timezone == "America/New_York");
    CHECK(config->cron[2].args == R"({"n":3,"q":"4","s":"x"})");
  }

  TEST_CASE("a cron expression that is malformed or can never fire is an error at its line and column") {
    auto config = parse(
        "cron:\n"
        "  - { schedule: \"0 0 30 2 *\", command: x }\n"
        "  - { schedule: \"61 * * * *\", command: x }\n"
        "  - { schedule: \"@daily\", timezone: Mars/Base, command: x }\n"
        "  - { schedule: \"@daily\" }\n"
        "  - { schedule: \"@daily\", run: \"source:nope\" }\n");
    REQUIRE(!config);
    const std::string& m = config.error().message;
    CHECK(m.find("vibe.yaml:2:17: cron[0]: '0 0 30 2 *' can never fire") != std::string::npos);
    CHECK(m.find("vibe.yaml:3:17: cron[1]: minute: 61 is out of range 0-59") != std::string::npos);
    CHECK(m.find("vibe.yaml:4:37: cron[2]: unknown time zone 'Mars/Base'") != std::string::npos);
    CHECK(m.find("vibe.yaml:5:5: cron[3]: give exactly one of 'command', 'run' or 'worker'") != std::string::npos);
    CHECK(m.find("cron[4].run: want source:<id> or pipeline:<id>") != std::string::npos);
  }

  TEST_CASE("a cron worker must be one the job layer knows, when it says which") {
    const std::vector<std::string> workers{"poll", "exec", "noop"};
    auto config = parse_config("cron:\n  - { schedule: \"@daily\", worker: nop }\n", "/etc/vibe/vibe.yaml",
                               fake_env({}), &workers);
    REQUIRE(!config);
    CHECK(config.error().message ==
          "/etc/vibe/vibe.yaml:2:35: cron[0].worker: no worker named 'nop' (did you mean 'noop'?)");
    CHECK(parse_config("cron:\n  - { schedule: \"@daily\", worker: noop }\n", "/etc/vibe/vibe.yaml", fake_env({}),
                       &workers));
  }
}
