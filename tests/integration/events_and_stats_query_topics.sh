# `vibe events` lists newest first, filters by topic, time and limit, and
# prints NDJSON with --json; `vibe stats` counts by source.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
cat > vibe.yaml <<YAML
sources:
  dates: { type: rss, url: "$SERVER_URL/rss2_odd_dates.xml" }
  rdf: { type: rss, url: "$SERVER_URL/rss1_rdf.xml" }
streams:
  legacy: { sources: [dates] }
  all: { sources: [dates, rdf] }
YAML
"$VIBE" poll > /dev/null || fail "poll failed"

"$VIBE" events stream:legacy --json --limit 100 > legacy.ndjson
expect_eq "legacy count" "$(wc -l < legacy.ndjson)" 21
expect_eq "only dates" "$(grep -vc '"source_id":"dates"' legacy.ndjson || true)" 0
# Newest first: item 20 (04:19) comes first; item 21 has no date, so it
# carries the fetch time (today) and sorts before everything else.
expect_eq "first key" "$(sed -n 2p legacy.ndjson | json_get dedup_key)" legacy-cms-dates-20
expect_eq "first time" "$(sed -n 2p legacy.ndjson | json_get occurred_at)" 2003-06-10T04:19:00Z
expect_eq "stream id" "$(sed -n 2p legacy.ndjson | json_get stream_id)" legacy

expect_eq "limit" "$("$VIBE" events stream:all --json -n 3 | wc -l)" 3
expect_eq "until" "$("$VIBE" events source:dates --json --until 2003-06-10T04:10:00Z | wc -l)" 10
expect_eq "since+until" "$("$VIBE" events source:dates --json --since 2003-06-10T04:05:00Z --until 2003-06-10T04:10:00Z | wc -l)" 5
expect_eq "since 1h" "$("$VIBE" events stream:all --json --since 1h | wc -l)" 1

"$VIBE" stats stream:all --json > stats.json
expect_eq "total" "$(json_get total < stats.json)" 26
expect_eq "by source dates" "$(json_get by_source.dates < stats.json)" 21
expect_eq "by source rdf" "$(json_get by_source.rdf < stats.json)" 5
expect_eq "last minute" "$(json_get last_60s < stats.json)" 26
"$VIBE" stats stream:all | grep -q "^events  *26$" || fail "stats text: $("$VIBE" stats stream:all)"

"$VIBE" events source:rdf | head -n 1 | grep -q "rdf  .*Hobbyist Releases Open Firmware" || fail "line format: $("$VIBE" events source:rdf | head -n 2)"

status=0
"$VIBE" events stream:lgeacy 2> err.txt || status=$?
expect_eq "unknown topic exit" "$status" 2
grep -q "no stream named 'lgeacy' (did you mean 'legacy'?)" err.txt || fail "message: $(cat err.txt)"
status=0
"$VIBE" events --since yesterday 2> err.txt || status=$?
expect_eq "bad since exit" "$status" 2
