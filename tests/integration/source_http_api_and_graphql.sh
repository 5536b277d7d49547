# http_api and graphql sources against a fixture API: the three pagination
# styles, the page bound, conditional requests, each auth style, a POSTed
# JSON body with query parameters, Cache-Control as a floor for the next
# poll, a spent rate limit deferring the poll, a proxy from the environment,
# GraphQL variables, auth, cursor pages and errors, and malformed bodies
# failing the poll with nothing stored.
. "$(dirname "$0")/lib.sh"
start_server api_server --fixtures "$FIXTURES/github"
export API_TOKEN=tok-abc API_KEY=key-xyz API_PASSWORD=pw-123
cat > vibe.yaml <<YAML
version: 1
sources:
  link:   { type: http_api, url: "$SERVER_URL/api/link", paginate: link, id: /id, time: /updated_at,
            auth: bearer, token: "\${API_TOKEN}" }
  field:  { type: http_api, url: "$SERVER_URL/api/next_field", paginate: next_field, items: /data/items,
            id: /id, auth: api_key, api_key_header: X-Key, api_key: "\${API_KEY}" }
  cursor: { type: http_api, url: "$SERVER_URL/api/cursor", paginate: cursor, items: /data/items,
            cursor: /meta/next_cursor, id: /id, auth: basic, username: ann, password: "\${API_PASSWORD}" }
  capped: { type: http_api, url: "$SERVER_URL/api/link", paginate: link, id: /id, max_pages: 2 }
  onepage: { type: http_api, url: "$SERVER_URL/api/link?page=1", id: /id }
  single: { type: http_api, url: "$SERVER_URL/api/single", method: POST, query: { state: open, q: "a b" },
            body: { filter: { since: 5 }, tags: [x, "y"] }, headers: { X-Trace: t1 }, time: /at,
            event_type: status }
  cached: { type: http_api, url: "$SERVER_URL/api/cached", id: /id }
  broken: { type: http_api, url: "$SERVER_URL/api/malformed" }
  gql:
    type: graphql
    url: "$SERVER_URL/graphql"
    query: 'query(\$owner: String!) { repository(owner: \$owner) { issues { nodes { id } } } }'
    variables: { owner: acme, first: 2 }
    items: /repository/issues/nodes
    id: /id
    time: /updatedAt
  gql_bad:
    type: graphql
    url: "$SERVER_URL/graphql"
    query: '{ repository { boom } }'
    items: /repository/issues/nodes
  gql_paged:
    type: graphql
    url: "$SERVER_URL/graphql"
    query: 'query(\$after: String) { paged: repository { issues(after: \$after) { nodes { id } pageInfo { hasNextPage endCursor } } } }'
    items: /repository/issues/nodes
    id: /id
    cursor: /repository/issues/pageInfo/endCursor
    has_next: /repository/issues/pageInfo/hasNextPage
    auth: bearer
    token: "\${API_TOKEN}"
  gql_broken:
    type: graphql
    url: "$SERVER_URL/graphql"
    query: '{ malformed }'
    items: /repository/issues/nodes
  limited: { type: http_api, url: "$SERVER_URL/api/status/403?reset=$(( $(date +%s) + 3600 ))" }
YAML
requests() {
  python3 -c '
import json, sys, urllib.request
for r in json.load(urllib.request.urlopen(sys.argv[1] + "/__requests?path=" + sys.argv[2], timeout=10)):
    print(json.dumps(r))' "$SERVER_URL" "$1"
}
stored() { "$VIBE" stats "source:$1" --json | json_get total; }

status=0
"$VIBE" poll --json > first.ndjson || status=$?
expect_eq "first poll exit (three sources are broken)" "$status" 1
outcome() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["source"] == sys.argv[2]:
        print(r["outcome"], r.get("error", ""))' "$1" "$2"; }
for s in link field cursor capped onepage single cached gql gql_paged; do
  case "$(outcome first.ndjson $s)" in ok*) ;; *) fail "$s: $(outcome first.ndjson $s)";; esac
done
expect_eq "link pages: all 7 items" "$(stored link)" 7
expect_eq "next_field pages: all 7 items" "$(stored field)" 7
expect_eq "cursor pages: all 7 items" "$(stored cursor)" 7
expect_eq "max_pages 2: 6 items" "$(stored capped)" 6
expect_eq "single document: one record" "$(stored single)" 1
expect_eq "graphql records" "$(stored gql)" 2
expect_eq "graphql pages: all 5 records" "$(stored gql_paged)" 5

