# vibe ingest pipelines chunks to serve; when serve's writer is full it
# refuses a chunk and the ones sent behind it, and ingest sends them again.
# With buffer.max_pending below two chunks, refusals are certain: every line
# must still be stored once, in input order (ids rise with the line number),
# and a bad line is reported with its number. A line over 8 MiB is rejected
# in its place without stopping the rest.
. "$(dirname "$0")/lib.sh"
N=20000
cat > vibe.yaml <<'YAML'
version: 1
buffer: { max_events: 1000, max_delay: 20ms, max_pending: 1000 }
streams:
  builds: { title: "Builds" }
YAML
python3 - "$N" > in.ndjson <<'PY'
import sys
n = int(sys.argv[1])
for i in range(1, n + 1):
    if i == 12345:
        print("{broken")
    else:
        print('{"id":"e%06d","seq":%d,"note":"%s"}' % (i, i, "x" * 100))
PY

start_serve
status=0
"$VIBE" ingest stream:builds --json < in.ndjson > out.json 2> err.txt || status=$?
expect_eq "exit (one bad line)" "$status" 1
expect_eq "accepted" "$(json_get accepted < out.json)" $((N - 1))
expect_eq "rejected" "$(json_get rejected < out.json)" 1
expect_eq "through serve" "$(json_get through_serve < out.json)" True
expect_eq "fell back" "$(json_get fell_back_to_store < out.json)" False
grep -q "^vibe ingest: line 12345: not valid JSON: " err.txt || fail "bad line report: $(cat err.txt)"
refused=$("$VIBE" status --json | json_get writer.rejected)
[ "$refused" -ge 1 ] || fail "serve's writer refused no chunk (rejected=$refused): backpressure not exercised"
python3 - .vibe/vibe.db "$N" <<'PY' || fail "events not stored once each in input order"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
seqs = [json.loads(c)["seq"] for (c,) in db.execute("select content from events where stream_id = 'builds' order by id")]
n = int(sys.argv[2])
assert seqs == [i for i in range(1, n + 1) if i != 12345], (len(seqs), seqs[:3])
PY

# A line over 8 MiB between two good ones: rejected by number, the others kept.
python3 -c 'import sys; sys.stdout.write("{\"id\":\"big1\"}\n{\"pad\":\"" + "y" * (9 << 20) + "\"}\n{\"id\":\"big2\"}")' > big.ndjson
status=0
"$VIBE" ingest stream:builds < big.ndjson > big.txt 2> big.err || status=$?
expect_eq "exit (long line)" "$status" 1
expect_eq "long line summary" "$(cat big.txt)" "stream:builds: 2 accepted, 0 duplicate, 1 rejected"
expect_eq "long line report" "$(cat big.err)" "vibe ingest: line 2: line longer than 8 MiB; skipped"
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
