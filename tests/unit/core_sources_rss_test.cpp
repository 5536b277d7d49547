#include "core/sources/rss.hpp"

#include "fixtures.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace vibe::core;

namespace {

SourceSpec spec() {
  SourceSpec s{"hn", "rss", "news", {}};
  for (const auto& row : rss::k_options) {
    s.options.set(row.name, OptionValue{row.default_value ? row.default_value : "https://feeds.example/rss.xml",
                                        row.default_value ? row.default_value : "https://feeds.example/rss.xml"});
  }
  return s;
}

}  // namespace

TEST_SUITE("core::sources::rss") {
  TEST_CASE("an entry's id is its dedup key, and published is its time") {
    feed::Feed f;
    f.title = "Feed";
    feed::Entry e;
    e.id = "guid-1";
    e.link = "https://x.example/1";
    e.title = "One";
    e.published = 5;
    e.updated = 9;
    const Event event = rss::to_event(e, f, spec(), 100);
    CHECK(event.dedup_key == "guid-1");
    CHECK(event.occurred_at == 5);
    CHECK(event.type == "feed_item");
    CHECK(event.source_id == "hn");
    CHECK(event.stream_id == "news");
    CHECK(event.url == "https://x.example/1");
    const auto content = nlohmann::json::parse(event.content);
    CHECK(content["title"] == "One");
    CHECK(content["feed_title"] == "Feed");
  }

  TEST_CASE("without an id the link is the key; without a date the fetch time is used") {
    feed::Entry e;
    e.link = "https://x.example/2";
    e.updated = 7;
    CHECK(rss::to_event(e, {}, spec(), 100).dedup_key == "https://x.example/2");
    CHECK(rss::to_event(e, {}, spec(), 100).occurred_at == 7);
    e.updated.reset();
    CHECK(rss::to_event(e, {}, spec(), 100).occurred_at == 100);
  }

  TEST_CASE("without id or link the key is a stable hash of the text") {
    feed::Entry a;
    a.summary = "only a description";
    feed::Entry b = a;
    feed::Entry c;
    c.summary = "another description";
    const auto key = rss::to_event(a, {}, spec(), 1).dedup_key;
    CHECK(key.rfind("sha256:", 0) == 0);
    CHECK(key.size() == 7 + 32);
    CHECK(rss::to_event(b, {}, spec(), 2).dedup_key == key);
    CHECK(rss::to_event(c, {}, spec(), 1).dedup_key != key);
  }

  TEST_CASE("the request is conditional on the remembered validators") {
    auto source = rss::make(spec());
    PollState state;
    state.etag = "\"v1\"";
    state.last_modified = "Tue, 10 Jun 2003 04:00:00 GMT";
    PollContext context{state, state.etag, state.last_modified, nullptr};
    const auto requests = source->requests(context);
    REQUIRE(requests.size() == 1);
    const FetchRequest& request = requests.front();
    CHECK(request.url == "https://feeds.example/rss.xml");
    CHECK(request.etag == "\"v1\"");
    CHECK(request.last_modified == state.last_modified);
    CHECK(request.timeout == std::chrono::seconds{30});
  }

  TEST_CASE("a sample feed becomes one event per item, and the bad one is skipped") {
    auto source = rss::make(spec());
    FetchResponse response;
    response.status = 200;
    response.body = vibe::test::read_fixture("feeds/samples/rss2_bad_items.xml");
    PollState state;
    PollContext context{state, "", "", nullptr};
    auto poll = source->parse(FetchRequest{}, response, context, 1);
    REQUIRE(poll);
    CHECK(poll->events.size() == 4);
    CHECK(poll->skipped.size() == 1);
    CHECK(!poll->warnings.empty());
  }

  TEST_CASE("a broken document is an error naming the source") {
    auto source = rss::make(spec());
    FetchResponse response;
    response.status = 200;
    response.body = vibe::test::read_fixture("feeds/samples/rss2_truncated.xml");
    PollState state;
    PollContext context{state, "", "", nullptr};
    auto poll = source->parse(FetchRequest{}, response, context, 1);
    REQUIRE(!poll);
    CHECK(poll.error().code == Errc::parse);
    CHECK(poll.error().message.rfind("source hn: ", 0) == 0);
  }
}
