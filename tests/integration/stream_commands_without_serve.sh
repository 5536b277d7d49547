# Without a running serve, stream start/pause/stop record the desired state
# and say it takes effect when serve runs; vibe status exits 1. serve then
# honours the recorded state: a paused stream's source is never polled. A
# source in two active streams is polled once and its events belong to both.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
cat > vibe.yaml <<YAML
version: 1
sources:
  news: { type: rss, url: "$SERVER_URL/rss2_news.xml", every: 1s }
  blog: { type: rss, url: "$SERVER_URL/atom_blog.xml", every: 1s }
streams:
  wall: { sources: [news] }
  other: { sources: [blog] }
  shared: { sources: [blog] }
YAML

status=0
"$VIBE" status > status.out 2>&1 || status=$?
expect_eq "status exit without serve" "$status" 1
grep -q "vibe serve is not running" status.out || fail "status: $(cat status.out)"

"$VIBE" stream list --json > list.ndjson
expect_eq "new stream status" "$(grep '"wall"' list.ndjson | json_get status)" pending
"$VIBE" stream pause wall > pause.out
grep -q "stream wall: paused (recorded; vibe serve is not running, it takes effect when serve runs)" pause.out ||
  fail "pause: $(cat pause.out)"
status=0
"$VIBE" stream pause wal > typo.out 2>&1 || status=$?
expect_eq "unknown stream exit" "$status" 2
grep -q "no stream named 'wal' in $T/vibe.yaml (did you mean 'wall'?)" typo.out || fail "typo: $(cat typo.out)"

blog_polls_reach() { [ "$(( $(hits /atom_blog.xml 200) + $(hits /atom_blog.xml 304) ))" -ge "$1" ]; }
start_serve
wait_until 15 blog_polls_reach 3
expect_eq "news requests (stream paused before serve ran)" "$(hits /rss2_news.xml 200)" 0
expect_eq "wall status" "$("$VIBE" stream status wall --json | json_get status)" paused
expect_eq "blog fetched once with 200" "$(hits /atom_blog.xml 200)" 1
expect_eq "events of other" "$("$VIBE" stats stream:other --json | json_get total)" 6
expect_eq "events of shared" "$("$VIBE" stats stream:shared --json | json_get total)" 6
expect_eq "events stored" "$("$VIBE" stats --json | json_get total)" 6
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
