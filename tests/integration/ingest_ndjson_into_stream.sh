# vibe ingest reads NDJSON into a stream: malformed lines are reported with
# their line number and skipped (exit 1), --strict stops at the first one and
# keeps what came before, re-ingesting adds only what is missing. Without
# serve it writes to the store; with serve the events go through serve's
# writer and reach tail subscribers live.
. "$(dirname "$0")/lib.sh"
cat > vibe.yaml <<'YAML'
version: 1
streams:
  builds: { title: "Builds" }
YAML
cat > in.ndjson <<'EOF2'
{"id": "b1", "type": "build", "occurred_at": "2026-11-22T10:00:00Z", "status": "ok", "url": "https://ci.example/b1"}
{"id": 2, "status": "failed"}
not json
{"status": "no id: the record's hash is its key"}

{"id": "b3", "occurred_at": "yesterday"}
EOF2

status=0
"$VIBE" ingest stream:builds < in.ndjson > out.txt 2> err.txt || status=$?
expect_eq "exit with rejected lines" "$status" 1
expect_eq "summary" "$(cat out.txt)" \
  "stream:builds: 3 accepted, 0 duplicate, 2 rejected (written to the store; vibe serve is not running)"
grep -q "^vibe ingest: line 3: not valid JSON: column 2: syntax error .*; skipped$" err.txt || fail "line 3: $(cat err.txt)"
grep -q "^vibe ingest: line 6: \"occurred_at\" must be an RFC 3339 time" err.txt || fail "line 6: $(cat err.txt)"
"$VIBE" events stream:builds --json > events.ndjson
expect_eq "stored" "$(wc -l < events.ndjson)" 3
b1=$(grep '"b1"' events.ndjson)
expect_eq "type from the record" "$(echo "$b1" | json_get type)" build
expect_eq "occurred_at from the record" "$(echo "$b1" | json_get occurred_at)" "2026-11-22T10:00:00Z"
expect_eq "url" "$(echo "$b1" | json_get url)" "https://ci.example/b1"
expect_eq "content" "$(echo "$b1" | json_get content.status)" ok
expect_eq "default type" "$(grep '"dedup_key":"2"' events.ndjson | json_get type)" record

# Again: only duplicates. --strict stops at line 3, keeping lines 1-2.
"$VIBE" ingest stream:builds --json < in.ndjson > again.json 2> /dev/null || true
expect_eq "duplicates" "$(json_get duplicates < again.json)" 3
expect_eq "accepted" "$(json_get accepted < again.json)" 0
printf '{"id": "s1"}\n{"id": "s2"}\nbroken\n{"id": "s3"}\n' > strict.ndjson
status=0
"$VIBE" ingest stream:builds --strict --json < strict.ndjson > strict.json 2> /dev/null || status=$?
expect_eq "--strict exit" "$status" 1
expect_eq "--strict accepted" "$(json_get accepted < strict.json)" 2
expect_eq "--strict stopped at" "$(json_get stopped_at_line < strict.json)" 3

# Through serve: a tail subscriber sees the events as they are committed.
start_serve
"$VIBE" tail stream:builds --json --limit 2 > tail.ndjson &
tail_pid=$!
tail_subscribed() { [ "$("$VIBE" status --json | json_get tail_sessions)" = 1 ]; }
wait_until 10 tail_subscribed
printf '{"id": "live1", "type": "deploy"}\n{"id": "live2", "type": "deploy"}\n' | "$VIBE" ingest stream:builds > live.txt
expect_eq "through serve" "$(cat live.txt)" "stream:builds: 2 accepted, 0 duplicate, 0 rejected"
wait "$tail_pid" || fail "tail exited $?"
expect_eq "tailed keys" "$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["dedup_key"] for l in open(sys.argv[1])))' tail.ndjson)" "live1 live2"
expect_eq "stored" "$("$VIBE" stats stream:builds --json | json_get total)" 7

# A slow producer (tail -f | vibe ingest): each line is stored before the
# producer writes the next; ingest does not wait for a full chunk.
cat > slow_producer.py <<'PY'
import json, os, subprocess, sys, time
for i in range(3):
    print(json.dumps({"id": "slow%d" % i}), flush=True)
    deadline = time.time() + 10
    while True:
        out = subprocess.run([os.environ["VIBE"], "stats", "stream:builds", "--json"],
                             capture_output=True, text=True).stdout
        if json.loads(out)["total"] >= 8 + i:
            break
        if time.time() > deadline:
            sys.exit("line %d was not stored while ingest waited for more input" % i)
        time.sleep(0.05)  # poll interval
PY
python3 slow_producer.py | "$VIBE" ingest stream:builds > slow.txt || fail "slow producer: $(cat slow.txt)"
expect_eq "slow producer" "$(cat slow.txt)" "stream:builds: 3 accepted, 0 duplicate, 0 rejected"
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
