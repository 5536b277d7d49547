# vibe replay prints a stream's events oldest first, spaced as they occurred
# divided by --speed: events 0 s, 1 s and 3 s apart come out about 0.1 s and
# 0.2 s apart at --speed 10; --speed max does not wait; --from/--to select;
# a bad --speed is a usage error.
. "$(dirname "$0")/lib.sh"
cat > vibe.yaml <<'YAML'
version: 1
streams:
  talk: { title: "A talk" }
YAML
# Stored out of order on purpose: replay orders by the time they occurred.
cat > in.ndjson <<'EOF2'
{"id": "c", "type": "chat", "occurred_at": "2026-11-22T10:00:03Z", "text": "third"}
{"id": "a", "type": "chat", "occurred_at": "2026-11-22T10:00:00Z", "text": "first"}
{"id": "b", "type": "chat", "occurred_at": "2026-11-22T10:00:01Z", "text": "second"}
EOF2
"$VIBE" ingest stream:talk < in.ndjson > /dev/null || fail "ingest failed"

# Timestamps each output line as it arrives.
timed() {
  python3 -c '
import json, subprocess, sys, time
start = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)
for line in p.stdout:
    e = json.loads(line)
    print(json.dumps({"key": e["dedup_key"], "t": time.monotonic() - start}))
sys.exit(p.wait())' "$@"
}
timed "$VIBE" replay stream:talk --speed 10 --json > fast.ndjson || fail "replay failed"
python3 - fast.ndjson <<'PY' || fail "timing at --speed 10: $(cat fast.ndjson)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["key"] for r in rows] == ["a", "b", "c"], rows
gap1 = rows[1]["t"] - rows[0]["t"]
gap2 = rows[2]["t"] - rows[1]["t"]
# 1 s and 2 s at ten times the speed; a loaded machine may add a little.
assert 0.08 <= gap1 <= 0.25, ("first gap", gap1)
assert 0.18 <= gap2 <= 0.35, ("second gap", gap2)
assert 0.28 <= rows[2]["t"] - rows[0]["t"] <= 0.5, ("span", rows[2]["t"] - rows[0]["t"])
PY

timed "$VIBE" replay stream:talk --speed max --json > max.ndjson || fail "replay max failed"
python3 - max.ndjson <<'PY' || fail "--speed max waited: $(cat max.ndjson)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["key"] for r in rows] == ["a", "b", "c"], rows
assert rows[2]["t"] - rows[0]["t"] < 0.1, rows
PY

"$VIBE" replay stream:talk --speed max --from 2026-11-22T10:00:01Z --to 2026-11-22T10:00:03Z --json > window.ndjson
expect_eq "--from/--to" "$(json_get dedup_key < window.ndjson)" b
expect_eq "--from/--to count" "$(wc -l < window.ndjson)" 1
"$VIBE" replay stream:talk --speed max > text.txt
grep -c chat text.txt > /dev/null || fail "text output: $(cat text.txt)"
status=0
"$VIBE" replay stream:talk --speed fast 2> bad.txt || status=$?
expect_eq "bad speed exit" "$status" 2
grep -q "not a positive number or max" bad.txt || fail "bad speed message: $(cat bad.txt)"
