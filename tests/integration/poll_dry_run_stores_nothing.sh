# --dry-run fetches and parses, prints the events, and leaves no store behind.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
cat > vibe.yaml <<YAML
sources:
  bom: { type: rss, url: "$SERVER_URL/rss2_utf8_bom.xml" }
  bad: { type: rss, url: "$SERVER_URL/rss2_bad_items.xml" }
YAML
"$VIBE" poll --dry-run --json > events.ndjson || fail "dry run failed"
expect_eq "events" "$(wc -l < events.ndjson)" 7
grep -q '"dedup_key":"https://polyglot.example/ja/2025/03/sakura-forecast"' events.ndjson || fail "keys: $(head -n 2 events.ndjson)"
grep -q '"dedup_key":"sha256:' events.ndjson || fail "no hash key for the description-only item"
[ ! -e .vibe ] || fail "dry run created a store"
"$VIBE" poll --dry-run > text.txt || fail "dry run (text) failed"
grep -q "^bad .*skipped=1" text.txt || fail "skip not reported: $(cat text.txt)"
grep -q "item 2: empty <item>" text.txt || fail "skip reason missing: $(cat text.txt)"
