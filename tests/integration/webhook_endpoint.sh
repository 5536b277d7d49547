# serve's HTTP endpoint with curl as the client: signed webhooks (both header
# formats) are stored, unsigned or badly signed ones are not (401), a
# redelivery is stored once and answered like the first, and 413, 415, 429
# (with Retry-After), 404, 409, 400 and 503 (a writer that is full) each
# happen. /metrics parses with the Prometheus client's text parser and its
# counters move; /healthz and /readyz answer.
. "$(dirname "$0")/lib.sh"
export HOOK_SECRET=s3cret-for-tests
cat > vibe.yaml <<'YAML'
version: 1
serve:
  http: 127.0.0.1:0
sources:
  deploys: { type: webhook, secret: "${HOOK_SECRET}", type_header: X-GitHub-Event, max_body: 2KiB,
             time_field: /at }
  limited: { type: webhook, rate_limit: 2/min }
  feed: { type: rss, url: "file:feed.xml", every: 1h }
  quiet: { type: webhook }
streams:
  ops: { title: Ops, sources: [deploys, limited, feed] }
  muted: { title: Muted, sources: [quiet] }
YAML
printf '<rss version="2.0"><channel><title>t</title></channel></rss>' > feed.xml
# Webhooks are pushed, never polled; a bad serve.http or time_field is a config error.
status=0
"$VIBE" poll deploys > poll.txt 2>&1 || status=$?
expect_eq "vibe poll of a webhook" "$status" 2
grep -q "source 'deploys' is a webhook: it is pushed to vibe serve, not polled" poll.txt || fail "poll: $(cat poll.txt)"
cat > bad.yaml <<'YAML'
version: 1
serve:
  http: localhost:80x
sources:
  w: { type: webhook, time_field: "at" }
cron:
  - { schedule: "* * * * *", run: "source:w" }
YAML
status=0
"$VIBE" -c bad.yaml validate > bad.txt 2>&1 || status=$?
expect_eq "bad config exit" "$status" 2
grep -q "bad.yaml:3:9: serve.http: 'localhost:80x' is not IP:PORT" bad.txt || fail "serve.http: $(cat bad.txt)"
grep -q "time_field: 'at' is not a JSON Pointer" bad.txt || fail "time_field: $(cat bad.txt)"
grep -q "run: source 'w' is a webhook: it is pushed, not polled" bad.txt || fail "cron run: $(cat bad.txt)"
VIBE_LOG=debug start_serve  # the access log is at debug level
"$VIBE" stream pause muted > /dev/null
addr=$("$VIBE" status --json | json_get http)
[ "$addr" != None ] || fail "serve has no HTTP address: $(tail -5 serve.log)"
url="http://$addr"
stored() { "$VIBE" stats source:deploys --json | json_get total; }

# post SOURCE BODY [CURL ARGS...]: prints "STATUS BODY".
post() {
  local source=$1 body=$2; shift 2
  curl -s -o resp.json -w '%{http_code}' -H 'Content-Type: application/json' "$@" --data-binary "$body" \
    "$url/webhooks/$source"
  echo " $(cat resp.json)"
}
sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$HOOK_SECRET" | sed 's/.* //'; }

body='{"action":"deployed","service":"api","at":"2026-11-22T10:00:00Z"}'
sig=$(sign "$body")
got=$(post deploys "$body" -H "X-Hub-Signature-256: sha256=$sig" -H 'X-GitHub-Event: deployment' -H 'X-GitHub-Delivery: d-1')
expect_eq "GitHub signature" "${got%% *}" 202
first_ids=$(echo "${got#* }" | json_get ids)
expect_eq "stored once" "$(stored)" 1
event=$("$VIBE" events source:deploys --json)
expect_eq "type from the header" "$(echo "$event" | json_get type)" deployment
expect_eq "time from time_field" "$(echo "$event" | json_get occurred_at)" "2026-11-22T10:00:00Z"
expect_eq "dedup key is the delivery id" "$(echo "$event" | json_get dedup_key)" d-1
expect_eq "content" "$(echo "$event" | json_get content.service)" api

