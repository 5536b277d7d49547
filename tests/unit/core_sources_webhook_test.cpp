#include "core/hash.hpp"
#include "core/metrics.hpp"
#include "core/options.hpp"
#include "core/sources/webhook.hpp"

#include <doctest/doctest.h>

using namespace vibe::core;
using namespace vibe::core::webhook;

namespace {

constexpr UnixMicros k_now = 1'795'305'600'000'000;  // 2026-11-22T00:00:00Z

Settings signed_with(std::string secret) {
  Settings settings;
  settings.secret = std::move(secret);
  return settings;
}

}  // namespace

TEST_CASE("HMAC-SHA256 matches the RFC 4231 test vector") {
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const HmacSha256Key key{"Jefe"};
  CHECK(key.hex("what do ya want for nothing?") == hmac_sha256_hex("Jefe", "what do ya want for nothing?"));
  CHECK(key.hex("") == hmac_sha256_hex("Jefe", ""));
  CHECK(key.hex("a") != key.hex("b"));
  CHECK(equal_constant_time("abc", "abc"));
  CHECK_FALSE(equal_constant_time("abc", "abd"));
  CHECK_FALSE(equal_constant_time("abc", "abcd"));
}

TEST_CASE("signatures: GitHub's header, the plain header, a configured one; any case of hex and header name") {
  const std::string body = R"({"action":"opened"})";
  const std::string hex = hmac_sha256_hex("k", body);
  Settings settings = signed_with("k");
  CHECK(verify(settings, {{"X-Hub-Signature-256", "sha256=" + hex}}, body, k_now));
  CHECK(verify(settings, {{"x-webhook-signature", hex}}, body, k_now));
  std::string upper = hex;
  for (auto& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  CHECK(verify(settings, {{"X-Webhook-Signature", upper}}, body, k_now));
  CHECK_FALSE(verify(settings, {{"X-Signature", hex}}, body, k_now));  // not read unless configured
  settings.signature_header = "X-Signature";
  CHECK(verify(settings, {{"X-Signature", "sha256=" + hex}}, body, k_now));
}

TEST_CASE("signatures: wrong, missing, for another body, or another secret are refused with the reason") {
  const std::string body = R"({"a":1})";
  const Settings settings = signed_with("k");
  auto missing = verify(settings, {}, body, k_now);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("missing signature") == 0);
  auto wrong = verify(settings, {{"X-Hub-Signature-256", "sha256=" + hmac_sha256_hex("other", body)}}, body, k_now);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message == "signature does not match the body");
  CHECK_FALSE(verify(settings, {{"X-Hub-Signature-256", "sha256=" + hmac_sha256_hex("k", body + " ")}}, body, k_now));
  CHECK_FALSE(verify(settings, {{"X-Hub-Signature-256", "sha256=zz"}}, body, k_now));
  CHECK_FALSE(verify(settings, {{"X-Hub-Signature-256", ""}}, body, k_now));
  // One wrong header does not hide a right one.
  CHECK(verify(settings, {{"X-Webhook-Signature", "00"}, {"X-Hub-Signature-256", "sha256=" + hmac_sha256_hex("k", body)}},
               body, k_now));
  // Without a secret nothing is checked.
  CHECK(verify(Settings{}, {}, body, k_now));
}

