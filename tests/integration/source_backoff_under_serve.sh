# Under serve, a source whose polls keep failing backs off exponentially
# (the interval doubles from the second failure in a row) and shows
# "backing off" with its last error, instead of failing every 200 ms. Also:
# every: auto runs a source between its bounds. (Counts are bounded loosely:
# a slow machine only lowers them.)
. "$(dirname "$0")/lib.sh"
start_server api_server --fixtures "$FIXTURES/github"
cat > vibe.yaml <<YAML
version: 1
serve: { http: "off", breaker_failures: 100 }
sources:
  flaky: { type: http_api, url: "$SERVER_URL/api/status/500", every: 200ms }
  auto:  { type: http_api, url: "$SERVER_URL/api/single", id: /id, every: auto, every_min: 200ms, every_max: 400ms }
streams:
  s: { sources: [flaky, auto] }
YAML
count() {
  python3 -c '
import json, sys, urllib.request
rs = json.load(urllib.request.urlopen(sys.argv[1] + "/__requests?path=" + sys.argv[2], timeout=10))
print(len(rs))' "$SERVER_URL" "$1"
}
start_serve
started=$SECONDS
backing_off() { [ "$(source_field s flaky health)" = "backing off" ]; }
wait_until 20 backing_off
source_field s flaky last_error | grep -q "HTTP 500" || fail "last error: $(source_field s flaky last_error)"
# 200 ms doubling per failure from the second: polls at about 0, 0.2, 0.6,
# 1.4, 3.0, 6.2 s. In 4 s that is 5 or so, where a fixed 200 ms would be 20.
sleep_until=$((started + 4))
while (( SECONDS < sleep_until )); do sleep 0.2; done  # a fixed window to count requests in, not a wait for an event
n=$(count /api/status/500)
(( n >= 2 && n <= 7 )) || fail "flaky was polled $n times in about 4 s (want 2-7: backing off, not 20)"
# every: auto between 200 ms and 400 ms: in the same 4 s, 10 to 21 polls.
a=$(count /api/single)
(( a >= 4 && a <= 22 )) || fail "auto was polled $a times in about 4 s (want 4-22: every 200-400 ms)"
stop_serve
expect_eq "serve exit" "$SERVE_STATUS" 0
