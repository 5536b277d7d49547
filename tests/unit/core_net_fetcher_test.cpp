#include "core/net/fetcher.hpp"

#include <doctest/doctest.h>

using namespace vibe::core;

TEST_SUITE("core::net::fetcher") {
  TEST_CASE("redact_url hides userinfo and secret-looking query values") {
    CHECK(redact_url("https://user:pw@host.example/feed") == "https://***@host.example/feed");
    CHECK(redact_url("https://x.example/f?token=abc&page=2") == "https://x.example/f?token=***&page=2");
    CHECK(redact_url("https://x.example/f?page=2&API_KEY=abc#top") == "https://x.example/f?page=2&API_KEY=***#top");
    CHECK(redact_url("https://x.example/f?sig=1&auth=2&password=3") == "https://x.example/f?sig=***&auth=***&password=***");
    CHECK(redact_url("https://x.example/plain") == "https://x.example/plain");
    CHECK(redact_url("file:///tmp/a@b.xml") == "file:///tmp/a@b.xml");
    CHECK(redact_url("https://x.example/f?flag&token=t") == "https://x.example/f?flag&token=***");
  }

  TEST_CASE("a file: URL is fetched, and a missing file is a network error naming it") {
    FetchRequest missing;
    missing.url = "file:///nonexistent/vibe-feed.xml";
    FetchRequest found;
    found.url = std::string{"file://"} + VIBE_FIXTURES + "/feeds/samples/atom_blog.xml";
    std::vector<FetchRequest> requests{missing, found};
    std::vector<Result<FetchResponse>> results(2, fail(Errc::network, "not called"));
    fetch_all(requests, {}, [&](std::size_t i, Result<FetchResponse> r) { results[i] = std::move(r); });
    REQUIRE(!results[0]);
    CHECK(results[0].error().message.find("file:///nonexistent/vibe-feed.xml") != std::string::npos);
    REQUIRE(results[1]);
    CHECK(results[1]->status == 200);
    CHECK(results[1]->body.find("Kestrel Field Notes") != std::string::npos);
  }

  TEST_CASE("a body over max_bytes is refused") {
    FetchRequest request;
    request.url = std::string{"file://"} + VIBE_FIXTURES + "/feeds/samples/rss2_news.xml";
    request.max_bytes = 1000;
    Result<FetchResponse> result = fail(Errc::network, "not called");
    fetch_all(std::span{&request, 1}, {}, [&](std::size_t, Result<FetchResponse> r) { result = std::move(r); });
    REQUIRE(!result);
    CHECK(result.error().message.find("larger than 1000 bytes") != std::string::npos);
  }
}