TEST_CASE("a timestamp header is signed with the body and must be within the tolerance") {
  Settings settings = signed_with("k");
  settings.timestamp_header = "X-Timestamp";
  settings.timestamp_tolerance = Millis{300'000};
  const std::string body = "{}";
  const std::string stamp = std::to_string(k_now / 1'000'000 - 60);
  const std::string sig = hmac_sha256_hex("k", stamp + "." + body);
  CHECK(verify(settings, {{"X-Timestamp", stamp}, {"X-Webhook-Signature", sig}}, body, k_now));
  // The body's signature alone is not enough: the time must be signed too.
  CHECK_FALSE(verify(settings, {{"X-Timestamp", stamp}, {"X-Webhook-Signature", hmac_sha256_hex("k", body)}}, body, k_now));
  const std::string old = std::to_string(k_now / 1'000'000 - 600);
  auto replayed = verify(settings, {{"X-Timestamp", old}, {"X-Webhook-Signature", hmac_sha256_hex("k", old + "." + body)}},
                         body, k_now);
  REQUIRE_FALSE(replayed);
  CHECK(replayed.error().message.find("600 s away from now") != std::string::npos);
  CHECK_FALSE(verify(settings, {{"X-Webhook-Signature", sig}}, body, k_now));
  CHECK_FALSE(verify(settings, {{"X-Timestamp", "soon"}, {"X-Webhook-Signature", sig}}, body, k_now));
}

TEST_CASE("delivery ids: the configured header first, then the well-known ones") {
  Settings settings;
  CHECK_FALSE(delivery_id(settings, {{"Content-Type", "application/json"}}));
  CHECK(delivery_id(settings, {{"x-github-delivery", "g1"}, {"Idempotency-Key", "i1"}}) == "g1");
  CHECK(delivery_id(settings, {{"Idempotency-Key", "i1"}, {"X-Request-Id", "r1"}}) == "i1");
  CHECK(delivery_id(settings, {{"X-Request-Id", "r1"}}) == "r1");
  CHECK_FALSE(delivery_id(settings, {{"X-Request-Id", ""}}));
  settings.delivery_header = "X-Delivery";
  CHECK(delivery_id(settings, {{"X-Request-Id", "r1"}, {"X-Delivery", "mine"}}) == "mine");
}

TEST_CASE("a body is one event per object; type, time and keys as configured") {
  Settings settings;
  settings.type = "deploy";
  settings.type_header = "X-Event";
  settings.time_field = "/meta/at";
  auto one = events_from_body(settings, "hooks", {{"X-Event", "push"}, {"X-Request-Id", "r9"}},
                              R"({"meta":{"at":"2026-11-22T10:00:00Z"},"x":1})", k_now, "u1");
  REQUIRE(one);
  REQUIRE(one->size() == 1);
  CHECK((*one)[0].type == "push");
  CHECK((*one)[0].source_id == "hooks");
  CHECK((*one)[0].dedup_key == "r9");
  CHECK((*one)[0].occurred_at == k_now + 10LL * 3600 * 1'000'000);
  CHECK((*one)[0].content == R"({"meta":{"at":"2026-11-22T10:00:00Z"},"x":1})");
  auto many = events_from_body(settings, "hooks", {}, R"([{"meta":{"at":1795305601.5}},{"n":2}])", k_now, "u2");
  REQUIRE(many);
  REQUIRE(many->size() == 2);
  CHECK((*many)[0].type == "deploy");
  CHECK((*many)[0].occurred_at == k_now + 1'500'000);
  CHECK((*many)[1].occurred_at == k_now);  // no time field: the receipt time
  CHECK((*many)[0].dedup_key == "u2#0");
  CHECK((*many)[1].dedup_key == "u2#1");
  // Without a time_field an object is stored as it came (key order, spacing), checked all the same.
  auto plain = events_from_body(Settings{}, "hooks", {}, " { \"b\": 1,  \"a\": [2] }\n", k_now, "u4");
  REQUIRE(plain);
  CHECK((*plain)[0].content == "{ \"b\": 1,  \"a\": [2] }");
  CHECK((*plain)[0].occurred_at == k_now);
  CHECK((*plain)[0].dedup_key == "u4");
  CHECK_FALSE(events_from_body(Settings{}, "hooks", {}, "{\"a\":1} x", k_now, "u5"));
  auto empty = events_from_body(settings, "hooks", {}, "[]", k_now, "u3");
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("a body that is not JSON objects is refused whole, with the parser's message") {
  const Settings settings;
  auto broken = events_from_body(settings, "h", {}, R"({"a":)", k_now, "u");
  REQUIRE_FALSE(broken);
  CHECK(broken.error().message.find("parse error at line 1, column 6") == 0);
  auto scalar = events_from_body(settings, "h", {}, "42", k_now, "u");
  REQUIRE_FALSE(scalar);
  CHECK(scalar.error().message == "expected a JSON object or an array of objects, got number");
  auto mixed = events_from_body(settings, "h", {}, R"([{"a":1},"b"])", k_now, "u");
  REQUIRE_FALSE(mixed);
  CHECK(mixed.error().message == "element 1 of the array is string, not an object");
  CHECK_FALSE(events_from_body(settings, "h", {}, "", k_now, "u"));
  CHECK_FALSE(events_from_body(settings, "h", {}, "{\"t\":\"\xff\"}", k_now, "u"));  // not UTF-8
}

TEST_CASE("the token bucket allows a burst of the rate's count, then refills over its period") {
  TokenBucket bucket{Rate{2, Millis{60'000}}};
  CHECK_FALSE(bucket.take(k_now));
  CHECK_FALSE(bucket.take(k_now));
  auto wait = bucket.take(k_now);
  REQUIRE(wait);
  CHECK(wait->count() == 30'000);
  CHECK(bucket.take(k_now + 29'000'000));            // not yet: 29 s of 30
  CHECK_FALSE(bucket.take(k_now + 30'000'000 + 1));  // one token back
  CHECK(bucket.take(k_now + 30'000'001));
  CHECK_FALSE(bucket.take(k_now + 3'600'000'000LL));  // an hour later: full again, but capped at 2
  CHECK_FALSE(bucket.take(k_now + 3'600'000'000LL));
  CHECK(bucket.take(k_now + 3'600'000'000LL));
}

TEST_CASE("rates and sizes parse; nonsense is refused") {
  auto rate = parse_rate("100/min");
  REQUIRE(rate);
  CHECK(rate->count == 100);
  CHECK(rate->per == Millis{60'000});
  CHECK(parse_rate("5/s")->per == Millis{1'000});
  CHECK(parse_rate("1000/hour")->per == Millis{3'600'000});
  CHECK_FALSE(parse_rate("100"));
  CHECK_FALSE(parse_rate("0/min"));
  CHECK_FALSE(parse_rate("-1/min"));
  CHECK_FALSE(parse_rate("10/fortnight"));
  CHECK(*parse_size("1MiB") == 1'048'576);
  CHECK(*parse_size("512KiB") == 524'288);
  CHECK(*parse_size("2MB") == 2'000'000);
  CHECK(*parse_size("1048576") == 1'048'576);
  CHECK(*parse_size("1 GiB") == 1'073'741'824);
  CHECK_FALSE(parse_size("MiB"));
  CHECK_FALSE(parse_size("1.5MiB"));
  CHECK_FALSE(parse_size("1TiB"));
  CHECK_FALSE(parse_size("99999999999999999999"));
  CHECK_FALSE(parse_size("18446744073709551615GiB"));  // overflows
}

TEST_CASE("Prometheus text: one HELP and TYPE per family, escaped labels, cumulative buckets") {
  PrometheusText out;
  out.family("vibe_x_total", "counter", "Things.");
  out.sample("vibe_x_total", {{"source", "a\"b\\c\nd"}}, 3);
  constexpr double bounds[] = {0.5, 1};
  Histogram h{bounds};
  h.observe(0.25);
  h.observe(0.75);
  h.observe(5);
  out.family("vibe_t_seconds", "histogram", "Times.");
  out.histogram("vibe_t_seconds", {}, h);
  CHECK(out.text() ==
        "# HELP vibe_x_total Things.\n# TYPE vibe_x_total counter\n"
        "vibe_x_total{source=\"a\\\"b\\\\c\\nd\"} 3\n"
        "# HELP vibe_t_seconds Times.\n# TYPE vibe_t_seconds histogram\n"
        "vibe_t_seconds_bucket{le=\"0.5\"} 1\nvibe_t_seconds_bucket{le=\"1\"} 2\n"
        "vibe_t_seconds_bucket{le=\"+Inf\"} 3\nvibe_t_seconds_sum 6\nvibe_t_seconds_count 3\n");
}
