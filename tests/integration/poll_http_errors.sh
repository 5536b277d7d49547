# HTTP errors fail the source with a clear message; a 429 with Retry-After
# defers the next poll until then, without contacting the server.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
cat > vibe.yaml <<YAML
sources:
  missing: { type: rss, url: "$SERVER_URL/nope.xml" }
  limited: { type: rss, url: "$SERVER_URL/__status/429?retry_after=120" }
YAML
status=0
"$VIBE" poll > out.txt || status=$?
expect_eq "exit status" "$status" 1
grep -q "missing .*HTTP 404 Not Found" out.txt || fail "404 not reported: $(cat out.txt)"
grep -q "limited .*HTTP 429 Too Many Requests (retry after 120s)" out.txt || fail "429 not reported: $(cat out.txt)"

status=0
"$VIBE" poll limited --json > again.ndjson || status=$?
expect_eq "deferred exit status" "$status" 0
expect_eq "outcome" "$(json_get outcome < again.ndjson)" deferred
expect_eq "429 hits" "$(hits /__status/429 429)" 1

status=0
"$VIBE" poll nosuch 2> err.txt || status=$?
expect_eq "unknown source exit" "$status" 2
grep -q "no source named 'nosuch'" err.txt || fail "unknown source message: $(cat err.txt)"
