# The command source: stdout as lines, a JSON document or NDJSON; a failing
# command fails the poll with its exit status and stderr; a timeout kills
# it; in mode: stream, lines become events as they are printed, and a
# command that exits is started again by serve.
. "$(dirname "$0")/lib.sh"
cat > vibe.yaml <<'YAML'
version: 1
serve: { http: "off" }
sources:
  lines:  { type: command, command: "printf 'alpha\\nbeta\\n'" }
  doc:    { type: command, command: "echo '[{\"id\": 1, \"at\": \"2026-05-01T00:00:00Z\"}, {\"id\": 2}]'", format: json,
            id: /id, time: /at, event_type: thing }
  nd:     { type: command, command: "printf '{\"k\": \"a\"}\\nnot json\\n{\"k\": \"b\"}\\n'", format: ndjson, id: /k }
  failing: { type: command, command: "echo partial; echo 'something broke' >&2; exit 3" }
  slow:   { type: command, command: "sleep 30", timeout: 300ms }
YAML
outcome() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["source"] == sys.argv[2]:
        print(r["outcome"], r["new"], r.get("skipped", 0), r.get("error", ""))' "$1" "$2"; }
status=0
start=$SECONDS
"$VIBE" poll --json > first.ndjson || status=$?
expect_eq "exit status (two commands fail)" "$status" 1
(( SECONDS - start < 20 )) || fail "the timeout did not stop the slow command"
expect_eq "lines" "$(outcome first.ndjson lines)" "ok 2 0 "
expect_eq "json document" "$(outcome first.ndjson doc)" "ok 2 0 "
expect_eq "ndjson (one bad line skipped)" "$(outcome first.ndjson nd)" "ok 2 1 "
expect_eq "failing" "$(outcome first.ndjson failing)" \
  "error 0 0 source failing: the command failed (exit status 3): something broke"
case "$(outcome first.ndjson slow)" in
  "error 0 0 source slow: the command timed out after 300ms"*) ;;
  *) fail "slow: $(outcome first.ndjson slow)" ;;
esac
"$VIBE" events source:doc --json > doc.json
python3 - doc.json <<'PY' || fail "json records: $(cat doc.json)"
import json, sys
evs = {e["dedup_key"]: e for e in map(json.loads, open(sys.argv[1]))}
assert set(evs) == {"1", "2"}, evs
assert evs["1"]["type"] == "thing" and evs["1"]["occurred_at"] == "2026-05-01T00:00:00Z", evs["1"]
PY
expect_eq "failing: nothing stored" "$("$VIBE" stats source:failing --json | json_get total)" 0
"$VIBE" poll lines --json > again.json
expect_eq "same output again: duplicates" "$(json_get duplicate < again.json)" 2

# mode: stream. Each run prints a line, waits for the test's go-ahead, prints
# another and exits; serve starts it again.
cat > stream.yaml <<'YAML'
version: 1
data_dir: stream-data
serve: { http: "off" }
sources:
  live:
    type: command
    mode: stream
    every: 100ms
    command: 'n=$(cat runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > runs; echo "run $n first"; while [ ! -e go ]; do sleep 0.05; done; echo "run $n second"; if [ -e hold ]; then echo $$$$ > held.pid; echo "run $n held"; exec sleep 600; fi'
streams:
  watch: { sources: [live] }
YAML
export VIBE_CONFIG=stream.yaml
stored_lines() {
  "$VIBE" events source:live --json --limit 100 | python3 -c '
import json, sys
print(",".join(sorted(json.loads(l)["content"]["line"] for l in sys.stdin)))'
}
has() { case ",$(stored_lines)," in *",$1,"*) return 0;; *) return 1;; esac; }
start_serve
wait_until 20 has "run 1 first"
# The command is still running (blocked until "go"): the line came as printed.
has "run 1 second" && fail "the second line exists before it was printed"
touch go
wait_until 20 has "run 1 second"
# It exited; serve starts it again, and the new run's lines arrive too.
wait_until 30 has "run 2 second"
# Pausing the stream ends a command that would run on: serve stops it.
touch hold
held_line() { "$VIBE" events source:live --json --limit 100 > live.json; grep -q ' held"' live.json; }
wait_until 30 held_line
held=$(cat held.pid)
kill -0 "$held" 2>/dev/null || fail "the held command (pid $held) is not running"
"$VIBE" stream pause watch > /dev/null
gone() { ! kill -0 "$held" 2>/dev/null; }
wait_until 20 gone
stop_serve
expect_eq "serve exit" "$SERVE_STATUS" 0
grep -q "the command exited (exit status 0)" serve.log || fail "the exit was not reported: $(tail -5 serve.log)"
