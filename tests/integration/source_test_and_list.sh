# vibe source test fetches once and prints the requests, the events and what
# the next poll would start from, storing nothing, for a configured source
# or an inline one; a failing source exits 1. vibe source list shows every
# configured source with its kind and health.
. "$(dirname "$0")/lib.sh"
start_server api_server --fixtures "$FIXTURES/github"
cat > vibe.yaml <<YAML
version: 1
sources:
  api: { type: http_api, url: "$SERVER_URL/api/cursor", paginate: cursor, items: /data/items,
         cursor: /meta/next_cursor, id: /id, time: /updated_at }
  down: { type: http_api, url: "$SERVER_URL/api/status/500" }
  hook: { type: webhook }
YAML
"$VIBE" source test api --json > test.json || fail "source test failed: $(cat test.json)"
python3 - test.json <<'PY' || fail "source test output: $(cat test.json)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["outcome"] == "ok" and r["type"] == "http_api", r
assert [q["status"] for q in r["requests"]] == [200, 200, 200], r["requests"]
assert r["requests"][1]["url"].endswith("/api/cursor?cursor=c2"), r["requests"]
assert [e["dedup_key"] for e in r["events"]] == [f"item-{i}" for i in range(1, 8)], r["events"]
assert r["next"]["memo"] == {"cursor": "c3", "pages": 3} and r["next"]["etag"].startswith('W/"'), r["next"]
PY
expect_eq "nothing stored by source test" "$("$VIBE" stats source:api --json | json_get total)" 0

"$VIBE" source test --inline "{type: http_api, url: \"$SERVER_URL/api/single\", id: /id}" > inline.txt \
  || fail "inline test failed: $(cat inline.txt)"
grep -q "^source inline (http_api): ok" inline.txt || fail "inline header: $(cat inline.txt)"
grep -q "^1 event (not stored):" inline.txt || fail "inline events: $(cat inline.txt)"

status=0
"$VIBE" source test down > down.txt || status=$?
expect_eq "failing source test exit" "$status" 1
grep -q "error: source down: .*HTTP 500" down.txt || fail "failure not shown: $(cat down.txt)"

status=0
"$VIBE" source test --inline "{type: http_api, url: 42x}" 2> bad.txt || status=$?
expect_eq "bad inline exit" "$status" 2
grep -q -- "--inline:1:23: sources.inline.url: '42x' is not a URL" bad.txt || fail "bad inline source: $(cat bad.txt)"

"$VIBE" poll api > /dev/null
"$VIBE" poll down > /dev/null || true
"$VIBE" source list --json > list.ndjson
python3 - list.ndjson <<'PY' || fail "source list: $(cat list.ndjson)"
import json, sys
rows = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
assert rows["api"]["type"] == "http_api" and rows["api"]["health"] == "ok", rows["api"]
assert rows["down"]["health"] == "failing" and "HTTP 500" in rows["down"]["last_error"], rows["down"]
assert rows["hook"]["health"] == "pushed", rows["hook"]
PY
"$VIBE" source list > list.txt
grep -qE "^down +http_api +failing" list.txt || fail "source list text: $(cat list.txt)"
