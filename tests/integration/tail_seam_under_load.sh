# Gap-free seam: `vibe tail --since` starts while ingest is committing
# events; the history and the live part join without a gap or a duplicate:
# the ids it prints are exactly the store's, strictly increasing.
. "$(dirname "$0")/lib.sh"
N=20000
cat > vibe.yaml <<'YAML'
version: 1
streams:
  builds: { title: "Builds" }
YAML
python3 -c "
for i in range($N): print('{\"id\":\"e%06d\",\"n\":%d}' % (i, i))" > in.ndjson
stored() { "$VIBE" stats stream:builds --json | json_get total; }
some_stored() { [ "$(stored)" -ge 2000 ]; }

start_serve
"$VIBE" ingest stream:builds < in.ndjson > ingest.out &
ingest_pid=$!
wait_until 20 some_stored
"$VIBE" tail stream:builds --since 1h --json --limit "$N" --timeout 30s > tail.ndjson &
tail_pid=$!
wait "$ingest_pid" || fail "ingest failed"
wait "$tail_pid" || fail "tail exited $?"
sqlite3_ids() {
  python3 -c 'import sqlite3; print("\n".join(str(r[0]) for r in sqlite3.connect(".vibe/vibe.db").execute("select id from events order by id")))'
}
sqlite3_ids > store.ids
python3 -c 'import json,sys; print("\n".join(str(json.loads(l)["id"]) for l in open("tail.ndjson")))' > tail.ids
expect_eq "events tailed" "$(wc -l < tail.ids)" "$N"
cmp -s store.ids tail.ids || fail "tail ids differ from the store's: $(diff store.ids tail.ids | head -5)"
grep -q '"lagged"' tail.ndjson && fail "the tail lagged; the test needs it to keep up"
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
