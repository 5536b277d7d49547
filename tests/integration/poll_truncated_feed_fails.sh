# A truncated feed is an error naming the source, the URL and the line; it
# stores nothing, exits 1, and does not stop the other sources.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
cat > vibe.yaml <<YAML
sources:
  broken: { type: rss, url: "$SERVER_URL/rss2_truncated.xml" }
  fine: { type: rss, url: "$SERVER_URL/rss2_utf8_bom.xml" }
YAML
status=0
"$VIBE" poll > out.txt 2> err.txt || status=$?
expect_eq "exit status" "$status" 1
grep -q "broken .*error" out.txt || fail "no error line for broken: $(cat out.txt)"
grep -q "$SERVER_URL/rss2_truncated.xml" out.txt || fail "URL not named: $(cat out.txt)"
grep -q "line 26" out.txt || fail "line not named: $(cat out.txt)"
grep -q "fine .*ok .*new=3" out.txt || fail "the good source was not stored: $(cat out.txt)"
expect_eq "broken stored" "$("$VIBE" stats source:broken --json | json_get total)" 0
expect_eq "fine stored" "$("$VIBE" stats source:fine --json | json_get total)" 3
