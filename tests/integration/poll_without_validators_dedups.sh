# A server without ETag/Last-Modified sends the whole feed again: every item
# is recognized as a duplicate and nothing is stored twice.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples" --no-etag --gzip
cat > vibe.yaml <<YAML
sources:
  news: { type: rss, url: "$SERVER_URL/rss2_news.xml" }
  rdf: { type: rss, url: "$SERVER_URL/rss1_rdf.xml" }
YAML
"$VIBE" poll >/dev/null || fail "first poll failed"
"$VIBE" poll --json > second.ndjson || fail "second poll failed"
expect_eq "news duplicates" "$(grep '"news"' second.ndjson | json_get duplicate)" 20
expect_eq "news new" "$(grep '"news"' second.ndjson | json_get new)" 0
expect_eq "rdf duplicates" "$(grep '"rdf"' second.ndjson | json_get duplicate)" 5
expect_eq "200s" "$(hits /rss2_news.xml 200)" 2
expect_eq "stored" "$("$VIBE" stats --json | json_get total)" 25
