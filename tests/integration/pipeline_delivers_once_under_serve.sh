# A pipeline under serve: an http_api source every 300 ms, mapped and
# filtered, persisted, delivered in one batch to a sink that fails its first
# two requests. The batch arrives exactly once after two retries, with the
# same Idempotency-Key and a valid HMAC-SHA256 signature on every attempt,
# and later polls deliver nothing again. A sink that always fails is retried
# up to its max_attempts and discarded without holding up the file sink. A
# chained pipeline (persist: false: broadcast, not stored) and `vibe tail
# pipeline:ID` get a new record live, and
# `vibe pipeline show --recent` answers from serve's memory. A pipeline with
# execution: worker runs on its interval without a job per run.
. "$(dirname "$0")/lib.sh"
start_server api_server --fixtures "$FIXTURES/github"
export HOOK_SECRET=whsec-123
cat > vibe.yaml <<YAML
version: 1
serve: { http: "off" }
pipelines:
  items:
    from: { type: http_api, url: "$SERVER_URL/api/items", items: /data, id: /id, time: /updated_at }
    every: 300ms
    map: { name: /title, score: { path: /score, as: number }, label: "item {/id}" }
    filter: 'score >= 3 and not (name matches "^Item 7\$")'
    sinks:
      - { type: webhook, url: "$SERVER_URL/sink/flaky?fail=2", secret: "\${HOOK_SECRET}", batch: 100,
          retry_base: 200ms, retry_max: 1s }
      - { type: webhook, url: "$SERVER_URL/sink/dead?fail=always", batch: 100, retry_base: 100ms, retry_max: 200ms,
          max_attempts: 3 }
      - { type: file, path: out/items.ndjson }
  fast:
    from: { type: http_api, url: "$SERVER_URL/api/single", id: /id }
    every: 200ms
    execution: worker
    sinks: [ { type: file, path: out/fast.ndjson } ]
  top:
    from: pipeline:items
    filter: 'score >= 5'
    persist: false
    sinks: [ { type: file, path: out/top.ndjson } ]
YAML
requests() {  # requests PATH-PREFIX: the fixture's recorded requests, one JSON per line
  python3 -c '
import json, sys, urllib.request
for r in json.load(urllib.request.urlopen(sys.argv[1] + "/__requests?path=" + sys.argv[2], timeout=10)):
    print(json.dumps(r))' "$SERVER_URL" "$1"
}
count() { requests "$1" > count.txt; wc -l < count.txt | tr -d ' '; }
lines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
file_has() { [ "$(lines "$1")" -ge "$2" ]; }

start_serve
wait_until 20 at_least /sink/flaky 3
wait_until 20 file_has out/items.ndjson 4
# Exactly once: the batch went through on the third request. Let three more
# polls of the source pass; none brings a new record, so nothing more is sent.
polls=$(count /api/items)
wait_until 20 at_least /api/items $((polls + 3))
expect_eq "requests to the flaky sink" "$(count /sink/flaky)" 3
requests /sink/flaky > flaky.txt
python3 - "$HOOK_SECRET" flaky.txt <<'PY' || fail "flaky sink requests: $(cat flaky.txt)"
import hashlib, hmac, json, sys
secret = sys.argv[1].encode()
rs = [json.loads(l) for l in open(sys.argv[2])]
keys = {r["headers"]["idempotency-key"] for r in rs}
assert len(keys) == 1 and next(iter(keys)).startswith("vibe-"), keys
assert len({r["body"] for r in rs}) == 1, "the body changed between attempts"
for r in rs:
    want = "sha256=" + hmac.new(secret, r["body"].encode(), hashlib.sha256).hexdigest()
    assert r["headers"]["x-vibe-signature"] == want, (r["headers"], want)
    assert r["headers"]["content-type"] == "application/json"