# A redelivery: stored once, answered like the first.
got=$(post deploys "$body" -H "X-Hub-Signature-256: sha256=$sig" -H 'X-GitHub-Delivery: d-1')
expect_eq "redelivery status" "${got%% *}" 202
expect_eq "redelivery ids" "$(echo "${got#* }" | json_get ids)" "$first_ids"
expect_eq "redelivery stored once" "$(stored)" 1

# The plain header format; an array is many events.
arr='[{"n":1},{"n":2}]'
got=$(post deploys "$arr" -H "X-Webhook-Signature: $(sign "$arr")" -H 'Idempotency-Key: batch-7')
expect_eq "X-Webhook-Signature" "${got%% *}" 202
expect_eq "array accepted" "$(echo "${got#* }" | json_get accepted)" 2
expect_eq "stored" "$(stored)" 3

# Wrong or missing signature: 401, nothing stored.
got=$(post deploys "$body" -H "X-Hub-Signature-256: sha256=$(sign "$body x")")
expect_eq "wrong signature" "${got%% *}" 401
expect_eq "wrong signature detail" "$(echo "${got#* }" | json_get detail)" "signature does not match the body"
got=$(post deploys "$body")
expect_eq "missing signature" "${got%% *}" 401
expect_eq "nothing stored after 401" "$(stored)" 3

# 413 (body over max_body), 415, 400, 404, 409 (not a webhook; paused stream).
big=$(python3 -c 'print("{\"pad\":\"" + "x" * 3000 + "\"}")')
got=$(post deploys "$big" -H "X-Webhook-Signature: $(sign "$big")")
expect_eq "over max_body" "${got%% *}" 413
got=$(curl -s -o resp.json -w '%{http_code}' -H 'Content-Type: text/plain' -d 'hello' "$url/webhooks/deploys")
expect_eq "not JSON content type" "$got" 415
got=$(post limited '{"broken":')
expect_eq "malformed JSON" "${got%% *}" 400
echo "${got#* }" | json_get detail | grep -q "parse error" || fail "400 without the parser's message: $got"
got=$(post nosuch '{}')
expect_eq "unknown source" "${got%% *}" 404
got=$(post feed '{}')
expect_eq "not a webhook source" "${got%% *}" 409
got=$(post quiet '{}')
expect_eq "paused stream" "${got%% *}" 409
expect_eq "error body" "$(echo "${got#* }" | json_get error)" "stream not active"

# 429 with Retry-After: the third request within a minute (one 400 above used a token).
post limited '{"n":1}' > /dev/null
code=$(curl -s -D headers.txt -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"n":2}' \
  "$url/webhooks/limited")
expect_eq "rate limited" "$code" 429
grep -qiE '^Retry-After: [1-9][0-9]*' headers.txt || fail "429 without Retry-After: $(cat headers.txt)"

# /healthz, /readyz, and /metrics through a real Prometheus text parser.
expect_eq "healthz" "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" 200
expect_eq "readyz" "$(curl -s "$url/readyz" | json_get status)" ready
curl -s "$url/metrics" > metrics.txt
/usr/bin/python3 - metrics.txt <<'PY' || fail "metrics: $(head -c 2000 metrics.txt)"
import sys
from prometheus_client.parser import text_string_to_metric_families
samples = {}
families = set()
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    families.add(family.name)
    for s in family.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
def get(name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))
assert get("vibe_events_ingested_total", source="deploys", type="deployment") == 1, samples
assert get("vibe_events_ingested_total", source="deploys", type="webhook") == 2
assert get("vibe_events_duplicate_total", source="deploys") == 1
assert get("vibe_webhook_responses_total", source="deploys", code="202") == 3
assert get("vibe_webhook_responses_total", source="deploys", code="401") == 2
assert get("vibe_webhook_responses_total", source="deploys", code="413") == 1
assert get("vibe_webhook_responses_total", source="limited", code="429") == 1
assert get("vibe_webhook_responses_total", source="-", code="404") == 1
assert get("vibe_writer_batch_size_events_count") >= 3
assert get("vibe_writer_commit_duration_seconds_bucket", le="+Inf") >= 3
for name in ["vibe_writer_pending_events", "vibe_writer_rejected", "vibe_polls", "vibe_poll_duration_seconds",
             "vibe_jobs", "vibe_job_run_duration_seconds", "vibe_tail_subscribers", "vibe_bus_lagged_events",
             "process_resident_memory_bytes", "vibe_uptime_seconds"]:
    assert name in families, (name, sorted(families))
assert get("process_resident_memory_bytes") > 1_000_000
PY
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
# One access line per answer, with the request's method and target (not the
# headers: no signature or secret).
grep -q 'http.access peer=127.0.0.1:[0-9]* method=POST target=/webhooks/deploys status=202 ' serve.log \
  || fail "no access line for a 202: $(grep http.access serve.log | head -3)"
grep -q 'http.access .* method=GET target=/metrics status=200 ' serve.log || fail "no access line for /metrics"
if grep -q -E -e "$HOOK_SECRET" -e '[0-9a-f]{64}' serve.log; then fail "a secret or signature in serve's log"; fi

# 503 with Retry-After while the writer holds buffer.max_pending events: a
# poll's event waits out max_delay (60 s; only webhooks skip the wait) and
# fills the queue (room for 1 event).
cat > vibe.yaml <<'YAML'
version: 1
serve:
  http: 127.0.0.1:0
buffer: { max_events: 1000, max_delay: 60s, max_pending: 1 }
sources:
  open: { type: webhook }
  background: { type: command, command: "echo one", every: 1h }
YAML
start_serve
url="http://$("$VIBE" status --json | json_get http)"
writer_holds_one() { [ "$("$VIBE" status --json | json_get writer.pending_events)" = 1 ]; }
wait_until 10 writer_holds_one
code=$(curl -s -D headers.txt -o resp.json -w '%{http_code}' -H 'Content-Type: application/json' -d '{"n":2}' \
  "$url/webhooks/open")
expect_eq "writer full" "$code" 503
grep -qi '^Retry-After: 1' headers.txt || fail "503 without Retry-After: $(cat headers.txt)"
expect_eq "pending after the refusal" "$("$VIBE" status --json | json_get writer.pending_events)" 1
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
expect_eq "the queued poll event, committed at stop" "$("$VIBE" stats source:background --json | json_get total)" 1
expect_eq "the refused webhook, not stored" "$("$VIBE" stats source:open --json | json_get total)" 0
