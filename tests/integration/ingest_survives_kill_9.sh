# Crash test: 200,000 events are ingested while serve is killed with -9 at
# a moment picked at random; ingest carries on into the store, and every
# event is stored exactly once. Re-ingesting the file after a restart adds
# nothing (dedup).
. "$(dirname "$0")/lib.sh"
N=200000
cat > vibe.yaml <<'YAML'
version: 1
streams:
  builds: { title: "Builds" }
YAML
python3 - "$N" > in.ndjson <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print('{"id":"e%07d","type":"build","status":"ok","step":%d,"log":"%s"}' % (i, i, "x" * 200))
PY
stored() { "$VIBE" stats stream:builds --json | json_get total; }
# Kill serve once it has committed somewhere between 10% and 60% of the events.
kill_at=$(python3 -c "import random; print(random.randint($N // 10, $N * 6 // 10))")
passed_kill_point() { [ "$(stored)" -ge "$kill_at" ] || ! kill -0 "$ingest_pid" 2>/dev/null; }

# The producer paces its lines (about 40,000 a second, so the run lasts ~5 s)
# for the kill to land mid-way: ingest through serve is faster than that.
cat > pace.py <<'PY'
import sys, time
rate, start = 40_000, time.monotonic()
out = sys.stdout
for i, line in enumerate(open(sys.argv[1])):
    out.write(line)
    if i % 1000 == 999:
        out.flush()
        ahead = (i + 1) / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)  # pacing the producer, not waiting for a result
PY
start_serve
python3 pace.py in.ndjson | "$VIBE" ingest stream:builds --json > first.json 2> first.err &
ingest_pid=$!
wait_until 50 passed_kill_point
kill -9 "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
status=0
wait "$ingest_pid" || status=$?
expect_eq "ingest exit status (kill at $kill_at)" "$status" 0
expect_eq "rejected" "$(json_get rejected < first.json)" 0
expect_eq "serve died mid-way, the store took the rest" "$(json_get fell_back_to_store < first.json)" True
total=$(( $(json_get accepted < first.json) + $(json_get duplicates < first.json) ))
expect_eq "acknowledged" "$total" "$N"
expect_eq "stored" "$(stored)" "$N"
python3 - .vibe/vibe.db "$N" <<'PY' || fail "events not stored exactly once"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
keys = db.execute("select count(*), count(distinct dedup_key) from events where stream_id = 'builds'").fetchone()
assert keys == (int(sys.argv[2]), int(sys.argv[2])), keys
PY

start_serve
"$VIBE" ingest stream:builds --json < in.ndjson > again.json
expect_eq "accepted on re-ingest" "$(json_get accepted < again.json)" 0
expect_eq "duplicates on re-ingest" "$(json_get duplicates < again.json)" "$N"
expect_eq "through serve" "$(json_get through_serve < again.json)" True
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
