# vibe serve runs a stream's sources: start -> events arrive within one poll
# interval; pause -> no request reaches the server; start -> polls resume
# with the saved ETag (the server answers 304 to If-None-Match); stop ->
# status says stopped and the session has ended. SIGTERM exits 0.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
cat > vibe.yaml <<YAML
version: 1
sources:
  news: { type: rss, url: "$SERVER_URL/rss2_news.xml", every: 1s }
  blog: { type: rss, url: "$SERVER_URL/atom_blog.xml", every: 1s }
streams:
  wall: { title: "Wall", sources: [news] }
  other: { title: "Other", sources: [blog] }
YAML

news_polls() { echo $(( $(hits /rss2_news.xml 200) + $(hits /rss2_news.xml 304) )); }
stored() { "$VIBE" stats stream:wall --json | json_get total; }
have_events() { [ "$(stored)" = 20 ]; }
blog_304s_reach() { [ "$(hits /atom_blog.xml 304)" -ge "$1" ]; }
news_304s_reach() { [ "$(hits /rss2_news.xml 304)" -ge "$1" ]; }

start_serve
wait_until 10 have_events
"$VIBE" events stream:wall --json -n 1 > first.json
python3 -c 'import json,sys; e=json.load(open("first.json")); assert e["stream_offset_ms"] >= 0, e' ||
  fail "events of an active stream carry stream_offset_ms: $(cat first.json)"
expect_eq "wall status" "$("$VIBE" stream status wall --json | json_get status)" active

# Pause: once `stream pause` returns, no poll of news is in flight or to come.
"$VIBE" stream pause wall > pause.out
expect_eq "pause output" "$(cat pause.out)" "stream wall: paused"
paused_at=$(news_polls)
blog_then=$(hits /atom_blog.xml 304)
# blog polls every second; three more of its polls are three news intervals.
wait_until 15 blog_304s_reach $((blog_then + 3))
expect_eq "news requests while paused" "$(news_polls)" "$paused_at"
expect_eq "news health while paused" "$(source_field wall news health)" idle
expect_eq "wall status" "$("$VIBE" stream status wall --json | json_get status)" paused

# Start again: the saved ETag goes out, the server answers 304.
news_304s=$(hits /rss2_news.xml 304)
"$VIBE" stream start wall > /dev/null
wait_until 10 news_304s_reach $((news_304s + 1))
expect_eq "news 200s (one, before the pause)" "$(hits /rss2_news.xml 200)" 1
expect_eq "stored after resume" "$(stored)" 20

# Stop ends the session.
"$VIBE" stream stop wall > /dev/null
"$VIBE" stream status wall --json > status.json
expect_eq "wall status" "$(json_get status < status.json)" stopped
expect_eq "session" "$(json_get session_started_at < status.json)" None
"$VIBE" stream list --json > list.ndjson
expect_eq "other still active" "$(grep '"other"' list.ndjson | json_get status)" active

stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
grep -q "stream.paused stream=wall" serve.log || fail "no stream.paused log line: $(cat serve.log)"
grep -q "stream.stopped stream=wall" serve.log || fail "no stream.stopped log line"
grep -q "events.created source=news count=20" serve.log || fail "no events.created log line"
[ ! -e .vibe/vibe.sock ] || fail "socket left behind after a clean stop"
