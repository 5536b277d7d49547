# vibe reload starts a new source without restarting the others; a broken
# config is rejected with FILE:LINE:COL and the old config keeps running.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
write_config() {
  cat > vibe.yaml <<YAML
version: 1
sources:
  news: { type: rss, url: "$SERVER_URL/rss2_news.xml", every: 1h }
$1
streams:
  wall: { sources: [news] }
YAML
}
write_config ""

news_polled() { [ "$(hits /rss2_news.xml 200)" -ge 1 ]; }
blog_polled() { [ "$(hits /atom_blog.xml 200)" -ge 1 ]; }
blog_polls_reach() { [ "$(hits /atom_blog.xml 304)" -ge "$1" ]; }

start_serve
wait_until 10 news_polled
next_before=$(source_field wall news next_poll_at)

write_config "  blog: { type: rss, url: \"$SERVER_URL/atom_blog.xml\", every: 1s }"
"$VIBE" reload --json > reload.json
expect_eq "added" "$(json_get added < reload.json)" '["blog"]'
expect_eq "changed" "$(json_get changed < reload.json)" '[]'
wait_until 10 blog_polled
# news kept its schedule: not restarted, not polled again.
expect_eq "news next poll" "$(source_field wall news next_poll_at)" "$next_before"
expect_eq "news requests" "$(( $(hits /rss2_news.xml 200) + $(hits /rss2_news.xml 304) ))" 1
expect_eq "blog stored" "$("$VIBE" stats source:blog --json | json_get total)" 6

# A broken file: reload names the place, serve keeps the running config.
write_config "  blog: { type: rss, url: \"$SERVER_URL/atom_blog.xml\", evry: 1s }"
status=0
"$VIBE" reload > broken.out 2>&1 || status=$?
expect_eq "reload of a broken config" "$status" 2
grep -q "vibe.yaml:4:[0-9]*: sources.blog: unknown key 'evry' (did you mean 'every'?)" broken.out ||
  fail "reload message: $(cat broken.out)"
# SIGHUP with the broken file: serve logs the same place and keeps going.
kill -HUP "$SERVE_PID"
reload_failed_logged() { grep -q "config.reload_failed .*vibe.yaml:4:[0-9]*: sources.blog: unknown key" serve.log; }
wait_until 10 reload_failed_logged
then=$(hits /atom_blog.xml 304)
wait_until 10 blog_polls_reach $((then + 2))
kill -0 "$SERVE_PID" || fail "serve exited after a broken reload"

stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
