# `vibe run pipeline:ID` in the foreground: exit 0 on success, 1 when the
# fetch fails, 1 when a delivery attempt fails (that delivery stays queued
# for its retry), 2 for an unknown pipeline; --dry-run stores nothing. Then
# `vibe pipeline replay` after a change of map: and filter: rebuilds the
# mapped records from the raw layer, keeping their ids, without a request to
# the source. A filter mistake is reported at FILE:LINE:COL.
. "$(dirname "$0")/lib.sh"
start_server api_server --fixtures "$FIXTURES/github"
write_config() {  # write_config MAP FILTER
  cat > vibe.yaml <<YAML
version: 1
pipelines:
  ok:
    from: { type: http_api, url: "$SERVER_URL/api/items", items: /data, id: /id, time: /updated_at }
    map: $1
    filter: '$2'
    sinks: [ { type: file, path: out/ok.ndjson } ]
  broken:
    from: { type: http_api, url: "$SERVER_URL/api/status/500" }
  sinkfail:
    from: { type: http_api, url: "$SERVER_URL/api/items", items: /data, id: /id }
    sinks: [ { type: webhook, url: "$SERVER_URL/sink/down?fail=always", batch: 50 } ]
YAML
}
write_config '{ name: /title, score: { path: /score, as: number } }' 'score >= 2'
run() {  # run ARGS...: sets RC and leaves stdout in run.out
  RC=0
  "$VIBE" run "$@" > run.out 2> run.err || RC=$?
}

run pipeline:ok --json
expect_eq "ok exit" "$RC" 0
expect_eq "ok new" "$(json_get new < run.out)" 6
expect_eq "ok filtered out" "$(json_get filtered_out < run.out)" 1
expect_eq "ok delivered" "$(json_get delivered < run.out)" 1
expect_eq "file sink lines" "$(wc -l < out/ok.ndjson | tr -d ' ')" 6
run pipeline:ok --json
expect_eq "second run exit" "$RC" 0
expect_eq "second run new" "$(json_get new < run.out)" 0
expect_eq "second run fetch (the stored ETag)" "$(json_get fetch < run.out)" not-modified

run pipeline:broken
expect_eq "fetch failure exit" "$RC" 1
grep -q "HTTP 500" run.out || fail "fetch failure output: $(cat run.out)"

run pipeline:sinkfail
expect_eq "sink failure exit" "$RC" 1
grep -q "delivery to sinkfail webhook\[0\] failed (job [0-9]*, attempt 1): webhook sink: POST .*HTTP 500" run.out ||
  fail "sink failure output: $(cat run.out)"
"$VIBE" jobs list --state retryable --json > retryable.txt
grep -q '"worker":"deliver"' retryable.txt || fail "the failed delivery is not queued for a retry: $(cat retryable.txt)"

run pipeline:nope
expect_eq "unknown pipeline exit" "$RC" 2
grep -q "no pipeline named 'nope'" run.err || fail "unknown pipeline: $(cat run.err)"
run source:ok
expect_eq "not a pipeline exit" "$RC" 2

# A dry run maps and filters a new item but stores nothing.
python3 -c '
import json, sys, urllib.request
body = json.dumps({"add_item": {"id": "item-8", "title": "Item 8", "updated_at": "2026-01-08T00:00:00Z", "score": 8}})
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/__api", data=body.encode(), method="POST"), timeout=10)' "$SERVER_URL"
run pipeline:ok --dry-run --json
expect_eq "dry run exit" "$RC" 0
expect_eq "dry run new" "$(json_get new < run.out)" 1
expect_eq "dry run record" "$(json_get records.0.name < run.out)" "Item 8"
"$VIBE" events pipeline:ok --json --limit 100 > events.txt
expect_eq "stored after the dry run" "$(wc -l < events.txt | tr -d ' ')" 6
expect_eq "file sink after the dry run" "$(wc -l < out/ok.ndjson | tr -d ' ')" 6
run pipeline:ok --json
expect_eq "run after the dry run: new" "$(json_get new < run.out)" 1

# Replay: a new map and filter over the raw layer, no request to the source.
ids_of() {  # ids_of FILE: "key id" per stored record, sorted
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print(e.get("dedup_key", ""), e["id"])' "$1" | sort
}
"$VIBE" events pipeline:ok --json --limit 100 > before.txt
fetches=$(python3 -c '
import json, sys, urllib.request
print(len(json.load(urllib.request.urlopen(sys.argv[1] + "/__requests?path=/api/items", timeout=10))))' "$SERVER_URL")
write_config '{ name: /title, score: { path: /score, as: number }, tag: "T-{/id}" }' 'score >= 5'
RC=0
"$VIBE" pipeline replay ok --json > replay.txt 2> replay.err || RC=$?
expect_eq "replay exit" "$RC" 0
# Two raw records (7 items, then 8): each item counts once, in its latest version.
expect_eq "replayed raw records" "$(json_get raw_records < replay.txt)" 2
expect_eq "distinct records" "$(json_get inputs < replay.txt)" 8
expect_eq "rebuilt" "$(json_get rebuilt < replay.txt)" 4
expect_eq "removed (items 2-4 were stored)" "$(json_get removed < replay.txt)" 3
after=$(python3 -c '
import json, sys, urllib.request
print(len(json.load(urllib.request.urlopen(sys.argv[1] + "/__requests?path=/api/items", timeout=10))))' "$SERVER_URL")
expect_eq "requests to the source during the replay" "$after" "$fetches"
"$VIBE" events pipeline:ok --json --limit 100 > after.txt
expect_eq "records after the replay" "$(wc -l < after.txt | tr -d ' ')" 4
grep -q '"tag":"T-item-5"' after.txt || fail "replayed records lack the new field: $(cat after.txt)"
ids_of before.txt | grep -E '^item-(5|6|7|8) ' > kept-before.txt
ids_of after.txt > kept-after.txt
cmp -s kept-before.txt kept-after.txt || fail "ids changed: $(cat kept-before.txt) vs $(cat kept-after.txt)"
# Replaying again changes nothing; --deliver queues each record once (one
# batch for the file sink).
"$VIBE" pipeline replay ok --deliver --json > replay2.txt
expect_eq "records after a second replay" "$("$VIBE" events pipeline:ok --json --limit 100 | wc -l | tr -d ' ')" 4
expect_eq "deliveries queued by the replay" "$(json_get deliveries < replay2.txt)" "[$("$VIBE" jobs list --json --limit 500 | python3 -c '
import json, sys
print(max(json.loads(l)["id"] for l in sys.stdin if json.loads(l)["worker"] == "deliver"))')]"
"$VIBE" jobs list --json --limit 500 > all-jobs.txt
python3 - all-jobs.txt <<'PY' || fail "replay deliveries: $(cat all-jobs.txt)"
import json, sys
jobs = [json.loads(l) for l in open(sys.argv[1])]
last = max((j for j in jobs if j["worker"] == "deliver"), key=lambda j: j["id"])
args = last["args"] if isinstance(last["args"], dict) else json.loads(last["args"])
assert sorted(r["key"] for r in args["records"]) == ["item-5", "item-6", "item-7", "item-8"], args
PY

# A filter mistake, at its line and column.
write_config '{ name: /title }' 'name ==== 1'
RC=0
"$VIBE" validate 2> invalid.txt || RC=$?
expect_eq "validate exit" "$RC" 2
grep -q "vibe.yaml:6:21: pipelines.ok.filter: expected a field or a value, got .==." invalid.txt || fail "filter error: $(cat invalid.txt)"
