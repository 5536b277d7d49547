#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/feed/encoding.hpp"
#include "core/feed/feed.hpp"
#include "fixtures.hpp"

namespace {

using vibe::core::Errc;
using vibe::core::format_rfc3339_seconds;
using vibe::core::UnixMicros;
using vibe::core::feed::Entry;
using vibe::core::feed::Feed;
using vibe::core::feed::parse_feed;

constexpr std::string_view k_conformance = "feeds/conformance/";
constexpr std::string_view k_samples = "feeds/samples/";

std::string trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && space(s.back())) {
    s.remove_suffix(1);
  }
  return std::string{s};
}

std::string date(const std::optional<UnixMicros>& t) {
  return t ? format_rfc3339_seconds(*t) : std::string{};
}

// A string field as the fixtures compare it: trimmed, null means empty.
std::string expected_string(const nlohmann::json& value) {
  return value.is_null() ? std::string{} : trim(value.get<std::string>());
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// ---- conformance -----------------------------------------------------------

// Reads `field` (conformance README naming) from a parsed feed; "" when absent.
std::string conformance_field(const Feed& feed, std::string_view field) {
  if (field == "feed.title") {
    return trim(feed.title);
  }
  if (field == "feed.link") {
    return trim(feed.link);
  }
  if (field == "feed.subtitle") {
    return trim(feed.subtitle);
  }
  if (field == "entries.count") {
    return std::to_string(feed.entries.size());
  }
  if (feed.entries.empty()) {
    return {};
  }
  const Entry& e = feed.entries.front();
  if (field == "entry0.title") {
    return trim(e.title);
  }
  if (field == "entry0.link") {
    return trim(e.link);
  }
  if (field == "entry0.id") {
    return trim(e.id);
  }
  if (field == "entry0.summary") {
    return trim(e.summary);
  }
  if (field == "entry0.content") {
    return trim(e.content);
  }
  if (field == "entry0.author") {
    return trim(e.author);
  }
  if (field == "entry0.published") {
    return date(e.published);
  }
  if (field == "entry0.updated") {
    return date(e.updated);
  }
  return "<unknown field>";
}

struct Skip {
  std::string_view key;  // file + " " + field
  std::string_view reason;
};

// Cases the conformance README names as likely unsupported, and that are.
constexpr Skip k_conformance_skips[] = {
    {"rss__entity_in_doctype.xml entry0.id",
     "needs an entity declared in the internal DTD subset; pugixml does not expand custom "
     "entities"},
};

// ---- samples ---------------------------------------------------------------

std::string sample_url(std::string_view file) {
  return fmt::format("https://fixtures.example/feeds/{}", file);
}

Feed parse_sample(const std::string& file) {
  auto feed = parse_feed(vibe::test::read_fixture(std::string{k_samples} + file), sample_url(file));
  REQUIRE_MESSAGE(feed.has_value(), file << ": " << (feed ? std::string{} : feed.error().message));
  return *feed;
}

void check_entry(const Entry& e, const nlohmann::json& want) {
  const std::map<std::string, const std::string*> fields{
      {"id", &e.id},          {"link", &e.link},       {"title", &e.title},
      {"author", &e.author},  {"summary", &e.summary}, {"content_type", &e.content_type},
      {"content", &e.content}};
  for (const auto& field : fields) {
    const std::string& key = field.first;
    if (want.contains(key)) {
      CAPTURE(key);
      CHECK(trim(*field.second) == expected_string(want[key]));
    }
  }
  for (const char* key : {"published", "updated"}) {
    if (want.contains(key)) {
      CAPTURE(key);
      CHECK(date(std::string_view{key} == "published" ? e.published : e.updated) ==
            expected_string(want[key]));
    }
  }
  if (want.contains("content_text")) {
    CHECK(e.content_type == "text");
    CHECK(trim(e.content) == expected_string(want["content_text"]));
  }
  if (want.contains("authors")) {
    CHECK(e.authors == want["authors"].get<std::vector<std::string>>());
  }
  for (const nlohmann::json& needle : want.value("content_contains", nlohmann::json::array())) {
    CAPTURE(needle.get<std::string>());
    CHECK(contains(e.content, needle.get<std::string>()));
  }
  for (const nlohmann::json& needle : want.value("content_not_contains", nlohmann::json::array())) {
    CAPTURE(needle.get<std::string>());
    CHECK_FALSE(contains(e.content, needle.get<std::string>()));
  }
  if (want.contains("relative_uris")) {
    // Relative href/src inside xhtml content come out resolved against the
    // content's xml:base.
    for (const auto& item : want["relative_uris"].items()) {
      const std::string relative = item.key();
      if (relative != "base") {
        CAPTURE(relative);
        CHECK(contains(e.content, "\"" + item.value().get<std::string>() + "\""));
        CHECK_FALSE(contains(e.content, "\"" + relative + "\""));
      }
    }
  }
  if (want.contains("enclosure")) {
    const nlohmann::json& enc = want["enclosure"];
    REQUIRE(e.enclosures.size() == 1);
    CHECK(e.enclosures[0].url == enc["href"].get<std::string>());
    CHECK(e.enclosures[0].type == enc["type"].get<std::string>());
    CHECK(e.enclosures[0].length == enc["length"].get<std::int64_t>());
  }
  if (want.contains("content_src")) {
    // Out-of-line content is not copied into `content`; its URL stays
    // reachable through the entry's enclosure.
    CHECK(e.content.empty());
    CHECK(std::any_of(e.enclosures.begin(), e.enclosures.end(), [&](const auto& enclosure) {
      return enclosure.url == want["content_src"].get<std::string>();
    }));
  }
  if (want.contains("attachments")) {
    CHECK(e.enclosures.size() == want["attachments"].get<std::size_t>());
  }
}

void check_sample(const std::string& file) {
  const nlohmann::json all =
      nlohmann::json::parse(vibe::test::read_fixture(std::string{k_samples} + "expected.json"));
  const nlohmann::json& want = all.at(file);
  const Feed feed = parse_sample(file);
  CAPTURE(file);
  CHECK(feed.format == want["format"].get<std::string>());
  CHECK(feed.version == want["version"].get<std::string>());
  const nlohmann::json& wf = want["feed"];
  const std::map<std::string_view, const std::string*> feed_fields{
      {"title", &feed.title}, {"link", &feed.link},         {"subtitle", &feed.subtitle},
      {"self", &feed.self},   {"language", &feed.language}, {"author", &feed.author}};
  for (const auto& field : feed_fields) {
    const std::string key{field.first};
    if (wf.contains(key)) {
      CAPTURE(key);
      CHECK(trim(*field.second) == expected_string(wf[key]));
    }
  }
  if (wf.contains("updated")) {
    CHECK(date(feed.updated) == expected_string(wf["updated"]));
  }
  REQUIRE(feed.entries.size() == want["entries_count"].get<std::size_t>());
  const nlohmann::json& entries = want["entries"];
  REQUIRE(entries.size() == feed.entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    CAPTURE(i);
    check_entry(feed.entries[i], entries[i]);
  }
  const std::size_t skipped = want.contains("skipped") ? want["skipped"].size() : 0;
  REQUIRE(feed.skipped.size() == skipped);
  for (std::size_t i = 0; i < skipped; ++i) {
    CHECK(feed.skipped[i].position == want["skipped"][i]["position"].get<std::size_t>());
    CHECK_FALSE(feed.skipped[i].reason.empty());
  }
}

std::string rss(std::string_view channel_body) {
  return fmt::format(R"(<?xml version="1.0"?><rss version="2.0"><channel>{}</channel></rss>)",
                     channel_body);
}

}  // namespace

