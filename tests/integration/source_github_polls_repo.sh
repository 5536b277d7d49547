# The github source against a fixture GitHub API: every watched endpoint,
# Link pagination, conditional requests (304), the token as a Bearer header,
# an edited issue as a new event, a spent rate limit deferring the next poll
# past its reset without an error storm, and a malformed body failing the
# poll with nothing stored.
. "$(dirname "$0")/lib.sh"
start_server api_server --fixtures "$FIXTURES/github"
export GH_TOKEN=test-token-123
cat > vibe.yaml <<YAML
version: 1
sources:
  gh:
    type: github
    repo: acme/widgets
    watch: [issues, pulls, releases, commits]
    token: "\${GH_TOKEN}"
    base_url: "$SERVER_URL"
    every: 1s
serve: { http: "off" }
streams:
  repo: { sources: [gh] }
YAML
requests() {  # requests PATH-PREFIX: the recorded requests as JSON lines
  python3 -c '
import json, sys, urllib.request
for r in json.load(urllib.request.urlopen(sys.argv[1] + "/__requests?path=" + sys.argv[2], timeout=10)):
    print(json.dumps(r))' "$SERVER_URL" "$1"
}
count_types() {
  "$VIBE" events source:gh --json | python3 -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["type"] for l in sys.stdin)
print(" ".join(f"{k}={c[k]}" for k in sorted(c)))'
}

"$VIBE" poll gh --json > first.json || fail "first poll failed: $(cat first.json)"
expect_eq "first poll outcome" "$(json_get outcome < first.json)" ok
# 8 + 5 issues on two pages, 5 of them pull requests (followed by /pulls),
# 6 releases, 7 commits.
expect_eq "events by type" "$(count_types)" "github_commit=7 github_issue=8 github_pull=5 github_release=6"
requests /repositories/1/issues > page2.json
grep -q '"page=2"' page2.json || fail "page 2 of issues was not fetched: $(requests /)"
# Every request carried the token as a Bearer header and asked for JSON.
auth=$(requests / | python3 -c '
import json, sys
print(sorted({json.loads(l)["headers"].get("authorization", "-") for l in sys.stdin}))')
expect_eq "authorization headers" "$auth" "['Bearer test-token-123']"
! grep -rq "test-token-123" .vibe || fail "the token reached the data dir"

# Second poll: the unchanged endpoints answer 304 to the stored ETags.
curl -sf -X POST "$SERVER_URL/__reset" > /dev/null
"$VIBE" poll gh --json > second.json || fail "second poll failed: $(cat second.json)"
for path in /repos/acme/widgets/releases /repos/acme/widgets/commits /repos/acme/widgets/pulls; do
  got=$(requests "$path" | json_get status)
  expect_eq "$path on the second poll" "$got" 304
  requests "$path" > conditional.json
  grep -q '"if-none-match": "W/' conditional.json || fail "$path was not conditional: $(cat conditional.json)"
done
requests /repos/acme/widgets/issues > since.json
grep -q 'since=20' since.json || fail "issues were not asked since the last update: $(cat since.json)"
expect_eq "second poll new events" "$(json_get new < second.json)" 0

# An edited issue is a new event (its key has updated_at); the old one stays.
curl -sf -X POST -d '{"edit_issue": 411, "updated_at": "2030-01-01T00:00:00Z", "title": "Edited title"}' \
  "$SERVER_URL/__github" > /dev/null || fail "could not edit the fixture issue"
"$VIBE" poll gh --json > third.json || fail "third poll failed"
expect_eq "edited issue: new events" "$(json_get new < third.json)" 1
"$VIBE" events source:gh --json > events.json
grep -q '"title":"Edited title"' events.json || fail "the edited issue is not stored"

# A spent rate limit: 403 with X-RateLimit-Remaining 0 defers the poll until
# the reset, which is no failure, and the next poll sends nothing.
reset=$(( $(date +%s) + 3600 ))
curl -sf -X POST -d "{\"rate_limited_until\": $reset}" "$SERVER_URL/__github" > /dev/null
curl -sf -X POST "$SERVER_URL/__reset" > /dev/null
status=0
"$VIBE" poll gh --json > limited.json || status=$?
expect_eq "rate-limited poll exit" "$status" 0
expect_eq "rate-limited outcome" "$(json_get outcome < limited.json)" deferred
want_reset=$(python3 -c 'import datetime, sys; print(datetime.datetime.fromtimestamp(int(sys.argv[1]), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$reset")
grep -q "$want_reset" limited.json || fail "the deferral does not name the reset time $want_reset: $(cat limited.json)"
sent=$(requests / | wc -l)
for i in 1 2 3; do "$VIBE" poll gh --json > again.json || fail "deferred poll $i failed"; done
expect_eq "deferred outcome" "$(json_get outcome < again.json)" deferred
expect_eq "requests after the limit" "$(requests / | wc -l)" "$sent"
"$VIBE" source list --json > list.json
expect_eq "failures after the rate limit" "$(json_get consecutive_failures < list.json)" 0
# Under serve (polling every second) the next poll is scheduled after the
# reset, and no request is sent meanwhile.
start_serve
next_poll_after_reset() {
  local next
  next=$(source_field repo gh next_poll_at)
  [ "$next" != None ] && [ "$(python3 -c 'import datetime, sys; print(int(datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).timestamp()))' "$next")" -ge "$reset" ]
}
wait_until 20 next_poll_after_reset
expect_eq "health while rate limited" "$(source_field repo gh health)" ok
expect_eq "requests under serve" "$(requests / | wc -l)" "$sent"
stop_serve
expect_eq "serve exit" "$SERVE_STATUS" 0

# A malformed body fails the poll with a clear error and stores nothing.
curl -sf -X POST -d '{"rate_limited_until": 0, "malformed": true, "reset_fixtures": true}' "$SERVER_URL/__github" > /dev/null
python3 - <<'PY'
import sqlite3
db = sqlite3.connect(".vibe/vibe.db")
db.execute("UPDATE poll_state SET retry_not_before = 0, memo = '', etag = ''")
db.commit()
PY
before=$("$VIBE" stats source:gh --json | json_get total)
status=0
"$VIBE" poll gh > bad.txt || status=$?
expect_eq "malformed poll exit" "$status" 1
grep -q "gh .*error .*the response is not JSON" bad.txt || fail "malformed body not reported: $(cat bad.txt)"
expect_eq "events after the malformed poll" "$("$VIBE" stats source:gh --json | json_get total)" "$before"