# Auth as configured, on every page.
requests /api/link > link.json
python3 - link.json <<'PY' || fail "link auth: $(cat link.json)"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
bearer = [r for r in rs if r["headers"].get("authorization") == "Bearer tok-abc"]
assert len(bearer) == 3, rs  # the 3 pages of `link`; `capped` sends no auth
PY
requests /api/next_field > field.json
python3 - field.json <<'PY' || fail "api_key auth: $(cat field.json)"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert len(rs) == 3 and all(r["headers"].get("x-key") == "key-xyz" for r in rs), rs
PY
requests /api/cursor > cursor.json
python3 - cursor.json <<'PY' || fail "basic auth / cursors: $(cat cursor.json)"
import base64, json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
want = "Basic " + base64.b64encode(b"ann:pw-123").decode()
assert [r["query"] for r in rs] == ["", "cursor=c2", "cursor=c3"], rs
assert all(r["headers"].get("authorization") == want for r in rs), rs
PY
requests /api/single > single.json
python3 - single.json <<'PY' || fail "POST with body and query: $(cat single.json)"
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["method"] == "POST", r
assert r["query"] == "q=a%20b&state=open", r["query"]  # names in sorted order
assert r["json"] == {"filter": {"since": 5}, "tags": ["x", "y"]}, r["json"]
assert r["headers"]["content-type"] == "application/json" and r["headers"]["x-trace"] == "t1", r["headers"]
PY
"$VIBE" events source:single --json > single-event.json
expect_eq "single: type" "$(json_get type < single-event.json)" status
expect_eq "single: time from /at" "$(json_get occurred_at < single-event.json)" "2026-03-01T12:00:00Z"
requests /graphql > gql.json
python3 - gql.json <<'PY' || fail "graphql variables: $(cat gql.json)"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in rs if "owner" in r["json"]["query"]]
assert ok[0]["json"]["variables"] == {"owner": "acme", "first": 2}, ok[0]["json"]
paged = [r for r in rs if "paged" in r["json"]["query"]]
assert [r["json"]["variables"] for r in paged] == [{}, {"after": "c1"}, {"after": "c2"}], paged
assert all(r["headers"].get("authorization") == "Bearer tok-abc" for r in paged), paged
PY

# Errors: nothing stored, the reason given.
grep -q "the response is not JSON" <<<"$(outcome first.ndjson broken)" || fail "broken: $(outcome first.ndjson broken)"
expect_eq "broken: stored" "$(stored broken)" 0
grep -q 'GraphQL errors: Cannot query field "boom" on type "Repository". (line 1, column 30)' \
  <<<"$(outcome first.ndjson gql_bad)" || fail "gql_bad: $(outcome first.ndjson gql_bad)"
expect_eq "gql_bad: stored" "$(stored gql_bad)" 0
grep -q "the response is not JSON" <<<"$(outcome first.ndjson gql_broken)" || fail "gql_broken: $(outcome first.ndjson gql_broken)"
expect_eq "gql_broken: stored" "$(stored gql_broken)" 0

# A spent rate limit (403, X-RateLimit-Remaining: 0): deferred, no failure,
# and no request until the reset.
case "$(outcome first.ndjson limited)" in
  "deferred source limited: "*"rate limited (HTTP 403); next poll after "*) ;;
  *) fail "limited: $(outcome first.ndjson limited)" ;;
esac
limited_before=$(requests /api/status | wc -l)
"$VIBE" poll limited --json > limited.json || fail "deferred poll exit"
expect_eq "limited: still deferred" "$(json_get outcome < limited.json)" deferred
expect_eq "limited: no request" "$(requests /api/status | wc -l)" "$limited_before"

# Second poll: a one-page answer is asked conditionally (304, nothing new);
# a collection of several pages is read again, since new records may come
# on a later page (appended to the end) while page 1 stays the same.
curl -sf -X POST -d '{"add_item": {"id": "item-8", "title": "Item 8", "updated_at": "2026-01-08T00:00:00Z"}}' \
  "$SERVER_URL/__api" > /dev/null
curl -sf -X POST "$SERVER_URL/__reset" > /dev/null
"$VIBE" poll onepage link cursor cached --json > second.ndjson || fail "second poll: $(cat second.ndjson)"
expect_eq "one page: not modified" "$(outcome second.ndjson onepage)" "not-modified "
requests /api/link > link2.json
python3 - link2.json <<'PY' || fail "second poll of /api/link: $(cat link2.json)"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
one = [r for r in rs if r["query"] == "page=1" and "if-none-match" in r["headers"]]
assert len(one) >= 1 and one[0]["status"] == 304, rs  # onepage: conditional, 304
paged = [r for r in rs if r["query"] == "" ]
assert len(paged) == 1 and "if-none-match" not in paged[0]["headers"], rs  # link page 1: unconditional
PY
expect_eq "link: read again" "$(outcome second.ndjson link)" "ok "
new_link=$(python3 -c '
import json, sys
print(next(json.loads(l)["new"] for l in open(sys.argv[1]) if json.loads(l)["source"] == "link"))' second.ndjson)
expect_eq "link: the appended record found" "$new_link" 1
expect_eq "cached: within max-age" "$(outcome second.ndjson cached | cut -d' ' -f1)" deferred
expect_eq "cached: no request" "$(requests /api/cached | wc -l)" 0

# A proxy from the environment (http_proxy): the request goes through it.
cat > proxy.yaml <<YAML
version: 1
data_dir: proxy-data
sources:
  via: { type: http_api, url: "http://api.example.invalid:8080/api/single" }
YAML
http_proxy=$SERVER_URL no_proxy= NO_PROXY= "$VIBE" -c proxy.yaml poll --json > proxy.json || fail "proxied poll: $(cat proxy.json)"
requests /api/single > proxied.json
python3 - proxied.json <<'PY' || fail "not proxied: $(cat proxied.json)"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert any(r.get("proxied") and r.get("host") == "api.example.invalid:8080" for r in rs), rs
PY
! grep -rq "tok-abc\|key-xyz\|pw-123" .vibe || fail "a secret reached the data dir"
