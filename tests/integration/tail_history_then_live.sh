# vibe tail: --since streams the stored history, then live events as serve
# commits them, in id order with no gap and no duplicate against the store;
# --limit ends it; --timeout exits 124; --follow survives a serve restart and
# resumes after the last event seen; without serve, --since prints the
# history and says serve is not running.
. "$(dirname "$0")/lib.sh"
mkdir feeds
cp "$FIXTURES/feeds/samples/rss2_news.xml" feeds/a.xml   # 20 items
start_server feed_server --root "$T/feeds"
cat > vibe.yaml <<YAML
version: 1
sources:
  a: { type: rss, url: "$SERVER_URL/a.xml", every: 1s }
  b: { type: rss, url: "$SERVER_URL/b.xml", every: 1s }
streams:
  wall: { sources: [a, b] }
YAML

stored() { "$VIBE" stats stream:wall --json | json_get total; }
has_stored() { [ "$(stored)" = "$1" ]; }
lines_in() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }
# ids_match FILE: the events' ids increase strictly and are exactly the store's.
ids_match() {
  "$VIBE" events stream:wall --json -n 1000 > store.ndjson
  python3 - "$1" store.ndjson <<'PY'
import json, sys
got = [json.loads(l)["id"] for l in open(sys.argv[1])]
store = sorted(json.loads(l)["id"] for l in open(sys.argv[2]))
assert all(a < b for a, b in zip(got, got[1:])), ("not increasing", got)
assert got == store, (got, store)
PY
}

start_serve
wait_until 10 has_stored 20
"$VIBE" tail stream:wall --since 1h --json --limit 26 > seam.ndjson &
tail_pid=$!
wait_until 10 lines_in seam.ndjson 20            # the history
cp "$FIXTURES/feeds/samples/atom_blog.xml" feeds/b.xml   # 6 more, live
wait "$tail_pid" || fail "tail --limit exited $?"
expect_eq "events tailed" "$(wc -l < seam.ndjson)" 26
ids_match seam.ndjson || fail "tail and store disagree"

# Nothing more comes: --timeout exits 124.
status=0
"$VIBE" tail source:b --timeout 300ms > quiet.out || status=$?
expect_eq "exit after --timeout" "$status" 124
"$VIBE" tail stream:wall --from-id 24 --limit 2 --template '{source_id}:{id}' > templ.out
expect_eq "template, from id" "$(tr '\n' ' ' < templ.out)" "b:25 b:26 "

# --follow: serve restarts between the history and the next live events.
cp "$FIXTURES/feeds/samples/rss2_news.xml" feeds/c.xml
"$VIBE" tail stream:wall --from-id 0 --follow --json --limit 46 > follow.ndjson 2> follow.err &
tail_pid=$!
wait_until 10 lines_in follow.ndjson 26
stop_serve
cat >> vibe.yaml <<YAML
  more: { sources: [c] }
YAML
sed -i "s|^streams:|  c: { type: rss, url: \"$SERVER_URL/c.xml\", every: 1s }\nstreams:|" vibe.yaml
sed -i 's|  wall: { sources: \[a, b\] }|  wall: { sources: [a, b, c] }|' vibe.yaml
start_serve
wait "$tail_pid" || fail "tail --follow exited $?: $(cat follow.err)"
expect_eq "events across the restart" "$(wc -l < follow.ndjson)" 46
ids_match follow.ndjson || fail "tail --follow and store disagree"

# Without serve: history, and a note that serve is not running.
stop_serve
"$VIBE" tail stream:wall --since 1h --json > offline.ndjson 2> offline.err || fail "offline tail failed"
expect_eq "offline history" "$(wc -l < offline.ndjson)" 46
grep -q "vibe serve is not running" offline.err || fail "offline note: $(cat offline.err)"
status=0
"$VIBE" tail stream:wall > /dev/null 2> live-only.err || status=$?
expect_eq "live tail without serve" "$status" 1