records = json.loads(rs[0]["body"])
assert [x["name"] for x in records] == ["Item 3", "Item 4", "Item 5", "Item 6"], records
assert records[0] == {"label": "item item-3", "name": "Item 3", "score": 3}, records[0]
PY
# Stored as events of pipeline:items, once each.
"$VIBE" events pipeline:items --json > events.txt
expect_eq "stored records" "$(wc -l < events.txt | tr -d ' ')" 4
grep -q '"source_id":"pipeline:items"' events.txt || fail "events: $(head -n 1 events.txt)"

# The dead sink: three attempts, then discarded; the file sink was not held up.
discarded() {
  "$VIBE" jobs list --state discarded --json > discarded.txt
  grep -q '"worker":"deliver"' discarded.txt
}
wait_until 20 discarded
expect_eq "requests to the dead sink" "$(count /sink/dead)" 3
grep -q 'HTTP 500' discarded.txt || fail "discarded job: $(cat discarded.txt)"
expect_eq "file sink lines" "$(lines out/items.ndjson)" 4
expect_eq "chained pipeline lines" "$(lines out/top.ndjson)" 2

# Live: a new record reaches the tail of the chained pipeline and its sink.
"$VIBE" tail pipeline:top --json > tail.txt 2> tail.err &
tail_pid=$!
_pids+=("$tail_pid")
subscribed() { [ "$("$VIBE" status --json | json_get bus.subscribers)" = 1 ]; }
wait_until 20 subscribed  # a record that is not stored is only seen live
python3 -c '
import json, sys, urllib.request
body = json.dumps({"add_item": {"id": "item-8", "title": "Item 8", "updated_at": "2026-01-08T00:00:00Z", "score": 8}})
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/__api", data=body.encode(), method="POST"), timeout=10)' "$SERVER_URL"
tail_has() { grep -q '"Item 8"' tail.txt 2>/dev/null; }
wait_until 20 tail_has
wait_until 20 file_has out/top.ndjson 3
grep -q '"Item 8"' out/top.ndjson || fail "top.ndjson: $(cat out/top.ndjson)"
"$VIBE" events pipeline:top --json > top-events.txt
[ ! -s top-events.txt ] || fail "persist: false stored records: $(cat top-events.txt)"
wait_until 20 at_least /sink/flaky 4
requests /sink/flaky | tail -n 1 > fourth.txt
grep -q 'Item 8' fourth.txt || fail "fourth delivery: $(cat fourth.txt)"
python3 - flaky.txt fourth.txt <<'PY' || fail "a new record got an old idempotency key"
import json, sys
old = json.loads(open(sys.argv[1]).readline())["headers"]["idempotency-key"]
new = json.loads(open(sys.argv[2]).readline())["headers"]["idempotency-key"]
assert old != new
PY
# The recent records, from serve's memory.
"$VIBE" pipeline show items --recent 2 --json > show.txt
expect_eq "recent from" "$(json_get recent_from < show.txt)" serve
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
names = [r["content"]["name"] for r in s["recent"]]
assert names[-1] == "Item 8" and len(names) == 2, names
assert s["records"] == 5, s["records"]' show.txt || fail "show: $(cat show.txt)"
# execution: worker: runs every 200 ms, delivers its one record once, and
# queues no pipeline job.
wait_until 20 at_least /api/single 3
expect_eq "worker pipeline deliveries" "$(lines out/fast.ndjson)" 1
"$VIBE" jobs list --json --limit 1000 > all-jobs.txt
if grep '"worker":"pipeline"' all-jobs.txt | grep -q '"args":{"pipeline":"fast"'; then
  fail "execution: worker queued jobs: $(grep '"worker":"pipeline"' all-jobs.txt | head -n 3)"
fi
grep -q '"worker":"pipeline"' all-jobs.txt || fail "the every: pipeline queued no job: $(head -n 3 all-jobs.txt)"
stop_serve
expect_eq "serve exit" "$SERVE_STATUS" 0
