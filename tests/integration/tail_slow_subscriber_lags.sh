# A tail subscriber that stops reading is told how many events it missed
# ({"lagged": N}) while a fast subscriber on the same topic receives every
# event, and ingest is not slowed: it finishes while the slow one is stuck.
# With a tiny buffer.max_pending, concurrent ingests are refused by the
# writer (counted in vibe status), retry, and everything is stored once.
# The producers are paced (2,000 lines a second each) so that the fast
# subscriber can keep up even in a sanitizer build; a batch waits up to
# 200 ms for more (max_delay), so chunks that come together overlap in the
# writer and the later ones are refused.
. "$(dirname "$0")/lib.sh"
N=30000
cat > vibe.yaml <<'YAML'
version: 1
buffer: { max_events: 5000, max_delay: 200ms, max_pending: 800 }
streams:
  builds: { title: "Builds" }
YAML
cat > pace.py <<'PY'
import sys, time
rate, start = int(sys.argv[2]), time.monotonic()
for i, line in enumerate(open(sys.argv[1])):
    sys.stdout.write(line)
    if i % 500 == 499:
        sys.stdout.flush()
        ahead = (i + 1) / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)  # pacing the producer, not waiting for a result
PY
python3 - "$N" > in.ndjson <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print('{"id":"e%06d","log":"%s"}' % (i, "y" * 400))
PY

# slow_reader OUT N: reads one line, then nothing until the file "go" exists
# (the pipe and serve's socket fill up meanwhile), then reads until the
# events it got plus the lagged counts make N.
cat > slow_reader.py <<'PY'
import json, os, sys, time
out, n = sys.argv[1], int(sys.argv[2])
first = sys.stdin.readline()
deadline = time.time() + 120
while not os.path.exists("go") and time.time() < deadline:
    time.sleep(0.05)  # poll for the go file
events, lagged = 1, 0
with open(out, "w") as f:
    f.write(first)
    while events + lagged < n and time.time() < deadline:
        line = sys.stdin.readline()
        if not line:
            break
        f.write(line)
        msg = json.loads(line)
        if "lagged" in msg:
            lagged += msg["lagged"]
        else:
            events += 1
PY

start_serve
"$VIBE" tail stream:builds --json | python3 slow_reader.py slow.ndjson "$N" &
slow_pid=$!
"$VIBE" tail stream:builds --json --limit "$N" > fast.ndjson &
fast_pid=$!
two_sessions() { [ "$("$VIBE" status --json | json_get tail_sessions)" = 2 ]; }
wait_until 10 two_sessions

# Three ingests at once against max_pending 800: the writer refuses some
# chunks; ingest waits and retries.
split -n l/3 in.ndjson part.
pids=()
for p in part.aa part.ab part.ac; do
  python3 pace.py "$p" 2000 | "$VIBE" ingest stream:builds --json > "$p.json" &
  pids+=($!)
done
ingests_done() { for pid in "${pids[@]}"; do ! kill -0 "$pid" 2>/dev/null || return 1; done; }
wait_until 60 ingests_done
for pid in "${pids[@]}"; do
  wait "$pid" || fail "an ingest failed"
done
total=0
for p in part.aa part.ab part.ac; do
  total=$((total + $(json_get accepted < "$p.json")))
done
expect_eq "accepted" "$total" "$N"
expect_eq "stored" "$("$VIBE" stats stream:builds --json | json_get total)" "$N"
rejected=$("$VIBE" status --json | json_get writer.rejected)
[ "$rejected" -gt 0 ] || fail "the writer refused nothing with max_pending 800"

# The fast subscriber got everything, once each.
fast_done() { ! kill -0 "$fast_pid" 2>/dev/null; }
wait_until 30 fast_done
wait "$fast_pid" || fail "fast tail exited $?"
python3 - fast.ndjson "$N" <<'PY' || fail "fast subscriber"
import json, sys
keys = [json.loads(l)["dedup_key"] for l in open(sys.argv[1])]
assert len(keys) == int(sys.argv[2]) and len(set(keys)) == len(keys), len(keys)
PY
# Ingest finished while the slow one was stuck: serve dropped events for it.
[ "$("$VIBE" status --json | json_get bus.lagged)" -gt 0 ] || fail "nothing dropped for the stuck subscriber"

touch go
slow_done() { ! kill -0 "$slow_pid" 2>/dev/null || python3 - slow.ndjson "$N" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if sum(m.get("lagged", 0) for m in got) + sum(1 for m in got if "lagged" not in m) >= int(sys.argv[2]) else 1)
PY
}
wait_until 60 slow_done
python3 - slow.ndjson "$N" <<'PY' || fail "slow subscriber: $(grep -c . slow.ndjson) lines"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
lagged = [m["lagged"] for m in got if "lagged" in m]
ids = [m["id"] for m in got if "lagged" not in m]
assert lagged and all(n > 0 for n in lagged), "no lagged notice"
assert len(ids) + sum(lagged) == int(sys.argv[2]), (len(ids), sum(lagged))
assert ids == sorted(ids), "out of order"
PY
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
