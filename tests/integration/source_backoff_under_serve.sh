# Under serve, a source whose polls keep failing backs off exponentially
# (the interval doubles from the second failure in a row) and shows
# "backing off" with its last error, instead of failing every 200 ms. Also:
# every: auto keeps a source's polls at least every_min apart. (Only lower
# bounds on time are checked: a slow machine only makes polls later.)
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
ms() { echo $(( $(date +%s%N) / 1000000 )); }
start_serve
started=$(ms)
backing_off() { [ "$(source_field s flaky health)" = "backing off" ]; }
wait_until 20 backing_off
source_field s flaky last_error | grep -q "HTTP 500" || fail "last error: $(source_field s flaky last_error)"
# 200 ms, doubling per failure from the second: polls at about 0, 0.2, 0.6
# and 1.4 s, where a fixed 200 ms would reach the fourth at 0.6 s.
polled() { (( $(count "$1") >= $2 )); }
wait_until 20 polled /api/status/500 4
flaky_ms=$(( $(ms) - started ))
(( flaky_ms >= 1100 )) || fail "flaky was polled 4 times in ${flaky_ms} ms (backing off takes about 1400)"
# every: auto between 200 ms and 400 ms: six polls take at least 5 x 200 ms.
wait_until 20 polled /api/single 6
auto_ms=$(( $(ms) - started ))
(( auto_ms >= 900 )) || fail "auto was polled 6 times in ${auto_ms} ms (at least 1000 with every_min 200ms)"
stop_serve
expect_eq "serve exit" "$SERVE_STATUS" 0
