# A source whose adapter throws on every poll (test_throw, compiled into the
# test build vibe-test only) is restarted with backoff and, after 11 crashes
# within the window, marked failed with its last error, while another source
# of the same stream keeps delivering. Logs are JSON lines with stable event
# names (--log-format json). A source whose polls keep failing (HTTP 500)
# opens its circuit breaker and waits out the cool-down instead of polling.
. "$(dirname "$0")/lib.sh"
: "${VIBE_TEST:?VIBE_TEST must point at the vibe-test binary}"
VIBE=$VIBE_TEST  # every command must know the test-only source kind
start_server feed_server --root "$FIXTURES/feeds/samples"
cat > vibe.yaml <<YAML
version: 1
serve:
  restart_backoff: 10ms       # short, so the test takes well under a second of restarts
  restart_backoff_max: 40ms
  max_restarts: 10
  restart_window: 60s
  breaker_failures: 2
  breaker_cooldown: 1h
sources:
  broken: { type: test_throw, every: 1s, message: "adapter bug on purpose" }
  news: { type: rss, url: "$SERVER_URL/rss2_news.xml", every: 1s }
  flaky: { type: rss, url: "$SERVER_URL/__status/500", every: 1s }
streams:
  wall: { sources: [broken, news, flaky] }
YAML

is_failed() { [ "$(source_field wall broken health)" = failed ]; }
breaker_open() { [ "$(source_field wall flaky health)" = "backing off" ]; }
news_304s_reach() { [ "$(hits /rss2_news.xml 304)" -ge "$1" ]; }

start_serve --log-format json
wait_until 20 is_failed
expect_eq "restarts" "$(source_field wall broken restarts)" 10
expect_eq "last error" "$(source_field wall broken last_error)" \
  "source broken: the test_throw adapter threw: adapter bug on purpose"
expect_eq "failed source has no next poll" "$(source_field wall broken next_poll_at)" None

# The other source of the stream is unaffected and keeps polling.
expect_eq "news health" "$(source_field wall news health)" ok
then=$(hits /rss2_news.xml 304)
wait_until 10 news_304s_reach $((then + 2))
expect_eq "news stored" "$("$VIBE" stats --json | json_get total)" 20

# Two failed polls opened flaky's breaker: no third request within the hour.
wait_until 10 breaker_open
expect_eq "flaky requests" "$(hits /__status/500 500)" 2
expect_eq "flaky failures" "$(source_field wall flaky consecutive_failures)" 2
then=$(hits /rss2_news.xml 304)
wait_until 10 news_304s_reach $((then + 2))
expect_eq "flaky requests while the breaker is open" "$(hits /__status/500 500)" 2
python3 -c 'import sys, datetime as d
nxt = d.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
left = (nxt - d.datetime.now(d.timezone.utc)).total_seconds()
assert 3000 < left <= 3600, left' "$(source_field wall flaky next_poll_at)" || fail "probe not about an hour away"
"$VIBE" status --json > status.json
expect_eq "failed sources" "$(json_get sources.failed < status.json)" 1
expect_eq "backing off sources" "$(json_get sources.backing_off < status.json)" 1

stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
python3 - serve.log <<'PY' || fail "log events: $(head -c 3000 serve.log)"
import json, sys
events = {}
for line in open(sys.argv[1]):
    record = json.loads(line)  # every line is one JSON object
    assert {"time", "level", "logger", "msg"} <= record.keys(), record
    if "event" in record:
        events.setdefault(record["event"], []).append(record)
died = [r for r in events.get("worker.died", []) if "source=broken" in r["msg"]]
assert len(died) == 11, len(died)
assert len(events.get("worker.restarted", [])) == 10, len(events.get("worker.restarted", []))
failed = events["source.failed"]
assert len(failed) == 1 and "source=broken" in failed[0]["msg"] and failed[0]["level"] == "error", failed
assert any("source=flaky" in r["msg"] for r in events["source.backing_off"]), events.get("source.backing_off")
assert "stream.started" in events and "serve.started" in events and "serve.stopped" in events
PY