TEST_SUITE("core::feed conformance") {
  TEST_CASE("the feedparser conformance corpus passes at least 95% of its checks") {
    const nlohmann::json cases = nlohmann::json::parse(
        vibe::test::read_fixture(std::string{k_conformance} + "expectations.json"));
    std::size_t passed = 0;
    std::size_t skipped = 0;
    std::vector<std::string> failures;
    for (const nlohmann::json& c : cases) {
      const std::string file = c["file"].get<std::string>();
      const std::string field = c["field"].get<std::string>();
      const std::string key = file + " " + field;
      if (std::any_of(std::begin(k_conformance_skips), std::end(k_conformance_skips),
                      [&](const Skip& s) { return s.key == key; })) {
        ++skipped;
        continue;
      }
      auto feed = parse_feed(vibe::test::read_fixture(std::string{k_conformance} + file),
                             "http://conformance.example/" + file);
      if (!feed) {
        failures.push_back(
            fmt::format("  {} {}: parse failed: {}", file, field, feed.error().message));
        continue;
      }
      const nlohmann::json& expect = c["expect"];
      const std::string want =
          expect.is_number() ? std::to_string(expect.get<std::int64_t>()) : expected_string(expect);
      const std::string got = conformance_field(*feed, field);
      if (got == want) {
        ++passed;
      } else {
        failures.push_back(
            fmt::format("  {} {}: got \"{}\", expected \"{}\"", file, field, got, want));
      }
    }
    const std::size_t checked = cases.size() - skipped;
    fmt::print("conformance: {} passed, {} failed, {} skipped\n", passed, failures.size(), skipped);
    for (const std::string& f : failures) {
      fmt::print("{}\n", f);
    }
    for (const Skip& s : k_conformance_skips) {
      fmt::print("  skipped {}: {}\n", s.key, s.reason);
    }
    CHECK(cases.size() == 175);
    CHECK(passed * 100 >= checked * 95);
  }
}

