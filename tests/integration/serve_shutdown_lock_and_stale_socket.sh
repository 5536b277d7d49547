# SIGTERM while polls are in flight exits 0 with every fetched event
# committed; past --shutdown-timeout a poll still running is cancelled and
# serve exits 0; a second SIGTERM while it drains exits at once (143); a second
# serve on the same data dir exits 2 with a clear message; a socket left by
# kill -9 does not block the next start.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
{
  echo "version: 1"
  echo "sources:"
  # 12 sources whose server takes 700 ms to answer: all in flight at once.
  for i in $(seq 12); do
    echo "  s$i: { type: rss, url: \"$SERVER_URL/__slow/700/rss2_news.xml?s=$i\", every: 1h }"
  done
} > vibe.yaml

slow_started() { [ "$(hits /__slow started)" -ge 12 ]; }

start_serve
wait_until 10 slow_started
stop_serve   # while all 12 polls wait on the server
expect_eq "serve exit status after SIGTERM" "$SERVE_STATUS" 0
expect_eq "events committed" "$("$VIBE" stats --json | json_get total)" 240
grep -q "serve.stopped" serve.log || fail "no serve.stopped line: $(cat serve.log)"

# A second serve on the same data dir refuses to start.
start_serve
status=0
"$VIBE" serve > second.out 2>&1 || status=$?
expect_eq "second serve exit status" "$status" 2
grep -q "another vibe serve (pid $SERVE_PID) is already running on $T/.vibe" second.out ||
  fail "second serve message: $(cat second.out)"
"$VIBE" status > /dev/null || fail "the first serve stopped answering"

# kill -9 leaves the socket file behind; the next serve replaces it.
kill -9 "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
[ -S .vibe/vibe.sock ] || fail "expected a stale socket after kill -9"
status=0
"$VIBE" status > down.out 2>&1 || status=$?
expect_eq "status with a stale socket" "$status" 1
grep -q "vibe serve is not running" down.out || fail "status message: $(cat down.out)"
start_serve
grep -q "removed stale socket" serve.log || fail "no stale-socket line: $(cat serve.log)"
[ "$(stat -c %a .vibe/vibe.sock)" = 600 ] || fail "socket mode $(stat -c %a .vibe/vibe.sock), want 600"
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0

# A second signal while serve waits for a slow poll: exit at once.
{
  echo "version: 1"
  echo "sources:"
  echo "  slow: { type: rss, url: \"$SERVER_URL/__slow/20000/rss2_news.xml?slow\", every: 1h }"
} > vibe.yaml
started_before=$(hits /__slow started)
slow_poll_started() { [ "$(hits /__slow started)" -gt "$started_before" ]; }
stopping_before=$(grep -c "serve.stopping" serve.log)
start_serve
wait_until 10 slow_poll_started
kill -TERM "$SERVE_PID"
draining() { [ "$(grep -c "serve.stopping" serve.log)" -gt "$stopping_before" ]; }
wait_until 10 draining
stop_serve
expect_eq "exit status after a second SIGTERM" "$SERVE_STATUS" 143
grep -q "serve.killed signal=15" serve.log || fail "no serve.killed line"
# --shutdown-timeout: a poll still running after it is cancelled; exit 0.
{
  echo "version: 1"
  echo "sources:"
  echo "  slower: { type: rss, url: \"$SERVER_URL/__slow/20000/rss2_news.xml?slower\", every: 1h }"
} > vibe.yaml
started_before=$(hits /__slow started)
start_serve --shutdown-timeout 300ms
wait_until 10 slow_poll_started
stopped_at=$SECONDS
stop_serve
expect_eq "exit status after the shutdown timeout" "$SERVE_STATUS" 0
[ $((SECONDS - stopped_at)) -lt 10 ] || fail "serve took $((SECONDS - stopped_at)) s to stop, not the 300 ms timeout"
grep -q "serve.polls_unfinished after=300ms" serve.log || fail "no serve.polls_unfinished line"
expect_eq "a cancelled poll leaves no failure behind" \
  "$(python3 -c 'import sqlite3; print(sqlite3.connect(".vibe/vibe.db").execute("select count(*) from poll_state where source_id = ? and consecutive_failures > 0", ("slower",)).fetchone()[0])')" 0

echo "version: 1" > vibe.yaml
start_serve  # the lock went with the process
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
