# Two polls of the same feeds store each item once; the second poll is
# answered 304 (conditional GET) and parses nothing.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
cat > vibe.yaml <<YAML
version: 1
sources:
  news: { type: rss, url: "$SERVER_URL/rss2_news.xml", every: 5m }
  blog: { type: rss, url: "$SERVER_URL/atom_blog.xml" }
  harbor: { type: rss, url: "$SERVER_URL/jsonfeed.json" }
streams:
  wall: { title: "Wall", sources: [news, blog, harbor] }
YAML

"$VIBE" poll --json > first.ndjson || fail "first poll failed: $(cat first.ndjson)"
expect_eq "news new" "$(grep '"news"' first.ndjson | json_get new)" 20
expect_eq "blog new" "$(grep '"blog"' first.ndjson | json_get new)" 6
expect_eq "harbor new" "$(grep '"harbor"' first.ndjson | json_get new)" 6
expect_eq "stored" "$("$VIBE" stats stream:wall --json | json_get total)" 32

"$VIBE" poll --json > second.ndjson || fail "second poll failed: $(cat second.ndjson)"
for id in news blog harbor; do
  expect_eq "$id outcome" "$(grep "\"$id\"" second.ndjson | json_get outcome)" not-modified
  expect_eq "$id new" "$(grep "\"$id\"" second.ndjson | json_get new)" 0
done
expect_eq "304s for news" "$(hits /rss2_news.xml 304)" 1
expect_eq "200s for news" "$(hits /rss2_news.xml 200)" 1
expect_eq "stored after second poll" "$("$VIBE" stats stream:wall --json | json_get total)" 32