TEST_SUITE("core::feed samples") {
  TEST_CASE("rss2_news.xml matches expected.json") {
    check_sample("rss2_news.xml");
  }
  TEST_CASE("atom_blog.xml matches expected.json") {
    check_sample("atom_blog.xml");
  }
  TEST_CASE("rss1_rdf.xml matches expected.json") {
    check_sample("rss1_rdf.xml");
  }
  TEST_CASE("jsonfeed.json matches expected.json") {
    check_sample("jsonfeed.json");
  }
  TEST_CASE("rss2_iso-8859-1.xml matches expected.json") {
    check_sample("rss2_iso-8859-1.xml");
  }
  TEST_CASE("rss2_utf8_bom.xml matches expected.json") {
    check_sample("rss2_utf8_bom.xml");
  }
  TEST_CASE("rss2_odd_dates.xml matches expected.json") {
    check_sample("rss2_odd_dates.xml");
  }
  TEST_CASE("rss2_bad_items.xml matches expected.json") {
    check_sample("rss2_bad_items.xml");
  }

  TEST_CASE("a truncated document fails with the URL and the line of the error") {
    const std::string url = sample_url("rss2_truncated.xml");
    auto feed =
        parse_feed(vibe::test::read_fixture(std::string{k_samples} + "rss2_truncated.xml"), url);
    REQUIRE_FALSE(feed);
    CHECK(feed.error().code == Errc::parse);
    CHECK(contains(feed.error().message, url));
    CHECK(contains(feed.error().message, "line 26"));
    CHECK(contains(feed.error().message, "not well-formed XML"));
  }

  TEST_CASE("an empty item is skipped and an impossible date warns") {
    const Feed feed = parse_sample("rss2_bad_items.xml");
    CHECK(feed.entries.size() == 4);
    REQUIRE(feed.skipped.size() == 1);
    CHECK(feed.skipped[0].position == 2);
    REQUIRE(feed.warnings.size() == 1);
    CHECK(contains(feed.warnings[0], "Fri, 32 Foo 2025 99:99:99 XYZ"));
    CHECK_FALSE(feed.entries[1].published);
  }

  TEST_CASE("a numeric JSON Feed id is coerced to a string") {
    const Feed feed = parse_sample("jsonfeed.json");
    REQUIRE(feed.entries.size() > 3);
    CHECK(feed.entries[3].id == "1234");
  }
}

TEST_SUITE("core::feed behaviour") {
  TEST_CASE("a UTF-8 BOM does not leak into the first value") {
    const auto feed = parse_feed("\xEF\xBB\xBF" + rss("<title>Caf\xC3\xA9</title>"), "http://x/");
    REQUIRE(feed);
    CHECK(feed->title == "Caf\xC3\xA9");
  }

  TEST_CASE("a UTF-16LE document with a BOM is decoded") {
    const std::string utf8 = R"(<?xml version="1.0" encoding="UTF-16"?><rss><channel><title>K)"
                             "\xC3\xB6"
                             "ln</title></channel></rss>";
    std::string utf16 = "\xFF\xFE";
    for (std::size_t i = 0; i < utf8.size(); ++i) {
      // Every character here is ASCII except U+00F6 (C3 B6 in UTF-8).
      if (static_cast<unsigned char>(utf8[i]) == 0xC3) {
        utf16 += '\xF6';
        utf16 += '\0';
        ++i;
      } else {
        utf16 += utf8[i];
        utf16 += '\0';
      }
    }
    const auto feed = parse_feed(utf16, "http://x/");
    REQUIRE(feed);
    CHECK(feed->title == "K\xC3\xB6ln");
  }

  TEST_CASE("an ISO-8859-1 document is converted to UTF-8") {
    const std::string doc =
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>"
        "<rss version=\"2.0\"><channel><title>K\xF6ln \xBD Preis</title></channel></rss>";
    const auto decoded = vibe::core::feed::to_utf8(doc);
    CHECK(decoded.source_encoding == "iso-8859-1");
    CHECK(contains(decoded.text, "encoding=\"UTF-8\""));
    const auto feed = parse_feed(doc, "http://x/");
    REQUIRE(feed);
    CHECK(feed->title == "K\xC3\xB6ln \xC2\xBD Preis");
  }

  TEST_CASE("windows-1252 smart quotes become their Unicode characters") {
    const std::string doc =
        "<?xml version='1.0' encoding='Windows-1252'?>"
        "<rss><channel><title>\x93Quoted\x94 \x96 \x80"
        "5 \x85</title></channel></rss>";
    const auto feed = parse_feed(doc, "http://x/");
    REQUIRE(feed);
    CHECK(feed->title ==
          "\xE2\x80\x9CQuoted\xE2\x80\x9D \xE2\x80\x93 \xE2\x82\xAC"
          "5 \xE2\x80\xA6");
  }

  TEST_CASE("invalid UTF-8 is replaced, reported, and never reaches the output") {
    const auto feed = parse_feed(rss("<title>bad \xFF\xC3 byte</title>"), "http://x/");
    REQUIRE(feed);
    CHECK(feed->title == "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
    CHECK_FALSE(feed->warnings.empty());
    CHECK_NOTHROW((void)vibe::core::feed::to_json(*feed).dump());
  }

  TEST_CASE("a well-formed document that is not a feed names its root element") {
    const auto feed = parse_feed("<html><body/></html>", "http://x/page");
    REQUIRE_FALSE(feed);
    CHECK(feed.error().code == Errc::parse);
    CHECK(feed.error().message ==
          "http://x/page: not an RSS, Atom or JSON feed (root element <html>)");
  }

  TEST_CASE("garbage input yields an error or a feed, never a crash") {
    for (const std::string& input :
         {std::string{}, std::string{"   "}, std::string{"<rss>"}, std::string{"<rss></rss>"},
          std::string{"<rss><channel>"}, std::string{"{"}, std::string{"{}"},
          std::string{"{\"version\": 1}"},
          std::string{
              "{\"version\":\"https://jsonfeed.org/version/1\",\"items\":[1,null,{\"id\":[]}]}"},
          std::string{"\xFE\xFF"}, std::string{"\xFF\xFE<"}, std::string("\0\0\0", 3)}) {
      CAPTURE(input);
      const auto feed = parse_feed(input, "http://x/");
      if (!feed) {
        CHECK(feed.error().code == Errc::parse);
        CHECK(contains(feed.error().message, "http://x/"));
      }
    }
    CHECK_FALSE(parse_feed("", "http://x/"));
    CHECK_FALSE(parse_feed("<rss>", "http://x/"));

    // Random bytes, and fixtures with random damage: each parse either fails
    // cleanly or yields a feed whose JSON can be serialized.
    std::mt19937 rng{20250314};
    std::vector<std::string> seeds{std::string{}};
    for (const char* file : {"rss2_news.xml", "atom_blog.xml", "rss1_rdf.xml", "jsonfeed.json"}) {
      seeds.push_back(vibe::test::read_fixture(std::string{k_samples} + file));
    }
    for (int round = 0; round < 400; ++round) {
      std::string input = seeds[static_cast<std::size_t>(round) % seeds.size()];
      if (input.empty()) {
        input.resize(rng() % 512);
        for (char& c : input) {
          c = static_cast<char>(rng());
        }
      } else {
        input.resize(rng() % (input.size() + 1));
        for (int flips = static_cast<int>(rng() % 8); flips > 0 && !input.empty(); --flips) {
          input[rng() % input.size()] = static_cast<char>(rng());
        }
      }
      const auto feed = parse_feed(input, "http://x/");
      if (feed) {
        CHECK_NOTHROW((void)vibe::core::feed::to_json(*feed).dump());
      } else {
        CHECK(feed.error().code == Errc::parse);
      }
    }
  }

  TEST_CASE("deeply nested markup does not exhaust the stack") {
    std::string deep =
        R"(<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id><content type="xhtml">)";
    for (int i = 0; i < 100000; ++i) {
      deep += "<b>";
    }
    for (int i = 0; i < 100000; ++i) {
      deep += "</b>";
    }
    deep += "</content></entry></feed>";
    const auto feed = parse_feed(deep, "http://x/");
    REQUIRE(feed);
    CHECK(feed->entries.size() == 1);
  }

  TEST_CASE("a guid with isPermaLink=false is never used as the link") {
    const auto feed = parse_feed(
        rss(R"(<item><guid isPermaLink="false">http://guid.example/1</guid></item>)"), "http://x/");
    REQUIRE(feed);
    REQUIRE(feed->entries.size() == 1);
    CHECK(feed->entries[0].id == "http://guid.example/1");
    CHECK(feed->entries[0].link.empty());
  }

  TEST_CASE("a relative link resolves against xml:base, then the document URL") {
    const auto feed = parse_feed(rss(R"(<item><link>../b/c?q=1#f</link></item>)"
                                     R"(<item xml:base="/base/dir/"><link>page</link></item>)"),
                                 "https://site.example/feeds/a/rss.xml");
    REQUIRE(feed);
    REQUIRE(feed->entries.size() == 2);
    CHECK(feed->entries[0].link == "https://site.example/feeds/b/c?q=1#f");
    CHECK(feed->entries[1].link == "https://site.example/base/dir/page");
  }

  TEST_CASE("namespaced elements are matched by URI whatever the prefix") {
    const auto feed = parse_feed(
        R"(<rss xmlns:x="http://purl.org/dc/elements/1.1/" xmlns:c="http://purl.org/rss/1.0/modules/content/">)"
        R"(<channel><item><x:creator>me@x.example (Name)</x:creator><c:encoded>&lt;p&gt;hi&lt;/p&gt;</c:encoded>)"
        R"(<x:date>2003-12-31T10:14:55Z</x:date></item></channel></rss>)",
        "http://x/");
    REQUIRE(feed);
    REQUIRE(feed->entries.size() == 1);
    CHECK(feed->entries[0].author == "Name");
    CHECK(feed->entries[0].content == "<p>hi</p>");
    CHECK(feed->entries[0].content_type == "html");
    CHECK(date(feed->entries[0].updated) == "2003-12-31T10:14:55Z");
  }

  TEST_CASE("to_json emits RFC 3339 times and omits absent values") {
    const auto feed =
        parse_feed(rss("<title>T</title><item><title>A</title><pubDate>Tue, 10 Jun 2003 04:00:00 "
                       "GMT</pubDate><enclosure url=\"http://x/a.mp3\" length=\"12\" "
                       "type=\"audio/mpeg\"/></item><item></item>"),
                   "http://x/");
    REQUIRE(feed);
    const nlohmann::json j = vibe::core::feed::to_json(*feed);
    CHECK(j["format"] == "rss");
    CHECK(j["version"] == "rss20");
    CHECK(j["title"] == "T");
    CHECK_FALSE(j.contains("link"));
    CHECK_FALSE(j.contains("updated"));
    REQUIRE(j["entries"].size() == 1);
    const nlohmann::json& e = j["entries"][0];
    CHECK(e["title"] == "A");
    CHECK(e["published"] == "2003-06-10T04:00:00Z");
    CHECK_FALSE(e.contains("updated"));
    CHECK_FALSE(e.contains("id"));
    CHECK(e["enclosures"] ==
          nlohmann::json::parse(R"([{"url":"http://x/a.mp3","type":"audio/mpeg","length":12}])"));
    CHECK(
        j["skipped"] ==
        nlohmann::json::parse(
            R"([{"position":2,"reason":"empty <item>: no title, link, id, description or content"}])"));
    CHECK_FALSE(j.contains("warnings"));
  }
}
